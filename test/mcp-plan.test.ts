// The mcp kind's plan is pure: table tests with plain values (no files, no servers).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { LoadContext, PlanContext, Target } from '../src/core/kind.js';
import { pmovesHome } from '../src/core/home.js';
import { resolveUserPath } from '../src/manifest/load.js';
import type { StateEntry } from '../src/core/types.js';
import { CLIENTS, type ClientId } from '../src/providers/mcp/clients.js';
import { detectClients, mcpKind, registryEntry, type McpActual, type McpSpec } from '../src/reconcilers/mcp/index.js';
import { mkdirSync } from 'node:fs';
import nodePath from 'node:path';
import { tempDir } from './helpers.js';

const ctx: LoadContext = {
  manifestPath: '/p/pmoves.mini.yaml',
  manifestDir: '/p',
  env: { HOME: '/h', XDG_CONFIG_HOME: '/h/.config', CODEX_HOME: '/h/.codex' },
  home: pmovesHome({ PMOVES_HOME: '/pm' }),
  resolvePath: (p) => resolveUserPath(p, '/p', { HOME: '/h' }),
  locate: () => undefined,
};
const planCtx = (flags: Record<string, unknown> = {}): PlanContext => ({ fingerprint: (v) => `fp(${v.length})`, flags });

function spec(extra: Record<string, unknown> = {}): McpSpec {
  return mcpKind.normalize({ command: 'node', args: ['srv.js'], clients: ['cursor', 'crush'], ...extra }, 'mem', ctx);
}

function target(s: McpSpec | null, prior?: StateEntry): Target<McpSpec> {
  return { address: 'mcp.mem', name: 'mem', desired: s ? { address: 'mcp.mem', section: 'mcp', name: 'mem', spec: s, dependsOn: [] } : null, prior };
}

function file(client: ClientId, p: string, text: string | null) {
  const r = CLIENTS[client].read(text, 'mem');
  return { path: p, text, mode: null, entry: r.entry };
}

function actual(s: McpSpec, texts: Partial<Record<ClientId, string | null>>, registry: string | null = null, stale: McpActual['stale'] = {}): McpActual {
  const files: McpActual['files'] = {};
  for (const c of s.clients!) files[c] = file(c, s.paths[c], texts[c] ?? null);
  const reg = registry === null ? null : registry;
  return { clients: s.clients!, files, stale, shadows: [], registry: { path: '/pm/mcp/registry.json', text: reg, mode: null, entry: reg ? (JSON.parse(reg) as { servers: Record<string, unknown> }).servers.mem : undefined }, missing: [], unset: [], volatile: { probe: null }, home: '/h' };
}

const owned = (s: McpSpec, clients: ClientId[]): StateEntry => ({
  section: 'mcp',
  owned: true,
  data: { clients: Object.fromEntries(clients.map((c) => [c, s.paths[c]])), registry: '/pm/mcp/registry.json' },
});

test('normalize: defaults, client paths by their own rules, config_paths relative to the manifest', () => {
  const s = spec({ config_paths: { cursor: 'cfg/cursor.json' } });
  assert.is(s.transport, 'stdio');
  assert.is(s.timeout, 10);
  assert.is(s.paths.cursor, '/p/cfg/cursor.json');
  assert.is(s.paths.crush, '/h/.config/crush/crush.json');
  assert.is(s.paths.codex, '/h/.codex/config.toml');
  assert.is(s.paths['claude-code'], '/p/.mcp.json');
  assert.is(mcpKind.normalize({ url: 'http://x/mcp' }, 'r', ctx).transport, 'http');
  assert.is(mcpKind.normalize({ command: 'x', args: ['~/data'] }, 'r', ctx).args[0], '/h/data');
});

test('nothing registered: create, one part per client file, registry in the body', () => {
  const s = spec();
  const r = mcpKind.plan(target(s), actual(s, { cursor: '{\n  "mcpServers": {}\n}\n' }), planCtx());
  assert.is(r.action, 'create');
  assert.equal(r.after, registryEntry(s, ['cursor', 'crush']));
  assert.equal(r.parts!.map((p) => [p.name, p.action]), [
    ['mem.cursor', 'update'],
    ['mem.crush', 'create'],
  ]);
  const after = r.parts![0]!.after as Record<string, string>;
  assert.match(Object.values(after)[0]!, '"mem": {');
  assert.match(Object.keys(after)[0]!, '~/.cursor/mcp.json');
});

test('registered and in sync: no-op', () => {
  const s = spec();
  const cursor = CLIENTS.cursor.edit(null, 'mem', (CLIENTS.cursor.entry(s) as { entry: Record<string, unknown> }).entry);
  const crush = CLIENTS.crush.edit(null, 'mem', (CLIENTS.crush.entry(s) as { entry: Record<string, unknown> }).entry);
  const registry = JSON.stringify({ servers: { mem: registryEntry(s, ['cursor', 'crush']) } }, null, 2) + '\n';
  const r = mcpKind.plan(target(s, owned(s, ['cursor', 'crush'])), actual(s, { cursor, crush }, registry), planCtx());
  assert.is(r.action, 'no-op', r.reason);
  assert.ok(r.parts!.every((p) => p.action === 'no-op'));
});

test('an apply killed after every edit but before its state record: identical entries are recorded (an update that rewrites nothing), not left as no-op', () => {
  const s = spec();
  const cursor = CLIENTS.cursor.edit(null, 'mem', (CLIENTS.cursor.entry(s) as { entry: Record<string, unknown> }).entry);
  const crush = CLIENTS.crush.edit(null, 'mem', (CLIENTS.crush.entry(s) as { entry: Record<string, unknown> }).entry);
  const registry = JSON.stringify({ servers: { mem: registryEntry(s, ['cursor', 'crush']) } }, null, 2) + '\n';
  // the write-ahead entry: pending, owned, with no record of the files yet
  const pending: StateEntry = { section: 'mcp', owned: true, pending: 'create' };
  const r = mcpKind.plan(target(s, pending), actual(s, { cursor, crush }, registry), planCtx());
  assert.is(r.action, 'update', r.reason);
  assert.match(r.reason, 'did not record them');
  assert.ok(r.parts!.every((p) => p.action === 'no-op'), 'no file is rewritten');
  // once recorded, the same files are in sync
  const done = mcpKind.plan(target(s, owned(s, ['cursor', 'crush'])), actual(s, { cursor, crush }, registry), planCtx());
  assert.is(done.action, 'no-op', done.reason);
});

test('a hand-written entry of the same name: a conflict warning, no change; --force turns it into an update', () => {
  const s = { ...spec(), clients: ['cursor'] as ClientId[] };
  const hand = '{\n  "mcpServers": {\n    "mem": { "command": "npx", "args": ["mem"] }\n  }\n}\n';
  const registry = JSON.stringify({ servers: { mem: registryEntry(s, ['cursor']) } });
  const r = mcpKind.plan(target(s, owned(s, [])), actual(s, { cursor: hand }, registry), planCtx());
  assert.is(r.action, 'no-op');
  assert.match(r.diagnostics![0]!.summary, 'conflict: ~/.cursor/mcp.json already has a server "mem" that pmoves did not write');
  assert.is(r.diagnostics![0]!.severity, 'warning');
  // a conflict is a conflict (issue 13): counted, never "in sync"
  assert.equal(r.conflicts, ['cursor: ~/.cursor/mcp.json already has a server "mem" that pmoves did not write (apply --force overwrites it)']);
  assert.is(r.reason, 'in conflict');
  const forced = mcpKind.plan(target(s, owned(s, [])), actual(s, { cursor: hand }, registry), planCtx({ force: true }));
  assert.is(forced.conflicts, undefined);
  assert.is(forced.action, 'update');
  assert.is(forced.parts![0]!.reason, '--force: the hand-written entry is overwritten');
});

test('ownership is per client and config path: our entry in one file does not make a same-named entry in another file ours', () => {
  const s = { ...spec(), clients: ['cursor'] as ClientId[] };
  const hand = '{\n  "mcpServers": {\n    "mem": { "command": "npx", "args": ["mem"] }\n  }\n}\n';
  const registry = JSON.stringify({ servers: { mem: registryEntry(s, ['cursor']) } });
  // state: pmoves wrote cursor's entry, but in another file (the config path moved)
  const prior: StateEntry = { section: 'mcp', owned: true, data: { clients: { cursor: '/elsewhere/mcp.json' }, registry: '/pm/mcp/registry.json' } };
  const r = mcpKind.plan(target(s, prior), actual(s, { cursor: hand }, registry), planCtx());
  assert.ok(r.conflicts?.length, 'the hand-written entry at the new path is a conflict, not ours to overwrite');
  assert.not.ok(r.parts?.some((p) => p.action !== 'no-op' && /cursor/.test(p.address)), 'nothing written to it');
});

test('ownership is per place in the file too: our Claude Code entry in local scope does not make the user-scope entry ours', () => {
  const s = spec({ clients: ['claude-code'], scope: 'user' });
  assert.is(s.paths['claude-code'], '/h/.claude.json');
  // the user's own server of that name at the top level (user scope); pmoves wrote the local-scope one
  const hand = '{\n  "mcpServers": {\n    "mem": { "type": "stdio", "command": "npx", "args": ["mem"] }\n  }\n}\n';
  const registry = JSON.stringify({ servers: { mem: registryEntry(s, ['claude-code']) } });
  const prior: StateEntry = { section: 'mcp', owned: true, data: { clients: { 'claude-code': '/h/.claude.json' }, at: { 'claude-code': ['projects', '/p', 'mcpServers'] }, registry: '/pm/mcp/registry.json' } };
  const r = mcpKind.plan(target(s, prior), actual(s, { 'claude-code': hand }, registry), planCtx());
  assert.ok(r.conflicts?.length, 'the hand-written user-scope entry is a conflict, not ours to overwrite');
  assert.not.ok(r.parts?.some((p) => p.action !== 'no-op' && /"args": \[\s*"srv.js"/.test(JSON.stringify(p.after))), 'ours is not written over it');
  // local scope: the servers' map under projects[DIR]
  assert.equal(spec({ clients: ['claude-code'], scope: 'local' }).at['claude-code'], ['projects', '/p', 'mcpServers']);
  assert.equal(spec({ clients: ['claude-code'] }).paths['claude-code'], '/p/.mcp.json');
});

test('an identical hand-written entry is adopted silently (and stays the user\'s)', () => {
  const s = { ...spec(), clients: ['cursor'] as ClientId[] };
  const same = CLIENTS.cursor.edit(null, 'mem', (CLIENTS.cursor.entry(s) as { entry: Record<string, unknown> }).entry);
  const r = mcpKind.plan(target(s), actual(s, { cursor: same }), planCtx());
  assert.is(r.action, 'create', 'only the registry changes');
  assert.equal(r.parts, []);
  assert.not.ok(r.diagnostics!.some((d) => /conflict/.test(d.summary)));
});

test('after an apply that failed half-way (pending), an identical entry is taken back as ours', () => {
  const s = { ...spec(), clients: ['cursor'] as ClientId[] };
  const same = CLIENTS.cursor.edit(null, 'mem', (CLIENTS.cursor.entry(s) as { entry: Record<string, unknown> }).entry);
  const r = mcpKind.plan(target(s, { section: 'mcp', owned: true, pending: 'create' }), actual(s, { cursor: same }), planCtx());
  assert.is(r.action, 'create', 'the registry is still to write');
  assert.equal(r.parts!.map((p) => [p.name, p.action]), [['mem.cursor', 'no-op']], 'in the file already, and ours');
});

test('a client dropped from the list: its entry is removed from the old file', () => {
  const s = { ...spec(), clients: ['crush'] as ClientId[] };
  const crush = CLIENTS.crush.edit(null, 'mem', (CLIENTS.crush.entry(s) as { entry: Record<string, unknown> }).entry);
  const oldCursor = CLIENTS.cursor.edit('{\n  "mcpServers": {\n    "mine": {}\n  }\n}\n', 'mem', { command: 'node' });
  const registry = JSON.stringify({ servers: { mem: registryEntry(s, ['crush']) } }, null, 2) + '\n';
  const prior = owned(spec(), ['cursor', 'crush']);
  const r = mcpKind.plan(target(s, prior), actual(s, { crush }, registry, { cursor: file('cursor', '/h/.cursor/mcp.json', oldCursor) }), planCtx());
  assert.is(r.action, 'update');
  const part = r.parts!.find((p) => p.name === 'mem.cursor')!;
  assert.match(part.reason, 'cursor is no longer listed');
  assert.is(Object.values(part.after as Record<string, string>)[0], '{\n  "mcpServers": {\n    "mine": {}\n  }\n}\n');
});

test('not declared any more: delete, only where pmoves wrote it', () => {
  const s = spec();
  const cursor = CLIENTS.cursor.edit(null, 'mem', { command: 'node' });
  const registry = JSON.stringify({ servers: { mem: registryEntry(s, ['cursor']) } });
  const r = mcpKind.plan(target(null, owned(s, ['cursor'])), { ...actual(s, {}, registry), clients: [], files: {}, stale: { cursor: file('cursor', s.paths.cursor, cursor) } }, planCtx());
  assert.is(r.action, 'delete');
  assert.is(r.verb, 'unregistered');
  assert.is(r.parts![0]!.reason, 'the entry pmoves wrote is removed');
});

test('unsupported transports and unparsable files are diagnostics, not changes', () => {
  const s = mcpKind.normalize({ url: 'http://127.0.0.1:9/sse', transport: 'sse', clients: ['codex', 'claude-desktop', 'crush'] }, 'mem', ctx);
  const a = actual(s, {});
  a.files.crush = { path: s.paths.crush, text: '{ "mcp": ', mode: null, entry: undefined, error: { message: 'invalid JSON: ValueExpected', line: 1, column: 10 } };
  const r = mcpKind.plan(target(s), a, planCtx());
  const ds = r.diagnostics!.map((d) => `${d.severity}: ${d.location ?? ''} ${d.summary}`);
  assert.ok(ds.some((d) => d.startsWith('warning:') && d.includes('not registered with codex: Codex does not speak the SSE transport')));
  assert.ok(ds.some((d) => d.startsWith('warning:') && d.includes('not registered with claude-desktop')));
  assert.ok(ds.some((d) => d.startsWith(`error: ${s.paths.crush}:1:10`)));
});

test('a client that cannot hold the server any more loses the entry pmoves wrote there', () => {
  const before = mcpKind.normalize({ url: 'http://127.0.0.1:9/mcp', clients: ['codex'] }, 'mem', ctx);
  const codex = CLIENTS.codex.edit('model = "o3"\n', 'mem', (CLIENTS.codex.entry(before) as { entry: Record<string, unknown> }).entry);
  const now = mcpKind.normalize({ url: 'http://127.0.0.1:9/sse', transport: 'sse', clients: ['codex'] }, 'mem', ctx);
  const r = mcpKind.plan(target(now, owned(now, ['codex'])), actual(now, { codex }), planCtx());
  assert.is(r.action, 'update');
  assert.match(r.diagnostics![0]!.summary, 'not registered with codex');
  const part = r.parts!.find((p) => p.name === 'mem.codex')!;
  assert.match(part.reason, 'codex cannot hold this server any more');
  assert.is(Object.values(part.after as Record<string, string>)[0], 'model = "o3"\n');
});

test('readiness: a failed probe or missing commands are warnings; describe says ready with the tool count', () => {
  const s = { ...spec(), clients: [] as ClientId[], required_commands: ['docker'] };
  const a = actual(s, {});
  a.missing = ['docker'];
  const r = mcpKind.plan(target(s), a, planCtx());
  assert.equal(r.diagnostics!.map((d) => [d.severity, d.summary]), [['warning', 'not ready: missing commands: docker']]);
  const ok = { ...actual(s, {}), volatile: { probe: { ok: true as const, tools: ['a', 'b'], server: 's 1', transport: 'stdio', ms: 5 } } };
  assert.equal(mcpKind.describe!(target(s), ok), ['ready, 2 tools']);
  const bad = { ...actual(s, {}), volatile: { probe: { ok: false as const, error: 'handshake timed out after 10 s', stderr: 'line1\nline2', ms: 10000 } } };
  const rb = mcpKind.plan(target(s), bad, planCtx());
  assert.equal(rb.diagnostics![0]!.summary, 'not ready: handshake timed out after 10 s');
  assert.is(rb.diagnostics![0]!.detail, 'stderr: line1\nline2');
});

test('no clients and no mcp_clients: every agent whose config folder exists here', async () => {
  const t = tempDir();
  try {
    const home = t.dir;
    for (const d of ['.cursor', '.codex', '.claude', 'project/.vscode']) mkdirSync(nodePath.join(home, d), { recursive: true });
    const env = { HOME: home };
    const c: LoadContext = { ...ctx, env, manifestDir: nodePath.join(home, 'project'), resolvePath: (p) => resolveUserPath(p, nodePath.join(home, 'project'), env) };
    const s = mcpKind.normalize({ command: 'x' }, 'mem', c);
    assert.is(s.clients, null);
    assert.equal(await detectClients(s, env), ['codex', 'claude-code', 'cursor', 'vscode']);
  } finally {
    t.cleanup();
  }
});

test.run();
