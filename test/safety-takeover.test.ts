// The one takeover rule for every path a kind writes (env files, model files, agent config files):
// never inside $PMOVES_HOME, never a FIFO/device/folder, never over a file this tool did not create
// without --force; `validate` says so at file:line:column. And the messages: OS errors on a path name
// the path and say it in words (never `internal error`), long values are cut, control characters escaped.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, repoRoot, tempDir } from './helpers.js';

const out = (r: { stdout?: unknown; stderr?: unknown }) => `${String(r.stdout)}\n${String(r.stderr)}`;
const bundle = path.join(repoRoot, 'examples', 'quickstart', 'env.cgp.json');
const t = tempDir('pmoves-takeover-');
const pm = path.join(t.dir, 'pm');
const home = path.join(t.dir, 'home');
mkdirSync(home, { recursive: true });
const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), CODEX_HOME: path.join(home, '.codex'), CLAUDE_CONFIG_DIR: undefined };
let n = 0;
function run(yaml: string, args: string[]) {
  const m = path.join(t.dir, `m${++n}.yaml`);
  writeFileSync(m, `apiVersion: pmoves.ai/mini/v1\n${yaml}`);
  return cli(['mini', ...args, '-m', m], { home: pm, cwd: t.dir, env }).then((r) => ({ ...r, name: path.basename(m) }));
}

const model = Buffer.from('model bytes\n');
const sha = createHash('sha256').update(model).digest('hex');
let server: http.Server;
let url = '';

test.before(async () => {
  server = http.createServer((_q, res) => res.writeHead(200, { 'content-length': model.length }).end(model));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/m.bin`;
  const first = await run('', ['apply', '--auto-approve']);
  assert.is(first.exitCode, 0, out(first));
});

test.after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  t.cleanup();
});

test('inside $PMOVES_HOME is never a target: model path, MCP config_paths, env_file (also through a symlink)', async () => {
  const key = path.join(pm, 'state.key');
  const before = readFileSync(key);
  symlinkSync(pm, path.join(t.dir, 'pm-link'));
  const cases: [string, string][] = [
    [`models:\n  g: { provider: file, url: "${url}", sha256: "${sha}", path: pm/state.key }\n`, 'models.g.path'],
    [`models:\n  g: { provider: file, url: "${url}", sha256: "${sha}", path: pm-link/state.json }\n`, 'models.g.path'],
    ['mcp:\n  s:\n    command: "true"\n    clients: [claude-code]\n    config_paths: { claude-code: pm/state.json }\n', 'mcp.s.config_paths.claude-code'],
    [`secrets:\n  e: { bundle: ${bundle}, env_file: pm-link/x.env }\n`, 'secrets.e.env_file'],
  ];
  for (const [yaml, what] of cases) {
    for (const cmd of [['validate'], ['apply', '--auto-approve', '--no-probe']]) {
      const r = await run(yaml, cmd);
      assert.is(r.exitCode, 1, out(r));
      assert.match(String(r.stderr), new RegExp(`${r.name}:\\d+:\\d+: ${what.replace(/\./g, '\\.')}: .* is inside \\$PMOVES_HOME`), out(r));
    }
  }
  assert.ok(readFileSync(key).equals(before), 'state.key unchanged');
  assert.is(statSync(key).mode & 0o777, 0o600);
  // the default place of model files, $PMOVES_HOME/models, stays allowed
  const ok = await run(`models:\n  d: { provider: file, url: "${url}", sha256: "${sha}" }\n`, ['validate']);
  assert.is(ok.exitCode, 0, out(ok));
});

test("a model path naming the user's file is not replaced without --force; with it, the plan says it takes it over", async () => {
  const notes = path.join(t.dir, 'notes.txt');
  writeFileSync(notes, 'my notes\n');
  const yaml = `models:\n  n: { provider: file, url: "${url}", sha256: "${sha}", path: notes.txt }\n`;
  const plan = await run(yaml, ['plan']);
  assert.is(plan.exitCode, 1, out(plan));
  assert.match(out(plan), `will not replace ${notes}: pmoves did not download it`);
  const apply = await run(yaml, ['apply', '--auto-approve']);
  assert.is(apply.exitCode, 1, out(apply));
  assert.is(readFileSync(notes, 'utf8'), 'my notes\n');
  const forced = await run(yaml, ['plan', '--force']);
  assert.match(out(forced), `will take over ${notes} (not created by pmoves)`);
  const taken = await run(yaml, ['apply', '--auto-approve', '--force']);
  assert.is(taken.exitCode, 0, out(taken));
  assert.ok(readFileSync(notes).equals(model));
  // once taken over it is ours: removal from the manifest does not delete a file pmoves did not create
  const gone = await run('models: {}\n', ['apply', '--auto-approve']);
  assert.is(gone.exitCode, 0, out(gone));
  assert.ok(readFileSync(notes).equals(model), 'a taken-over file is not deleted on removal (owned stays false)');
});

test('validate refuses a FIFO, a device or a folder where a file is expected, in words, located', async () => {
  execFileSync('mkfifo', [path.join(t.dir, 'fifo')]);
  mkdirSync(path.join(t.dir, 'folder'));
  const cases: [string, string][] = [
    [`secrets:\n  e: { bundle: ${bundle}, env_file: fifo }\n`, 'is a FIFO (named pipe), expected a regular file'],
    [`secrets:\n  e: { bundle: ${bundle}, env_file: /dev/null }\n`, 'is a device, expected a regular file'],
    [`secrets:\n  e: { bundle: ${bundle}, env_file: folder }\n`, 'is a folder, expected a regular file'],
    ['mcp:\n  s:\n    command: "true"\n    clients: [claude-code]\n    config_paths: { claude-code: fifo }\n', 'is a FIFO (named pipe), expected a regular file'],
    [`models:\n  f: { provider: file, url: "${url}", sha256: "${sha}", path: /dev/zero }\n`, 'is a device, expected a regular file'],
    [`secrets:\n  e: { bundle: fifo, env_file: out/b.env }\n`, 'is a FIFO (named pipe), expected a regular file'],
  ];
  for (const [yaml, words] of cases) {
    for (const cmd of [['validate'], ['plan', '--no-probe']]) {
      const r = await run(yaml, cmd);
      assert.is(r.exitCode, 1, out(r));
      assert.match(String(r.stderr), new RegExp(`${r.name}:\\d+:\\d+: .*${words.replace(/[()]/g, '\\$&')}`), out(r));
    }
  }
});

test('OS errors on a path: located and in words, never an internal error; long names cut; escapes never raw', async () => {
  const long = 'x'.repeat(300);
  symlinkSync('loopb', path.join(t.dir, 'loopa'));
  symlinkSync('loopa', path.join(t.dir, 'loopb'));
  const cases: [string, RegExp][] = [
    [`secrets:\n  e: { bundle: ${bundle}, env_file: ${long} }\n`, /:3:\d+: secrets\.e\.env_file: .*x… \(\d+ characters\): name too long .*\(ENAMETOOLONG\)/],
    [`secrets:\n  e: { bundle: ${bundle}, env_file: loopa }\n`, /:3:\d+: secrets\.e\.env_file: .*loopa: too many levels of symbolic links \(ELOOP\)/],
    [`mcp:\n  ${long}: {}\n`, /:3:3: /],
    [`mcp:\n  a: { from: ${long} }\n`, /:3:\d+: mcp\.a\.from: must NOT have more than 128 characters/],
  ];
  for (const [yaml, want] of cases) {
    const r = await run(yaml, ['validate']);
    assert.is(r.exitCode, 1, out(r));
    assert.match(String(r.stderr), want, out(r));
    assert.not.match(out(r), 'internal error');
    for (const line of out(r).split('\n')) assert.ok(line.length < 1200, `a line of ${line.length} characters`);
  }
  const esc = await run(`models:\n  u: { provider: file, url: "http://127.0.0.1:9\\x01\\e[31m/m.bin", sha256: "${sha}", path: out/u.bin }\n`, ['apply', '--auto-approve']);
  assert.is(esc.exitCode, 1, out(esc));
  assert.match(out(esc), '\\u001b[31m');
  assert.not.match(out(esc), /[\u0001\u001b]/, 'no raw control character reaches the terminal');
});

test('messages name the file and line:column: a bundle that is not JSON, a BOM, a huge glob, an empty key, a corrupt registry', async () => {
  writeFileSync(path.join(t.dir, 'pw.json'), 'root:x:0:0:root:/root:/bin/bash\n');
  writeFileSync(path.join(t.dir, 'bom.json'), '\ufeff{}');
  for (const [b, want] of [['pw.json', 'pw.json:1:1: invalid JSON in CHIT bundle'], ['bom.json', 'bom.json:1:1: invalid JSON in CHIT bundle (it starts with a byte-order mark']]) {
    const r = await run(`secrets:\n  e: { bundle: ${b}, env_file: out/x.env }\n`, ['plan']);
    assert.is(r.exitCode, 1, out(r));
    assert.match(out(r), want);
  }
  const glob = await run(`secrets:\n  e: { bundle: ${bundle}, env_file: out/x.env, include_labels: ["${'ab*'.repeat(50_000)}"] }\n`, ['validate']);
  assert.is(glob.exitCode, 1, out(glob));
  assert.match(String(glob.stderr), /:3:\d+: secrets\.e\.include_labels\[0\]: 150000 characters, more than a label's 1024/);
  assert.not.match(out(glob), 'Regular expression');
  // pmoves' own files: an empty state.key is refused, a corrupt registry is named with its position
  const other = path.join(t.dir, 'pm2');
  mkdirSync(other, { recursive: true });
  writeFileSync(path.join(other, 'state.key'), '');
  const m = path.join(t.dir, 'empty.yaml');
  writeFileSync(m, 'apiVersion: pmoves.ai/mini/v1\n');
  const key = await cli(['mini', 'plan', '-m', m], { home: other, cwd: t.dir, env });
  assert.is(key.exitCode, 1, out(key));
  assert.match(String(key.stderr), `${path.join(other, 'state.key')}: the state key is 0 bytes`);
  mkdirSync(path.join(pm, 'mcp'), { recursive: true });
  writeFileSync(path.join(pm, 'mcp', 'registry.json'), '{ "servers": { oops');
  const reg = await run('mcp:\n  srv:\n    command: "true"\n    clients: [cursor]\n', ['plan', '--no-probe']);
  assert.is(reg.exitCode, 1, out(reg));
  assert.match(out(reg), new RegExp(`${path.join(pm, 'mcp', 'registry.json').replace(/[.]/g, '\\.')}:1:\\d+: `));
});

test.run();
