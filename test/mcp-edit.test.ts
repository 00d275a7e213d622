// Client config editors: every realistic file keeps its unrelated bytes; add then remove = the original.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseJsonc } from 'jsonc-parser';
import { parse as parseToml } from 'smol-toml';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLIENTS, type ServerEntrySpec } from '../src/providers/mcp/clients.js';
import { ConfigSyntaxError, editJsonEntry, readJsonEntry } from '../src/providers/mcp/json-edit.js';
import { editTomlEntry, headerKeys, readTomlEntry } from '../src/providers/mcp/toml-edit.js';
import { fixtures, repoRoot } from './helpers.js';

const dir = path.join(repoRoot, 'test', 'fixtures', 'mcp', 'configs');
const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');

const spec: ServerEntrySpec = {
  transport: 'stdio',
  command: 'npx',
  args: ['-y', '@modelcontextprotocol/server-everything'],
  env: { LOG_LEVEL: 'debug' },
  cwd: null,
  url: null,
  headers: {},
  headers_from_secrets: {},
  enabled_tools: null,
  disabled_tools: [],
  timeout: 10,
  env_from_secrets: ['MCP_DOCKER_TOKEN'],
};

const jsonFiles: [string, string, string][] = [
  ['cursor-mcp.json', 'mcpServers', 'cursor'],
  ['vscode-mcp.json', 'servers', 'vscode'],
  ['claude_desktop_config.json', 'mcpServers', 'claude-desktop'],
  ['dot-mcp.json', 'mcpServers', 'claude-code'],
];

for (const [file, key, client] of jsonFiles) {
  test(`${file}: add keeps every other byte, remove gives the original back`, () => {
    const original = read(file);
    const entry = (CLIENTS[client as 'cursor'].entry(spec) as { entry: Record<string, unknown> }).entry;
    const added = editJsonEntry(original, key, 'everything', entry);
    assert.is.not(added, original);
    const doc = parseJsonc(added) as Record<string, Record<string, unknown>>;
    assert.equal(doc[key]!.everything, entry);
    const before = parseJsonc(original) as Record<string, Record<string, unknown>>;
    for (const other of Object.keys(before[key]!)) assert.equal(doc[key]![other], before[key]![other], `${other} unchanged`);
    // every original line is still there, in order (the only allowed change: one comma after the last entry)
    const lines = added.split('\n');
    let at = 0;
    for (const l of original.split('\n')) {
      const variants = [l, `${l},`, l.replace(/(\S)(\s+(\/\/|\/\*).*)$/, '$1,$2')];
      const i = lines.findIndex((x, j) => j >= at && variants.includes(x));
      assert.ok(i >= 0, `line kept: ${l}`);
      at = i + 1;
    }
    assert.is(editJsonEntry(added, key, 'everything', entry), added, 'idempotent');
    assert.is(editJsonEntry(added, key, 'everything', undefined), original, 'remove restores the bytes');
  });
}

test('vscode: JSONC comments and trailing commas survive; the entry uses ${env:LABEL} references', () => {
  const original = read('vscode-mcp.json');
  const entry = (CLIENTS.vscode.entry(spec) as { entry: Record<string, unknown> }).entry;
  const added = editJsonEntry(original, 'servers', 'everything', entry);
  assert.ok(added.includes('// VS Code workspace MCP servers'));
  assert.ok(added.includes('/* keep this */'));
  assert.ok(added.includes('"MCP_DOCKER_TOKEN": "${env:MCP_DOCKER_TOKEN}"'));
  assert.ok(added.startsWith(original.slice(0, original.indexOf('"fetch"'))), 'everything before the last entry is untouched');
  assert.equal(entry.type, 'stdio');
});

test('crush as Crush reads it: timeout in whole seconds, enabled_tools written; cwd warned where a client has no such setting', () => {
  const r = CLIENTS.crush.entry({ ...spec, timeout: 2.5, enabled_tools: ['echo'], cwd: '/srv/x' }) as { entry: Record<string, unknown>; notes: string[] };
  assert.is(r.entry.timeout, 3);
  assert.ok(Number.isInteger(r.entry.timeout));
  assert.equal(r.entry.enabled_tools, ['echo']);
  assert.not.ok(r.notes.some((n) => /enabled_tools/.test(n)));
  assert.ok(r.notes.some((n) => /Crush has no working-directory setting; cwd is not written/.test(n)));
  for (const c of ['claude-desktop', 'claude-code', 'cursor'] as const) {
    const x = CLIENTS[c].entry({ ...spec, env_from_secrets: [], cwd: '/srv/x' }) as { notes: string[] };
    assert.ok(x.notes.some((n) => /cwd is not written/.test(n)), c);
  }
  const quiet = CLIENTS.crush.entry(spec) as { notes: string[] };
  assert.not.ok(quiet.notes.some((n) => /cwd/.test(n)), 'no warning without cwd');
});

test('an entry replaced in place keeps its neighbours', () => {
  const original = read('cursor-mcp.json');
  const updated = editJsonEntry(original, 'mcpServers', 'memory', { command: 'node', args: ['memory.js'] });
  const doc = parseJsonc(updated) as { mcpServers: Record<string, unknown> };
  assert.equal(doc.mcpServers.memory, { command: 'node', args: ['memory.js'] });
  assert.ok(updated.includes('"linear": { "url": "https://mcp.linear.app/sse" }'));
  assert.is(updated.slice(0, updated.indexOf('"memory"')), original.slice(0, original.indexOf('"memory"')));
});

test('crush: the upstream crush.json (no trailing newline) keeps its providers and servers', () => {
  const original = readFileSync(path.join(fixtures, 'crush', 'crush.with-keys.json'), 'utf8');
  const entry = (CLIENTS.crush.entry(spec) as { entry: Record<string, unknown> }).entry;
  assert.equal(entry.env, { LOG_LEVEL: 'debug', MCP_DOCKER_TOKEN: '$MCP_DOCKER_TOKEN' });
  const added = editJsonEntry(original, 'mcp', 'everything', entry);
  const doc = JSON.parse(added) as Record<string, Record<string, unknown>>;
  assert.equal(Object.keys(doc.mcp!), ['pmoves-mini', 'docker', 'n8n', 'everything']);
  assert.equal(doc.providers, (JSON.parse(original) as Record<string, unknown>).providers);
  assert.is(editJsonEntry(added, 'mcp', 'everything', undefined), original);
});

test('a missing file becomes a small document; an empty map is filled', () => {
  assert.is(editJsonEntry(null, 'mcpServers', 'a', { command: 'x' }), '{\n  "mcpServers": {\n    "a": {\n      "command": "x"\n    }\n  }\n}\n');
  assert.is(editJsonEntry('{\n  "mcpServers": {}\n}\n', 'mcpServers', 'a', { command: 'x' }), '{\n  "mcpServers": {\n    "a": {\n      "command": "x"\n    }\n  }\n}\n');
  assert.is(editJsonEntry('{ "theme": "dark" }\n', 'mcpServers', 'a', { command: 'x' }), '{ "theme": "dark", "mcpServers": {\n  "a": {\n    "command": "x"\n  }\n} }\n');
});

test('invalid JSON is a ConfigSyntaxError with line and column', () => {
  try {
    readJsonEntry('{\n  "mcpServers": {\n    "a": { "command": "x" \n  }\n', 'mcpServers', 'a');
    assert.unreachable('should throw');
  } catch (err) {
    assert.instance(err, ConfigSyntaxError);
    assert.ok((err as ConfigSyntaxError).line >= 3);
  }
  assert.throws(() => editJsonEntry('{ "mcpServers": [] }', 'mcpServers', 'a', {}), (e: Error) => /not an object/.test(e.message));
});

test('codex: [mcp_servers.NAME] added after the user tables, removed to the original bytes', () => {
  const original = read('codex-config.toml');
  const entry = (CLIENTS.codex.entry(spec) as { entry: Record<string, unknown> }).entry;
  assert.equal(entry.env_vars, ['MCP_DOCKER_TOKEN'], 'secret labels are forwarded by name');
  const added = editTomlEntry(original, 'everything', entry);
  assert.ok(added.startsWith(original), 'every original byte first');
  const doc = parseToml(added) as { mcp_servers: Record<string, unknown>; profiles: unknown };
  assert.equal(Object.keys(doc.mcp_servers), ['github', 'everything']);
  assert.equal(readTomlEntry(added, 'everything').entry, entry);
  assert.is(editTomlEntry(added, 'everything', entry), added, 'idempotent');
  const changed = editTomlEntry(added, 'everything', { ...entry, args: ['other'] });
  assert.ok(changed.startsWith(original));
  assert.equal((readTomlEntry(changed, 'everything').entry as { args: string[] }).args, ['other']);
  assert.is(editTomlEntry(changed, 'everything', undefined), original);
});

test('codex: a user table in the middle is replaced in place, sub-tables included, neighbours kept', () => {
  const original = read('codex-config.toml');
  const out = editTomlEntry(original, 'github', { command: 'gh-mcp' });
  assert.ok(out.includes('# Servers I added myself\n[mcp_servers.github]\ncommand = "gh-mcp"\n'));
  assert.not.ok(out.includes('GITHUB_API_URL'));
  assert.ok(out.includes('[sandbox_workspace_write]\nnetwork_access = false\n'));
  assert.ok(out.includes('model = "gpt-5-mini" # quick edits'));
});

test('codex: quoted names, inline definitions and bad TOML', () => {
  assert.equal(headerKeys('mcp_servers."my server".env'), ['mcp_servers', 'my server', 'env']);
  const quoted = editTomlEntry('', 'my.server', { command: 'x' });
  assert.equal(readTomlEntry(quoted, 'my.server').entry, { command: 'x' });
  assert.is(editTomlEntry(quoted, 'my.server', undefined), '');
  const inline = 'mcp_servers = { a = { command = "x" } }\n';
  assert.ok(readTomlEntry(inline, 'a').inline);
  assert.throws(() => editTomlEntry(inline, 'a', { command: 'y' }), (e: Error) => /inline or dotted/.test(e.message));
  try {
    readTomlEntry('model = \n', 'a');
    assert.unreachable('should throw');
  } catch (err) {
    assert.instance(err, ConfigSyntaxError);
    assert.is((err as ConfigSyntaxError).line, 1);
  }
});

test('clients refuse what they cannot hold, and never get a secret value', () => {
  const remote: ServerEntrySpec = { ...spec, transport: 'sse', command: null, args: [], url: 'http://127.0.0.1:1/sse', headers_from_secrets: { 'x-api-key': 'N8N_API_KEY' } };
  assert.ok('unsupported' in CLIENTS.codex.entry(remote));
  assert.ok('unsupported' in CLIENTS['claude-desktop'].entry(remote));
  const crush = CLIENTS.crush.entry(remote) as { entry: Record<string, unknown> };
  assert.equal(crush.entry.headers, { 'x-api-key': '$N8N_API_KEY' });
  const http = { ...remote, transport: 'http' as const };
  assert.equal((CLIENTS.codex.entry(http) as { entry: Record<string, unknown> }).entry.env_http_headers, { 'x-api-key': 'N8N_API_KEY' });
  assert.equal((CLIENTS.cursor.entry(http) as { entry: Record<string, unknown> }).entry.headers, { 'x-api-key': '${env:N8N_API_KEY}' });
  assert.equal((CLIENTS['claude-code'].entry(http) as { entry: Record<string, unknown> }).entry.headers, { 'x-api-key': '${N8N_API_KEY}' });
  const desktop = CLIENTS['claude-desktop'].entry(spec) as { entry: Record<string, unknown>; notes: string[] };
  assert.equal(desktop.entry.env, { LOG_LEVEL: 'debug' }, 'no reference syntax: the label is left out');
  assert.match(desktop.notes.join('\n'), /MCP_DOCKER_TOKEN/);
});

test('default config paths follow each client', () => {
  const env = { HOME: '/h', XDG_CONFIG_HOME: '/x', CODEX_HOME: '/c' };
  assert.is(CLIENTS.crush.defaultPath(env, '/p'), '/x/crush/crush.json');
  assert.is(CLIENTS.crush.defaultPath({ ...env, CRUSH_GLOBAL_CONFIG: '/g' }, '/p'), '/g/crush.json');
  assert.is(CLIENTS.codex.defaultPath(env, '/p'), '/c/config.toml');
  assert.is(CLIENTS.codex.defaultPath({ HOME: '/h' }, '/p'), '/h/.codex/config.toml');
  assert.is(CLIENTS['claude-desktop'].defaultPath(env, '/p', 'linux'), '/x/Claude/claude_desktop_config.json');
  assert.is(CLIENTS['claude-desktop'].defaultPath(env, '/p', 'darwin'), '/h/Library/Application Support/Claude/claude_desktop_config.json');
  assert.is(CLIENTS['claude-code'].defaultPath(env, '/p'), '/p/.mcp.json');
  assert.is(CLIENTS.cursor.defaultPath(env, '/p'), '/h/.cursor/mcp.json');
  assert.is(CLIENTS.vscode.defaultPath(env, '/p'), '/p/.vscode/mcp.json');
});

test.run();
