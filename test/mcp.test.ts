// mcp kind end to end: the built CLI against real MCP servers from npm and small fault servers, with
// every agent's config under a temp HOME (HOME, XDG_CONFIG_HOME, CODEX_HOME set; nothing real touched).
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { LoadContext } from '../src/core/kind.js';
import { pmovesHome } from '../src/core/home.js';
import { catalogResources } from '../src/providers/mcp/catalog.js';
import { editJsonEntry } from '../src/providers/mcp/json-edit.js';
import { editTomlEntry } from '../src/providers/mcp/toml-edit.js';
import { mcpKind } from '../src/reconcilers/mcp/index.js';
import { dockerToolkitCheck } from '../src/commands/mcp.js';
import { cli, fixtures, repoRoot, tempDir } from './helpers.js';

const node = process.execPath;
const pkgs = path.join(repoRoot, 'node_modules', '@modelcontextprotocol');
const everything = path.join(pkgs, 'server-everything', 'dist', 'index.js');
const memory = path.join(pkgs, 'server-memory', 'dist', 'index.js');
const faults = path.join(repoRoot, 'test', 'fixtures', 'mcp', 'servers');
const configs = path.join(repoRoot, 'test', 'fixtures', 'mcp', 'configs');
const SECRET = 'super-secret-token-value-42';

interface Box {
  dir: string;
  home: string;
  pm: string;
  env: Record<string, string | undefined>;
  manifest: string;
  write(yaml: string): void;
  run(args: string[], extra?: Record<string, string>): ReturnType<typeof cli>;
  cleanup(): void;
}

function box(): Box {
  const t = tempDir('pmoves-mcp-');
  const home = path.join(t.dir, 'home');
  mkdirSync(home, { recursive: true });
  const pm = path.join(t.dir, 'pmoves-home');
  const env = {
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    CODEX_HOME: path.join(home, '.codex'),
    CRUSH_GLOBAL_CONFIG: undefined,
    APPDATA: undefined,
    MCP_DOCKER_TOKEN: SECRET,
  };
  const manifest = path.join(t.dir, 'pmoves.mini.yaml');
  return {
    dir: t.dir,
    home,
    pm,
    env,
    manifest,
    write: (yaml) => writeFileSync(manifest, `apiVersion: pmoves.ai/mini/v1\n${yaml}`),
    run: (args, extra = {}) => cli(['mini', ...args, '-m', manifest], { home: pm, cwd: t.dir, env: { ...env, ...extra } }),
    cleanup: t.cleanup,
  };
}

function put(file: string, text: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return text;
}

const out = (r: { stdout?: unknown; stderr?: unknown }) => `${String(r.stdout)}\n${String(r.stderr)}`;

function serversYaml(names: ('everything' | 'memory')[], dir: string): string {
  const lines = ['mcp:'];
  if (names.includes('everything')) lines.push('  everything:', `    command: ${node}`, `    args: [${everything}, stdio]`, '    env_from_secrets: [MCP_DOCKER_TOKEN]');
  if (names.includes('memory')) lines.push('  memory:', `    command: ${node}`, `    args: [${memory}]`, `    env: { MEMORY_FILE_PATH: ${path.join(dir, 'memory.jsonl')} }`);
  return lines.join('\n') + '\n';
}

test('everything + memory for crush, codex, claude-desktop: diff, apply, no changes, ready; removal restores the files', async () => {
  const b = box();
  try {
    const crushFile = path.join(b.home, '.config', 'crush', 'crush.json');
    const codexFile = path.join(b.home, '.codex', 'config.toml');
    const desktopFile = path.join(b.home, '.config', 'Claude', 'claude_desktop_config.json');
    const crush0 = put(crushFile, readFileSync(path.join(fixtures, 'crush', 'crush.with-keys.json'), 'utf8'));
    const codex0 = put(codexFile, readFileSync(path.join(configs, 'codex-config.toml'), 'utf8'));
    const desktop0 = put(desktopFile, readFileSync(path.join(configs, 'claude_desktop_config.json'), 'utf8'));
    b.write(`mcp_clients: [crush, codex, claude-desktop]\n${serversYaml(['everything', 'memory'], b.dir)}`);

    const plan = await b.run(['plan']);
    assert.is(plan.exitCode, 0, out(plan));
    const p = String(plan.stdout);
    assert.match(p, '# mcp.everything will be registered');
    assert.match(p, '~/.config/crush/crush.json = <<-EOT');
    assert.match(p, /\+\s+"everything": \{/);
    assert.match(p, /\+\[mcp_servers\.everything\]/);
    assert.match(p, /\+env_vars = \[ "MCP_DOCKER_TOKEN" \]/);
    assert.match(p, '~/.config/Claude/claude_desktop_config.json = <<-EOT');
    assert.match(p, 'Plan: 2 to add, 0 to change, 0 to destroy.');
    assert.not.match(p, 'not ready');

    // a saved plan applies as shown (readiness is not part of the state the plan is checked against)
    const saved = path.join(b.dir, 'mcp.plan');
    const savedPlan = await b.run(['plan', '--out', saved]);
    assert.is(savedPlan.exitCode, 0, out(savedPlan));
    const apply = await b.run(['apply', saved]);
    assert.is(apply.exitCode, 0, out(apply));
    assert.match(String(apply.stdout), 'Apply complete! Resources: 2 added');
    const crush1 = readFileSync(crushFile, 'utf8');
    const codex1 = readFileSync(codexFile, 'utf8');
    const desktop1 = readFileSync(desktopFile, 'utf8');
    assert.match(crush1, '"MCP_DOCKER_TOKEN": "$MCP_DOCKER_TOKEN"');
    // the user's bytes survive: taking our entries out gives the originals back exactly
    assert.is(editJsonEntry(editJsonEntry(crush1, 'mcp', 'memory', undefined), 'mcp', 'everything', undefined), crush0);
    assert.is(editTomlEntry(editTomlEntry(codex1, 'memory', undefined), 'everything', undefined), codex0);
    assert.is(editJsonEntry(editJsonEntry(desktop1, 'mcpServers', 'memory', undefined), 'mcpServers', 'everything', undefined), desktop0);
    assert.ok(existsSync(path.join(b.pm, 'mcp', 'registry.json')));

    const again = await b.run(['plan']);
    assert.is(again.exitCode, 0, out(again));
    assert.match(String(again.stdout), 'No changes.');
    assert.not.match(String(again.stdout), 'not ready');

    const list = await b.run(['mcp', 'list']);
    assert.is(list.exitCode, 0, out(list));
    assert.match(String(list.stdout), /^everything: everything – ready\n {4}\d+ tools; clients: crush, codex, claude-desktop$/m);
    assert.match(String(list.stdout), /^memory: memory – ready\n {4}\d+ tools; clients: crush, codex, claude-desktop$/m);
    const json = JSON.parse(String((await b.run(['mcp', 'list', '--json'])).stdout)) as { servers: { id: string; ready: boolean; tools: number; tool_names: string[] }[] };
    const mem = json.servers.find((s) => s.id === 'memory')!;
    assert.ok(mem.ready);
    assert.ok(mem.tool_names.includes('create_entities'), 'the real memory server answered tools/list');
    assert.is(mem.tools, mem.tool_names.length);

    const status = await b.run(['status']);
    assert.match(String(status.stdout), /mcp\.memory\s+in-sync\s+registered; ready, \d+ tools; clients: crush, codex, claude-desktop/, out(status));

    // drop memory: only its entries go
    b.write(`mcp_clients: [crush, codex, claude-desktop]\n${serversYaml(['everything'], b.dir)}`);
    const drop = await b.run(['apply', '--auto-approve']);
    assert.is(drop.exitCode, 0, out(drop));
    assert.match(String(drop.stdout), 'mcp.memory will be unregistered');
    assert.is(readFileSync(crushFile, 'utf8'), editJsonEntry(crush1, 'mcp', 'memory', undefined));
    // drop everything: the files are the user's own again, byte for byte
    b.write('mcp_clients: [crush]\n');
    const none = await b.run(['apply', '--auto-approve']);
    assert.is(none.exitCode, 0, out(none));
    assert.is(readFileSync(crushFile, 'utf8'), crush0);
    assert.is(readFileSync(codexFile, 'utf8'), codex0);
    assert.is(readFileSync(desktopFile, 'utf8'), desktop0);
    assert.equal(JSON.parse(readFileSync(path.join(b.pm, 'mcp', 'registry.json'), 'utf8')), { servers: {} });

    // the credential never appears as a value: not in output, files, state, registry or audit log
    const stored = readdirSync(b.pm, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.join(e.parentPath, e.name));
    const written = [crushFile, codexFile, desktopFile, ...stored].map((f) => readFileSync(f, 'utf8'));
    assert.ok(stored.some((f) => f.endsWith('audit.jsonl')));
    for (const text of [p, out(apply), out(list), out(status), ...written]) assert.not.ok(text.includes(SECRET), 'secret value leaked');
  } finally {
    b.cleanup();
  }
});

test("a hand-written server in Cursor's file survives every apply; --force takes it over; removal takes only ours", async () => {
  const b = box();
  try {
    const cursorFile = path.join(b.home, '.cursor', 'mcp.json');
    const cursor0 = put(cursorFile, readFileSync(path.join(configs, 'cursor-mcp.json'), 'utf8'));
    const both = `mcp_clients: [cursor]\n${serversYaml(['everything', 'memory'], b.dir)}`;
    b.write(both);
    const plan = await b.run(['plan', '--no-probe']);
    assert.is(plan.exitCode, 0, out(plan));
    assert.match(String(plan.stdout), '! mcp.memory conflict: ~/.cursor/mcp.json already has a server "memory" that pmoves did not write; apply leaves it alone (use apply --force to overwrite it)');

    const apply = await b.run(['apply', '--auto-approve', '--no-probe']);
    assert.is(apply.exitCode, 0, out(apply));
    const cursor1 = readFileSync(cursorFile, 'utf8');
    assert.is(editJsonEntry(cursor1, 'mcpServers', 'everything', undefined), cursor0, 'only "everything" was added');
    assert.match(cursor1, '"${env:MCP_DOCKER_TOKEN}"');
    const again = await b.run(['apply', '--auto-approve', '--no-probe']);
    assert.is(again.exitCode, 0, out(again));
    assert.is(readFileSync(cursorFile, 'utf8'), cursor1, 'a second apply changes nothing');

    // removing our server from the manifest removes only our entry
    b.write(`mcp_clients: [cursor]\n${serversYaml(['memory'], b.dir)}`);
    const drop = await b.run(['apply', '--auto-approve', '--no-probe']);
    assert.is(drop.exitCode, 0, out(drop));
    assert.is(readFileSync(cursorFile, 'utf8'), cursor0);

    // --force: apply shows the overwrite as a diff, does it, and then the entry is ours
    const forced = await b.run(['apply', '--auto-approve', '--no-probe', '--force']);
    assert.is(forced.exitCode, 0, out(forced));
    assert.match(String(forced.stdout), '# mcp.memory.cursor will be updated in-place (because --force: the hand-written entry is overwritten)');
    assert.match(String(forced.stdout), /-\s+"command": "npx",/);
    const doc = JSON.parse(readFileSync(cursorFile, 'utf8')) as { mcpServers: Record<string, { command?: string }> };
    assert.is(doc.mcpServers.memory!.command, node);
    b.write('mcp_clients: [cursor]\n');
    const gone = await b.run(['apply', '--auto-approve', '--no-probe']);
    assert.is(gone.exitCode, 0, out(gone));
    const left = JSON.parse(readFileSync(cursorFile, 'utf8')) as { mcpServers: Record<string, unknown> };
    assert.equal(Object.keys(left.mcpServers), ['github', 'linear']);
  } finally {
    b.cleanup();
  }
});

test('hanging and crashing servers: clear diagnostics within their timeout, the others and other kinds go on', async () => {
  const b = box();
  try {
    const bundle = path.join(repoRoot, 'examples', 'quickstart', 'env.cgp.json');
    b.write(
      [
        'secrets:',
        '  env:',
        `    bundle: ${bundle}`,
        '    env_file: out/env.shared',
        'mcp_clients: [claude-code]',
        'mcp:',
        '  hang:',
        `    command: ${node}`,
        `    args: [${path.join(faults, 'hang-initialize.mjs')}]`,
        '    timeout: 2',
        '  crash:',
        `    command: ${node}`,
        `    args: [${path.join(faults, 'exit-at-once.mjs')}]`,
        '    timeout: 5',
        '  slow:',
        `    command: ${node}`,
        `    args: [${path.join(faults, 'slow.mjs')}]`,
        '    env: { SLOW_MS: "1500" }',
        '    timeout: 20',
        '  missing:',
        '    command: pmoves-no-such-server',
        '  tools:',
        '    command: docker',
        '    required_commands: [pmoves-no-such-command]',
        '  leaky:',
        `    command: ${node}`,
        `    args: [-e, "process.stderr.write('token=' + process.env.MCP_DOCKER_TOKEN + '\\\\n'); process.exit(1)"]`,
        '    env_from_secrets: [MCP_DOCKER_TOKEN]',
        '',
      ].join('\n'),
    );
    const plan = await b.run(['plan']);
    assert.is(plan.exitCode, 0, out(plan));
    const p = String(plan.stdout);
    assert.match(p, '! mcp.hang not ready: handshake timed out after 2 s');
    assert.match(p, '! mcp.crash not ready: the server exited with code 3 before answering initialize');
    assert.match(p, 'EXIT_AT_ONCE_CONFIG is not set', 'stderr of the crashed server is shown');
    assert.match(p, '! mcp.missing not ready: command not found: pmoves-no-such-server');
    assert.match(p, '! mcp.tools not ready: missing commands: pmoves-no-such-command');
    assert.not.match(p, 'mcp.slow not ready');
    assert.match(p, '# secrets.env will be created');
    assert.match(p, 'Plan: 7 to add');
    assert.match(p, 'stderr: token=(sensitive value)', 'a credential a failed server echoes is hidden');
    assert.not.ok(out(plan).includes(SECRET));

    const apply = await b.run(['apply', '--auto-approve']);
    assert.is(apply.exitCode, 0, out(apply));
    const dotMcp = JSON.parse(readFileSync(path.join(b.dir, '.mcp.json'), 'utf8')) as { mcpServers: Record<string, unknown> };
    assert.equal(Object.keys(dotMcp.mcpServers).sort(), ['crash', 'hang', 'leaky', 'missing', 'slow', 'tools']);
    assert.ok(existsSync(path.join(b.dir, 'out', 'env.shared')));
    const after = await b.run(['plan']);
    assert.match(String(after.stdout), 'No changes.');
    assert.match(String(after.stdout), '! mcp.hang registered, not ready: handshake timed out after 2 s');

    const list = await b.run(['mcp', 'list']);
    assert.match(String(list.stdout), /^slow: slow – ready\n {4}2 tools; clients: claude-code$/m);
    assert.match(String(list.stdout), /^hang: hang – not ready: handshake timed out after 2 s$/m);
    assert.match(String(list.stdout), /^tools: tools – missing commands: pmoves-no-such-command$/m);

    // --no-probe: no handshakes, so no readiness lines
    const fast = await b.run(['plan', '--no-probe']);
    assert.is(fast.exitCode, 0, out(fast));
    assert.not.match(String(fast.stdout), 'handshake');
  } finally {
    b.cleanup();
  }
});

test('remote servers on loopback: streamable HTTP, SSE fallback, SSE; header credentials as references', async () => {
  type Started = { url: string; close(): Promise<void> };
  const { startHttpServer } = (await import(pathToFileURL(path.join(faults, 'http-servers.mjs')).href)) as { startHttpServer(kind: string, o?: { apiKey?: string }): Promise<Started> };
  const key = 'n8n-key-value-not-to-be-shown';
  const streamable = await startHttpServer('streamable', { apiKey: key });
  const sseOnly = await startHttpServer('sse');
  const b = box();
  try {
    b.write(
      [
        'mcp_clients: [crush, codex, vscode]',
        'mcp:',
        '  automations:',
        `    url: ${streamable.url}/mcp`,
        '    headers_from_secrets: { x-api-key: N8N_API_KEY }',
        '  legacy:',
        `    url: ${sseOnly.url}/sse`,
        '  old-sse:',
        `    url: ${sseOnly.url}/sse`,
        '    transport: sse',
        '  locked:',
        `    url: ${streamable.url}/mcp`,
        '    timeout: 5',
        '',
      ].join('\n'),
    );
    const plan = await b.run(['plan'], { N8N_API_KEY: key });
    assert.is(plan.exitCode, 0, out(plan));
    const p = String(plan.stdout);
    assert.match(p, /"x-api-key": "\$\{env:N8N_API_KEY\}"/, 'VS Code gets a reference');
    assert.match(p, '! mcp.old-sse not registered with codex: Codex does not speak the SSE transport');
    assert.match(p, /! mcp\.locked not ready: streamable HTTP: Error POSTing to endpoint: unauthorized/);
    assert.not.match(p, 'mcp.automations not ready');
    assert.not.match(p, 'mcp.legacy not ready');
    assert.not.ok(out(plan).includes(key), 'the header value is never shown');
    const apply = await b.run(['apply', '--auto-approve'], { N8N_API_KEY: key });
    assert.is(apply.exitCode, 0, out(apply));
    const list = JSON.parse(String((await b.run(['mcp', 'list', '--json'], { N8N_API_KEY: key })).stdout)) as { servers: { id: string; ready: boolean; tools: number }[] };
    const byId = Object.fromEntries(list.servers.map((x) => [x.id, x]));
    assert.ok(byId.automations!.ready);
    assert.is(byId.automations!.tools, 3);
    assert.ok(byId.legacy!.ready, 'streamable HTTP refused: fell back to SSE');
    assert.ok(byId['old-sse']!.ready);
    assert.is(byId.locked!.ready, false);
    for (const f of [path.join(b.home, '.config', 'crush', 'crush.json'), path.join(b.home, '.codex', 'config.toml'), path.join(b.dir, '.vscode', 'mcp.json')]) {
      assert.not.ok(readFileSync(f, 'utf8').includes(key), `${f} holds no secret value`);
    }
  } finally {
    b.cleanup();
    await streamable.close();
    await sseOnly.close();
  }
});

test('catalog: bare catalog names and from: expand to real commands; references for remote credentials', async () => {
  const b = box();
  try {
    b.write('mcp_clients: [crush, codex]\nmcp:\n  docker: {}\n  bridge:\n    from: n8n\n    timeout: 5\n');
    const plan = await b.run(['plan', '--no-probe']);
    assert.is(plan.exitCode, 0, out(plan));
    const p = String(plan.stdout);
    assert.match(p, /"command": "docker",\n\s+"args": \[\n\s+"mcp",\n\s+"gateway",\n\s+"run"/);
    assert.match(p, /"x-api-key": "\$N8N_API_KEY"/);
    assert.match(p, /\[mcp_servers\.bridge\.env_http_headers\]\n\s*x-api-key = "N8N_API_KEY"/);
    assert.match(p, /startup_timeout_sec = 5/);
    assert.match(p, '+ name      = "Docker MCP Toolkit"');
  } finally {
    b.cleanup();
  }
});

test('catalogResources: profile ids become normalised resources with their origin', async () => {
  const t = tempDir();
  try {
    const ctx: LoadContext = {
      manifestPath: path.join(t.dir, 'pmoves.mini.yaml'),
      manifestDir: t.dir,
      env: { HOME: t.dir },
      home: pmovesHome({ PMOVES_HOME: t.dir }),
      resolvePath: (p) => path.resolve(t.dir, p),
      locate: () => undefined,
    };
    const r = await catalogResources(['docker', 'host', 'nope'], 'profile laptop-4090', ctx, [mcpKind]);
    assert.equal(r.resources.map((x) => x.address), ['mcp.docker', 'mcp.host']);
    const docker = r.resources[0]!;
    assert.is(docker.origin, 'profile laptop-4090');
    assert.equal((docker.spec as { command: string; args: string[] }).args, ['mcp', 'gateway', 'run']);
    assert.is((docker.spec as { name: string }).name, 'Docker MCP Toolkit');
    assert.is(r.diagnostics.length, 1);
    assert.match(r.diagnostics[0]!.summary, 'no MCP server "nope" in the catalog');
  } finally {
    t.cleanup();
  }
});

test('bad input: file:line:column, exit 1, no stack trace', async () => {
  const b = box();
  try {
    b.write('mcp:\n  x:\n    args: [a]\n');
    let r = await b.run(['validate']);
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /pmoves\.mini\.yaml:4:5: mcp\.x: expected command \(stdio\), url \(remote\) or from/, out(r));
    b.write('mcp:\n  x:\n    from: nope\n');
    r = await b.run(['validate']);
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /pmoves\.mini\.yaml:4:11: mcp\.x\.from: no MCP server "nope" in the catalog/);
    b.write('mcp:\n  x:\n    command: a\n    clients: [emacs]\n');
    r = await b.run(['validate']);
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /pmoves\.mini\.yaml:5:/);
    // a broken client file: the error points into it, nothing is written
    const crushFile = path.join(b.home, '.config', 'crush', 'crush.json');
    put(crushFile, '{\n  "mcp": {\n    "a": { "command": "x" \n}\n');
    b.write(`mcp_clients: [crush]\nmcp:\n  x:\n    command: ${node}\n`);
    r = await b.run(['apply', '--auto-approve', '--no-probe']);
    assert.is(r.exitCode, 1);
    assert.match(out(r), new RegExp(`${crushFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+`));
    assert.match(out(r), 'invalid JSON');
    assert.not.match(out(r), '    at ');
    assert.is(readFileSync(crushFile, 'utf8'), '{\n  "mcp": {\n    "a": { "command": "x" \n}\n');
    // a CHIT label that none of the manifest's bundles holds: a warning pointing at it
    const bundle = path.join(repoRoot, 'examples', 'quickstart', 'env.cgp.json');
    b.write(`secrets:\n  env:\n    bundle: ${bundle}\n    env_file: env.shared\nmcp:\n  x:\n    command: ${node}\n    env_from_secrets: [SUPABASE_URL, MCP_DOCKER_TOKN]\n`);
    r = await b.run(['validate']);
    assert.is(r.exitCode, 0, out(r));
    assert.match(String(r.stderr), /pmoves\.mini\.yaml:9:\d+: mcp\.x: CHIT label MCP_DOCKER_TOKN is in none of this manifest's bundles \(env\.cgp\.json\)/);
    assert.not.match(String(r.stderr), 'SUPABASE_URL is in none');
  } finally {
    b.cleanup();
  }
});

test('mcp setup: applies only the named servers; unknown ids get a hint; the docker toolkit check names what is missing', async () => {
  const b = box();
  try {
    b.write(`mcp_clients: [claude-code]\n${serversYaml(['everything', 'memory'], b.dir)}  docker: {}\n`);
    const unknown = await b.run(['mcp', 'setup', 'n8n', '--auto-approve', '--no-probe']);
    assert.is(unknown.exitCode, 1);
    assert.match(String(unknown.stderr), 'no MCP server "n8n" in the manifest');
    assert.match(String(unknown.stderr), 'add `mcp: { n8n: { from: n8n } }`');
    const one = await b.run(['mcp', 'setup', 'memory', '--auto-approve', '--no-probe']);
    assert.is(one.exitCode, 0, out(one));
    const dotMcp = JSON.parse(readFileSync(path.join(b.dir, '.mcp.json'), 'utf8')) as { mcpServers: Record<string, unknown> };
    assert.equal(Object.keys(dotMcp.mcpServers), ['memory']);
    // PATH without docker: the preflight says so, and the servers are registered anyway
    const bin = path.join(b.dir, 'bin');
    mkdirSync(bin);
    symlinkSync(node, path.join(bin, 'node'));
    const docker = await b.run(['mcp', 'setup', 'docker', '--auto-approve', '--no-probe'], { PATH: bin });
    assert.is(docker.exitCode, 0, out(docker));
    assert.match(String(docker.stdout), 'Docker MCP Toolkit (mcp.docker) is not ready:\n  - missing: the docker CLI is not on PATH');
    const check = await dockerToolkitCheck({ PATH: '', DOCKER_HOST: `unix://${path.join(b.dir, 'no.sock')}` });
    assert.not.ok(check.ok);
    assert.equal(check.missing.length, 2);
    assert.match(check.missing[1]!, `no Docker socket at ${path.join(b.dir, 'no.sock')}`);
  } finally {
    b.cleanup();
  }
});

test.run();
