// `agents list|exec --dry-run|request`, `mcp serve` (stdio and HTTP) and `approve`, through the built
// CLI and a real MCP client (the SDK's), on real files.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { execa } from 'execa';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, cliPath, cliSpawn, fixtures, repoRoot, tempDir, waitFor } from './helpers.js';

const t = suite('agents-cli');
let dir: string;
let cleanup: () => void;
let home: string;
let manifest: string;
const CANARY = 'canary-7f3a9c-do-not-leak';
const expected = JSON.parse(readFileSync(path.join(fixtures, 'chit', 'expected.json'), 'utf8')) as Record<string, string>;
const values = Object.values(expected).filter((v) => v.length >= 6);

t.before.each(() => {
  ({ dir, cleanup } = tempDir('pmoves-agents-cli-'));
  home = `${dir}-home`;
  manifest = path.join(dir, 'pmoves.mini.yaml');
  copyFileSync(path.join(fixtures, 'chit', 'env.cleartext.cgp.json'), path.join(dir, 'env.cgp.json'));
  writeFileSync(
    manifest,
    [
      'apiVersion: pmoves.ai/mini/v1',
      'secrets:',
      '  env:',
      '    bundle: env.cgp.json',
      '    env_file: out/env.shared',
      '    include_labels: [SUPABASE_*, MEILI_*, DISCORD_*]',
      'mcp:',
      '  n8n:',
      '    url: http://127.0.0.1:9/mcp',
      '    headers_from_secrets: { x-api-key: N8N_API_KEY }',
      '    clients: [codex]',
      '',
    ].join('\n'),
  );
  mkdirSync(path.join(dir, 'tasks'));
  for (const f of ['status_report.yaml', 'restart_archon.yaml']) copyFileSync(path.join(repoRoot, 'tasks', f), path.join(dir, 'tasks', f));
  writeFileSync(path.join(dir, 'tasks', 'with_n8n.yaml'), 'description: Look at n8n.\npermission_level: workspace\nmcp: [n8n]\ncommands: [pmoves mini status]\n');
  writeFileSync(path.join(dir, 'ROADMAP.md'), '# Roadmap\n\n- [ ] Ship the Jetson profile\nsome prose that is not a highlight\n');
});
t.after.each(() => {
  cleanup();
  rmSync(home, { recursive: true, force: true });
});

const run = (args: string[], env: Record<string, string | undefined> = {}) => cli(['mini', ...args, '-m', manifest], { cwd: dir, home, env: { CODEX_HOME: path.join(dir, 'codex'), HOME: path.join(dir, 'user'), ...env } });

t('agents list shows the tasks; a bad task names file:line:column and exits 1 without a stack trace', async () => {
  const ok = await run(['agents', 'list']);
  assert.is(ok.exitCode, 0, String(ok.stderr));
  assert.match(String(ok.stdout), /^restart_archon\s+privileged\s+The Archon service/m);
  assert.match(String(ok.stdout), /^status_report\s+read-only\s+/m);
  writeFileSync(path.join(dir, 'tasks', 'broken.yaml'), 'description: x\npermission_level: admin\ncommandz: [ls]\n');
  const bad = await run(['agents', 'list']);
  assert.is(bad.exitCode, 1);
  assert.match(String(bad.stderr), /tasks\/broken\.yaml:2:19: permission_level: expected one of "read-only", "workspace", "privileged", got "admin"/);
  assert.match(String(bad.stderr), /tasks\/broken\.yaml:3:1: commandz: unknown key "commandz" \(did you mean "commands"\?\)/);
  assert.not.match(String(bad.stderr), /\n\s+at /);
  const exec = await run(['agents', 'exec', '--tool', 'codex', '--task', 'broken', '--dry-run']);
  assert.is(exec.exitCode, 1);
  assert.match(String(exec.stderr), /broken\.yaml:2:19/);
  const none = await run(['agents', 'exec', '--tool', 'codex', '--task', 'nope', '--dry-run']);
  assert.is(none.exitCode, 1);
  assert.match(String(none.stderr), /--task nope: no such task \(known: restart_archon, status_report, with_n8n;/);
});

t('exec --dry-run: the prompt holds labels, never values; the exact codex, claude and crush command lines', async () => {
  const env = { N8N_API_KEY: CANARY };
  const codex = await run(['agents', 'exec', '--tool', 'codex', '--task', 'with_n8n', '--dry-run'], env);
  assert.is(codex.exitCode, 0, String(codex.stderr));
  const out = String(codex.stdout);
  assert.match(out, /- \[ \] Ship the Jetson profile/, 'repository highlights');
  assert.not.match(out, /some prose/);
  assert.match(out, /CHIT labels available to services \(names only\): .*MEILI_MASTER_KEY/);
  assert.match(out, /credentials \(CHIT labels, values in the environment only\): N8N_API_KEY/);
  assert.match(out, /Permission level: workspace: you may change files inside the working folder only/);
  const { realpathSync } = await import('node:fs');
  const realHome = path.join(realpathSync(path.dirname(home)), path.basename(home));
  assert.match(out, /codex exec --json --skip-git-repo-check .* -c 'default_permissions="pmoves"' -c 'permissions\.pmoves\.filesystem=\{ ":root" = "read", ":project_roots" = "write", "([^"]+)" = "none" \}' -c 'approval_policy="never"' /);
  assert.ok(out.includes(`"${realHome}" = "none"`), 'the home, by its real path, is neither readable nor writable');
  assert.not.match(out, /--sandbox/);
  assert.match(out, /-c 'mcp_servers\.n8n\.env_http_headers=\{ x-api-key = "N8N_API_KEY" \}'/);
  assert.match(out, /-c 'mcp_servers\.pmoves\.args=\[.*"mcp", "serve"/);
  assert.match(out, /Dry run: nothing was started\./);
  for (const v of [CANARY, ...values]) assert.not.ok(out.includes(v), 'no secret value in the dry run');
  assert.not.ok(existsSync(path.join(home, 'agents', 'runs')), 'a dry run writes nothing');

  assert.match(out, /# Sandbox check, run first: it must neither write nor read \$PMOVES_HOME\n\ncodex sandbox -c 'default_permissions="pmoves"' -c 'permissions\.pmoves\.filesystem=.* -- sh -c /);
  const ro = await run(['agents', 'exec', '--tool', 'codex', '--task', 'status_report', '--dry-run']);
  assert.match(String(ro.stdout), /-c 'permissions\.pmoves\.filesystem=\{ ":root" = "read", "[^"]+" = "none" \}' -c 'approval_policy="never"'/);

  const claude = await run(['agents', 'exec', '--tool', 'claude', '--task', 'with_n8n', '--dry-run', '--json'], env);
  const c = JSON.parse(String(claude.stdout));
  assert.equal(c.argv.slice(0, 6), ['claude', '-p', '--output-format', 'stream-json', '--verbose', '--mcp-config']);
  assert.ok(c.argv.includes('acceptEdits'));
  assert.ok(c.argv.includes('Bash(pmoves mini status)'));
  // Edits in the working folder only; the home denied to every tool; no rule for a tool that is gone.
  assert.ok(c.argv.includes('Edit(./**)') && c.argv.includes('Write(./**)'));
  assert.not.ok(c.argv.includes('Write') || c.argv.includes('Edit') || c.argv.includes('MultiEdit'));
  assert.equal(c.argv.filter((_: string, k: number) => c.argv[k - 1] === '--disallowedTools'), ['WebFetch', `Read(/${realHome}/**)`, `Edit(/${realHome}/**)`, `Write(/${realHome}/**)`]);
  const cfg = JSON.parse(c.files[0].text);
  assert.equal(cfg.mcpServers.n8n, { type: 'http', url: 'http://127.0.0.1:9/mcp', headers: { 'x-api-key': '${N8N_API_KEY}' } });
  assert.is(c.files[0].mode, 0o600);

  // Crush cannot install here (its npm package downloads its binary): its command line and config.
  const crush = await run(['agents', 'exec', '--tool', 'crush', '--task', 'status_report', '--dry-run', '--json']);
  const k = JSON.parse(String(crush.stdout));
  assert.equal(k.argv.slice(0, 3), ['crush', 'run', '--quiet']);
  assert.not.ok(k.argv.includes('--yolo'), 'read-only never gets --yolo');
  assert.match(k.env.CRUSH_GLOBAL_CONFIG, /agents\/runs\/.*\/crush$/);
  const kc = JSON.parse(k.files[0].text);
  assert.equal(kc.mcp.pmoves.args.slice(-4), ['mcp', 'serve', '-m', manifest]);
  assert.equal(kc.permissions.allowed_tools, ['view', 'ls', 'grep', 'glob', 'mcp_pmoves_validate', 'mcp_pmoves_plan', 'mcp_pmoves_status', 'mcp_pmoves_profile_detect', 'mcp_pmoves_apply']);
  const priv = await run(['agents', 'exec', '--tool', 'crush', '--task', 'restart_archon', '--dry-run', '--json']);
  assert.ok(JSON.parse(String(priv.stdout)).argv.includes('--yolo'));
});

t('a privileged task needs --yes and a terminal', async () => {
  const no = await run(['agents', 'exec', '--tool', 'codex', '--task', 'restart_archon']);
  assert.is(no.exitCode, 1);
  assert.match(String(no.stderr), /task restart_archon is privileged: pass --yes, then confirm on a terminal/);
  const notty = await run(['agents', 'exec', '--tool', 'codex', '--task', 'restart_archon', '--yes']);
  assert.is(notty.exitCode, 1);
  assert.match(String(notty.stderr), /needs a confirmation on a terminal/);
});

t('agents request: a 0600 packet (folder + .tar.gz) in which no secret value appears', async () => {
  assert.is((await run(['apply', '--auto-approve'])).exitCode, 0);
  // Drift: one value replaced by the canary; it must not leak either.
  const envFile = path.join(dir, 'out', 'env.shared');
  writeFileSync(envFile, readFileSync(envFile, 'utf8').replace(/^MEILI_MASTER_KEY=.*$/m, `MEILI_MASTER_KEY=${CANARY}`));
  const r = await run(['agents', 'request', 'restart_archon']);
  assert.is(r.exitCode, 0, String(r.stderr));
  const out = String(r.stdout);
  assert.match(out, /^Review packet: /);
  assert.match(out, /Env diffs: secrets\.env MEILI_MASTER_KEY: changed/);
  assert.match(out, /Commands the agent wants to run: 3/);
  const reqs = path.join(home, 'requests');
  const folder = readdirSync(reqs).find((f) => !f.endsWith('.tar.gz'))!;
  const archive = readdirSync(reqs).find((f) => f.endsWith('.tar.gz'))!;
  assert.is(statSync(path.join(reqs, folder)).mode & 0o777, 0o700);
  assert.is(statSync(path.join(reqs, archive)).mode & 0o777, 0o600);
  const files = readdirSync(path.join(reqs, folder)).sort();
  assert.equal(files, ['README.md', 'audit.jsonl', 'commands.txt', 'containers.txt', 'env-diff.json', 'plan.json', 'plan.txt', 'status.txt', 'task.yaml']);
  const x = path.join(dir, 'x');
  mkdirSync(x);
  await execa('tar', ['-xzf', path.join(reqs, archive), '-C', x]);
  const all = [...files.map((f) => path.join(reqs, folder, f)), ...files.map((f) => path.join(x, folder, f))];
  for (const f of all) {
    assert.is(statSync(f).mode & 0o777, 0o600, f);
    const text = readFileSync(f, 'utf8');
    for (const v of [CANARY, ...values]) assert.not.ok(text.includes(v), `a secret value in ${f}`);
  }
  const diff = JSON.parse(readFileSync(path.join(reqs, folder, 'env-diff.json'), 'utf8'));
  const meili = diff.resources[0].keys.find((k: { key: string }) => k.key === 'MEILI_MASTER_KEY');
  assert.is(meili.state, 'changed');
  assert.match(meili.actual, /^[0-9a-f]{12}$/);
  assert.match(readFileSync(path.join(reqs, folder, 'plan.txt'), 'utf8'), /secrets\.env will be updated in-place/);
});

function approveOnTty(hash: string, answer = 'yes') {
  const cmd = [process.execPath, cliPath, 'mini', 'approve', hash].map((a) => `'${a}'`).join(' ');
  return execa('script', ['-qec', cmd, '/dev/null'], { cwd: dir, input: `${answer}\n`, reject: false, env: { PMOVES_HOME: home, NO_COLOR: '1', TERM: 'xterm' }, timeout: 60_000 });
}
const textOf = (r: unknown) => ((r as { content: { text: string }[] }).content ?? []).map((c) => c.text).join('\n');

t('mcp serve (stdio): tools and resources; apply refused without approval, refused when stale, applied once when approved', async () => {
  const client = new Client({ name: 'agents-cli-test', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [cliPath, 'mini', 'mcp', 'serve', '-m', manifest], env: { ...process.env, PMOVES_HOME: home, NO_COLOR: '1' } as Record<string, string>, stderr: 'pipe' }));
  try {
    const tools = (await client.listTools()).tools.map((x) => x.name).sort();
    assert.equal(tools, ['apply', 'plan', 'profile_detect', 'status', 'validate']);
    const res = (await client.listResources()).resources.map((x) => x.uri);
    assert.equal(res, ['pmoves://manifest', 'pmoves://profile/active']);
    const m = await client.readResource({ uri: 'pmoves://manifest' });
    assert.match(String((m.contents[0] as { text: string }).text), /apiVersion: pmoves\.ai\/mini\/v1/);
    const v = await client.callTool({ name: 'validate', arguments: {} });
    assert.match(textOf(v), /"valid": true/);

    const p = await client.callTool({ name: 'plan', arguments: {} });
    assert.ok(p.structuredContent, textOf(p));
    const hash = (p.structuredContent as { plan_hash: string }).plan_hash;
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.match(textOf(p), /Plan: 2 to add, 0 to change, 0 to destroy\./);
    const refused = await client.callTool({ name: 'apply', arguments: { plan_hash: hash } });
    assert.ok(refused.isError);
    assert.match(textOf(refused), /refused: plan [0-9a-f]{12} has not been approved by a human/);
    assert.not.ok(existsSync(path.join(dir, 'out', 'env.shared')));

    // approve asks a human on a terminal; there is no way around it from a pipe.
    const piped = await cli(['mini', 'approve', hash], { cwd: dir, home });
    assert.is(piped.exitCode, 1);
    assert.match(String(piped.stderr), /approve asks a human on a terminal/);
    const declined = await approveOnTty(hash.slice(0, 12), 'no');
    assert.match(String(declined.stdout), /\+ secrets "env"/, 'approve shows the plan');
    assert.match(String(declined.stdout), /Not approved\./);
    const ok = await approveOnTty(hash.slice(0, 12));
    assert.is(ok.exitCode, 0, String(ok.stdout));
    assert.match(String(ok.stdout), /Approved plan [0-9a-f]{12}/);

    // The world changes after the approval: the approved plan is stale and refused.
    mkdirSync(path.join(dir, 'out'));
    writeFileSync(path.join(dir, 'out', 'env.shared'), 'HAND=written\n');
    const stale = await client.callTool({ name: 'apply', arguments: { plan_hash: hash } });
    assert.ok(stale.isError);
    assert.match(textOf(stale), /refused: the approved plan is stale/);
    assert.is(readFileSync(path.join(dir, 'out', 'env.shared'), 'utf8'), 'HAND=written\n');
    const again = await client.callTool({ name: 'apply', arguments: { plan_hash: hash } });
    assert.match(textOf(again), /approved once and already applied/);

    // A fresh plan would take over the hand-written file: an error, nothing saved to approve.
    const taken = await client.callTool({ name: 'plan', arguments: {} });
    assert.ok(taken.isError, textOf(taken));
    assert.match(textOf(taken), /nothing was saved, there is nothing to approve/);
    rmSync(path.join(dir, 'out', 'env.shared'));

    // A fresh plan, approved, is applied exactly once.
    const p2 = await client.callTool({ name: 'plan', arguments: {} });
    assert.ok(p2.structuredContent, textOf(p2));
    const h2 = (p2.structuredContent as { plan_hash: string }).plan_hash;
    assert.is((await approveOnTty(h2)).exitCode, 0);
    const applied = await client.callTool({ name: 'apply', arguments: { plan_hash: h2 } });
    assert.not.ok(applied.isError, textOf(applied));
    assert.match(textOf(applied), /Apply complete!/);
    assert.match(readFileSync(path.join(dir, 'out', 'env.shared'), 'utf8'), /^MEILI_MASTER_KEY=/m);
  } finally {
    await client.close();
  }
  const audit = readFileSync(path.join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const calls = audit.filter((a) => a.address === 'mcp.pmoves').map((a) => `${a.action}:${a.outcome}`);
  assert.equal(calls, [
    'mcp-resource:manifest:ok',
    'mcp-tool:validate:ok',
    'mcp-tool:plan:ok',
    'mcp-tool:apply:refused',
    'approve:declined',
    'approve:approved',
    'mcp-tool:apply:refused',
    'mcp-tool:apply:refused',
    'mcp-tool:plan:error',
    'mcp-tool:plan:ok',
    'approve:approved',
    'mcp-tool:apply:ok',
  ]);
  const auditText = readFileSync(path.join(home, 'audit.jsonl'), 'utf8');
  for (const v of values) assert.not.ok(auditText.includes(v), 'no secret value in the audit log');
});

t('mcp serve --http: 127.0.0.1 only, a bearer token from a generated 0600 file or a CHIT label', async () => {
  const srv = cliSpawn(['mini', 'mcp', 'serve', '--http', '--port', '0', '-m', manifest], { cwd: dir, home });
  let stderr = '';
  srv.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    const url = (await waitFor(() => /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(stderr)?.[1], 'the server to listen')) as string;
    const tokenFile = path.join(home, 'mcp', 'serve.token');
    assert.is(statSync(tokenFile).mode & 0o777, 0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    const denied = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: 'Bearer wrong' }, body: '{}' });
    assert.is(denied.status, 401);
    const client = new Client({ name: 'agents-http-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    try {
      const s = await client.callTool({ name: 'status', arguments: {} });
      assert.match(textOf(s), /"address": "secrets\.env"/);
      const refused = await client.callTool({ name: 'apply', arguments: { plan_hash: '0123456789abcdef' } });
      assert.match(textOf(refused), /refused: plan hash 0123456789abcdef: no such plan/);
    } finally {
      await client.close();
    }
  } finally {
    srv.kill('SIGTERM');
    await srv;
  }
  const labelled = await run(['mcp', 'serve', '--http', '--port', '0', '--token-label', 'MCP_SERVE_TOKEN']);
  assert.is(labelled.exitCode, 1);
  assert.match(String(labelled.stderr), /--token-label MCP_SERVE_TOKEN: the variable is not set/);
});

t.run();
