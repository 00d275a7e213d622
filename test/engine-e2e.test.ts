// The engine end to end: the built CLI, spawned as a user would, on real files in temp folders.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, cliSpawn, fixtures, tempDir, waitFor } from './helpers.js';

const t = suite('engine-e2e');
const expected = JSON.parse(readFileSync(path.join(fixtures, 'chit', 'expected.json'), 'utf8')) as Record<string, string>;
/** Every secret value in the fixture bundle, and the parts of the multi-line one. */
const secretValues = Object.values(expected).flatMap((v) => [v, ...v.split('\n')]).filter((v) => v.length >= 6);

let dir: string;
let home: string;
let cleanup: () => void;

t.before.each(() => {
  ({ dir, cleanup } = tempDir());
  home = path.join(dir, 'home');
  copyFileSync(path.join(fixtures, 'chit', 'env.cleartext.cgp.json'), path.join(dir, 'env.cgp.json'));
});
t.after.each(() => cleanup());

const MANIFEST = `apiVersion: pmoves.ai/mini/v1
secrets:
  shared:
    bundle: env.cgp.json
    env_file: out/env.shared
    include_labels: ["SUPABASE_*", MEILI_MASTER_KEY]
    required: [SUPABASE_URL]
  unicode:
    bundle: env.cgp.json
    env_file: out/env.unicode
    include_labels: [TEST_UNICODE_VALUE, DISCORD_*]
    mode: "0640"
    depends_on: [secrets.shared]
`;

function write(text = MANIFEST, name = 'pmoves.mini.yaml'): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

const run = (args: string[], extra: { env?: Record<string, string> } = {}) => cli(['mini', ...args], { cwd: dir, home, env: extra.env });

function assertNoSecrets(text: string, where: string) {
  for (const v of secretValues) assert.not.ok(text.includes(v), `${where} contains a secret value`);
}

t('plan → apply → plan is "No changes."; a second apply leaves the files untouched', async () => {
  write();
  const p1 = await run(['plan']);
  assert.is(p1.exitCode, 0, String(p1.stderr));
  assert.match(String(p1.stdout), /# secrets\.shared will be created/);
  assert.match(String(p1.stdout), /\+ SUPABASE_URL\s+= \(sensitive value\)/);
  assert.match(String(p1.stdout), /Plan: 2 to add, 0 to change, 0 to destroy\.\n?$/, String(p1.stdout));

  const a1 = await run(['apply', '--auto-approve']);
  assert.is(a1.exitCode, 0, String(a1.stderr));
  assert.match(String(a1.stdout), /Apply complete! Resources: 2 added, 0 changed, 0 destroyed\./);
  const shared = path.join(dir, 'out', 'env.shared');
  assert.is(readFileSync(shared, 'utf8'), readFileSync(path.join(fixtures, 'chit', 'env-generation', 'env.shared.generated'), 'utf8'));
  assert.is(statSync(shared).mode & 0o777, 0o600);
  assert.is(statSync(path.join(dir, 'out', 'env.unicode')).mode & 0o777, 0o640);

  const p2 = await run(['plan', '--detailed-exitcode']);
  assert.is(p2.exitCode, 0);
  assert.is(String(p2.stdout).trim(), 'No changes. Actual state matches the manifest.');

  const mtime = statSync(shared).mtimeMs;
  const a2 = await run(['apply', '--auto-approve']);
  assert.is(a2.exitCode, 0);
  assert.match(String(a2.stdout), /No changes\./);
  assert.is(statSync(shared).mtimeMs, mtime);

  const st = await run(['status']);
  assert.is(st.exitCode, 0);
  assert.match(String(st.stdout), /secrets\.shared\s+in-sync\s+in sync; 3 keys/);
  for (const out of [p1, a1, p2, a2, st]) assertNoSecrets(String(out.stdout) + String(out.stderr), 'output');
  assertNoSecrets(readFileSync(path.join(home, 'audit.jsonl'), 'utf8'), 'audit log');
  assertNoSecrets(readFileSync(path.join(home, 'state.json'), 'utf8'), 'state');
  const audit = readFileSync(path.join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(audit.map((a) => [a.address, a.action, a.outcome]), [
    ['secrets.shared', 'create', 'created'],
    ['secrets.unicode', 'create', 'created'],
  ]);
  assert.ok(audit.every((a) => a.manifest_digest && a.user && a.time));
});

t('drift: a hand edit and a mode change are planned with reasons and repaired', async () => {
  write();
  assert.is((await run(['apply', '--auto-approve'])).exitCode, 0);
  const shared = path.join(dir, 'out', 'env.shared');
  writeFileSync(shared, readFileSync(shared, 'utf8').replace(/^MEILI_MASTER_KEY=.*$/m, 'MEILI_MASTER_KEY=changed-by-hand') + 'EXTRA=1\n');
  await fsp.chmod(shared, 0o644);
  const p = await run(['plan', '--detailed-exitcode']);
  assert.is(p.exitCode, 2);
  assert.match(String(p.stdout), /# secrets\.shared will be updated in-place \(because keys changed: MEILI_MASTER_KEY; keys removed: EXTRA; file mode 0644 -> 0600\)/);
  assert.match(String(p.stdout), /~ MEILI_MASTER_KEY = \(sensitive value\) -> \(sensitive value\)/);
  assert.match(String(p.stdout), /- EXTRA\s+= \(sensitive value\)/);
  assert.not.match(String(p.stdout), /changed-by-hand/);
  const st = await run(['status']);
  assert.match(String(st.stdout), /secrets\.shared\s+drifted\s+keys changed: MEILI_MASTER_KEY/);
  assert.is((await run(['apply', '--auto-approve'])).exitCode, 0);
  assert.is(String((await run(['plan'])).stdout).trim(), 'No changes. Actual state matches the manifest.');
  unlinkSync(shared);
  const st2 = await run(['status']);
  assert.match(String(st2.stdout), /secrets\.shared\s+missing/);
});

t('plan --json: the documented shape, values masked', async () => {
  write();
  const r = await run(['plan', '--json']);
  assert.is(r.exitCode, 0);
  const j = JSON.parse(String(r.stdout));
  assert.is(j.format_version, '1.0');
  assert.match(j.manifest_digest, /^[0-9a-f]{64}$/);
  assert.equal(j.summary, { add: 2, change: 0, destroy: 0, blocked: 0, unreadable: 0, conflict: 0 });
  assert.equal(j.diagnostics, []);
  const c = j.resource_changes[0];
  assert.equal(Object.keys(c), ['address', 'section', 'name', 'action', 'reason', 'before', 'after', 'patch']);
  assert.is(c.address, 'secrets.shared');
  assert.is(c.action, 'create');
  assert.is(c.before, null);
  assert.is(c.after.keys.SUPABASE_URL, '(sensitive value)');
  assert.ok(c.patch.some((op: { op: string; path: string; value: unknown }) => op.op === 'add' && op.path === '/keys' && JSON.stringify(op.value).includes('(sensitive value)')));
  assertNoSecrets(String(r.stdout), 'plan --json');
});

t('a missing required label and a multi-line value are plan errors; nothing is written', async () => {
  write(`apiVersion: pmoves.ai/mini/v1
secrets:
  a:
    bundle: env.cgp.json
    env_file: out/a.env
    required: [SUPABASE_URL, CHIT_PASSPHRASE]
  b:
    bundle: env.cgp.json
    env_file: out/b.env
`);
  const p = await run(['plan']);
  assert.is(p.exitCode, 1);
  assert.match(String(p.stdout), /! secrets\.a cannot be written: required label missing from the bundle: CHIT_PASSPHRASE/);
  assert.match(String(p.stdout), /! secrets\.b cannot be written: value of TEST_MULTILINE_VALUE contains a newline/);
  const a = await run(['apply', '--auto-approve']);
  assert.is(a.exitCode, 1);
  assert.match(String(a.stdout), /Apply cancelled: the plan has errors\./);
  assert.not.ok(existsSync(path.join(dir, 'out')));
  assertNoSecrets(String(p.stdout) + String(a.stdout), 'error output');
});

t('broken manifests: exit 1, file:line:column, no stack trace', async () => {
  const cases: [string, string, RegExp][] = [
    ['bad YAML', 'apiVersion: pmoves.ai/mini/v1\nsecrets:\n  a: [\n', /^Error: pmoves\.mini\.yaml:\d+:\d+: invalid YAML/m],
    ['wrong type', 'apiVersion: pmoves.ai/mini/v1\nsecrets:\n  a:\n    bundle: env.cgp.json\n    env_file: 3\n', /^Error: pmoves\.mini\.yaml:5:15: secrets\.a\.env_file: expected string, got number 3$/m],
    ['unknown key', 'apiVersion: pmoves.ai/mini/v1\nsecrets:\n  a:\n    bundel: env.cgp.json\n    env_file: x\n', /^Error: pmoves\.mini\.yaml:4:5: secrets\.a\.bundel: unknown key "bundel" \(did you mean "bundle"\?\)$/m],
    ['missing bundle', 'apiVersion: pmoves.ai/mini/v1\nsecrets:\n  a:\n    bundle: gone.json\n    env_file: x\n', /^Error: pmoves\.mini\.yaml:4:13: secrets\.a\.bundle: no such file: /m],
    ['cycle', 'apiVersion: pmoves.ai/mini/v1\nsecrets:\n  a:\n    bundle: env.cgp.json\n    env_file: a\n    depends_on: [secrets.b]\n  b:\n    bundle: env.cgp.json\n    env_file: b\n    depends_on: [secrets.a]\n', /^Error: pmoves\.mini\.yaml:6:18: dependency cycle: secrets\.a -> secrets\.b -> secrets\.a$/m],
  ];
  for (const [name, text, re] of cases) {
    write(text);
    for (const cmd of [['validate'], ['plan'], ['apply', '--auto-approve'], ['status']]) {
      const r = await run(cmd);
      assert.is(r.exitCode, 1, `${name}: ${cmd[0]}`);
      assert.match(String(r.stderr), re, `${name}: ${cmd[0]}: ${String(r.stderr)}`);
      assert.not.match(String(r.stderr), /\n\s+at /, `${name}: stack trace`);
    }
  }
  const none = await cli(['mini', 'plan', '-m', 'nope.yaml'], { cwd: dir, home });
  assert.is(none.exitCode, 1);
  assert.match(String(none.stderr), /^Error: nope\.yaml: no such file$/m);
  const bad = await cli(['mini', 'plan', '--parallelism', '0'], { cwd: dir, home });
  assert.is(bad.exitCode, 1);
  assert.match(String(bad.stderr), /--parallelism: expected a whole number >= 1, got "0"/);
  const badBundle = path.join(dir, 'env.cgp.json');
  write();
  writeFileSync(badBundle, '{\n  "super_nodes": [ {"constellations": [ {"label": "K", "points": [{"text": "s3cr3t-value"}] } ] ]\n}');
  const r = await run(['plan']);
  assert.is(r.exitCode, 1);
  assert.match(String(r.stdout), /! secrets\.shared could not read actual state: env\.cgp\.json:2:\d+: invalid JSON in CHIT bundle/);
  assert.not.match(String(r.stdout) + String(r.stderr), /s3cr3t/);
});

t('global options work before or after the command name; --target limits to a resource and its dependencies', async () => {
  write(MANIFEST, 'custom.yaml');
  const before = await cli(['mini', '--manifest', 'custom.yaml', '--json', 'plan', '--target', 'secrets.unicode'], { cwd: dir, home });
  const after = await cli(['mini', 'plan', '--target', 'secrets.unicode', '--json', '--manifest', 'custom.yaml'], { cwd: dir, home });
  assert.is(before.exitCode, 0, String(before.stderr));
  const j1 = JSON.parse(String(before.stdout));
  const j2 = JSON.parse(String(after.stdout));
  assert.equal(j1.resource_changes.map((c: { address: string }) => c.address), ['secrets.shared', 'secrets.unicode']);
  assert.equal(j2.resource_changes.map((c: { address: string }) => c.address), j1.resource_changes.map((c: { address: string }) => c.address));
  const only = await cli(['mini', 'apply', '-m', 'custom.yaml', '--auto-approve', '--target', 'secrets.shared'], { cwd: dir, home });
  assert.match(String(only.stdout), /Resources: 1 added/);
  assert.not.ok(existsSync(path.join(dir, 'out', 'env.unicode')));
  const unknown = await cli(['mini', 'plan', '-m', 'custom.yaml', '--target', 'secrets.nope'], { cwd: dir, home });
  assert.is(unknown.exitCode, 1);
  assert.match(String(unknown.stderr), /--target secrets\.nope: no such resource/);
});

t('a resource removed from the manifest is destroyed only if this tool created it', async () => {
  write();
  mkdirOut();
  writeFileSync(path.join(dir, 'out', 'env.unicode'), 'HAND=made\n'); // exists before: not ours
  assert.is((await run(['apply', '--auto-approve'])).exitCode, 1, 'not replaced without --force');
  assert.is((await run(['apply', '--auto-approve', '--force'])).exitCode, 0, 'taken over, still not ours');
  write(`apiVersion: pmoves.ai/mini/v1\nsecrets: {}\n`);
  const p = await run(['plan']);
  assert.match(String(p.stdout), /# secrets\.shared will be destroyed \(because it is no longer in the manifest and this tool created it\)/);
  assert.not.match(String(p.stdout), /secrets\.unicode will be destroyed/);
  assert.match(String(p.stdout), /Plan: 0 to add, 0 to change, 1 to destroy\./);
  const a = await run(['apply', '--auto-approve']);
  assert.is(a.exitCode, 0, String(a.stdout));
  assert.not.ok(existsSync(path.join(dir, 'out', 'env.shared')));
  assert.ok(existsSync(path.join(dir, 'out', 'env.unicode')));
  const state = JSON.parse(readFileSync(path.join(home, 'state.json'), 'utf8'));
  assert.equal(Object.keys(state.resources), []);
  assert.is(String((await run(['plan'])).stdout).trim(), 'No changes. Actual state matches the manifest.');
});

function mkdirOut() {
  execFileSync('mkdir', ['-p', path.join(dir, 'out')]);
}

t('a failed resource stops only its dependents', async () => {
  mkdirOut();
  // out/blocked is a file, so out/blocked/x.env cannot be written
  writeFileSync(path.join(dir, 'out', 'blocked'), '');
  write(`apiVersion: pmoves.ai/mini/v1
secrets:
  broken:
    bundle: env.cgp.json
    env_file: out/blocked/x.env
    include_labels: [SUPABASE_URL]
  child:
    bundle: env.cgp.json
    env_file: out/child.env
    include_labels: [SUPABASE_URL]
    depends_on: [secrets.broken]
  independent:
    bundle: env.cgp.json
    env_file: out/independent.env
    include_labels: [SUPABASE_URL]
`);
  const a = await run(['apply', '--auto-approve']);
  assert.is(a.exitCode, 1);
  const out = String(a.stdout);
  assert.match(out, /Apply failed: 1 failed, 1 skipped\. Resources: 1 added, 0 changed, 0 destroyed\./);
  assert.match(out, /Error: secrets\.broken: /);
  assert.match(out, /Skipped: secrets\.child: depends on secrets\.broken, which did not apply/);
  assert.ok(existsSync(path.join(dir, 'out', 'independent.env')));
  assert.not.ok(existsSync(path.join(dir, 'out', 'child.env')));
  const audit = readFileSync(path.join(home, 'audit.jsonl'), 'utf8');
  assert.match(audit, /"address":"secrets\.broken","action":"create","outcome":"failed"/);
});

t('saved plans: apply FILE applies exactly it, and refuses when the actual state changed', async () => {
  write();
  const p = await run(['plan', '--out', 'tfplan']);
  assert.is(p.exitCode, 0);
  assert.is(statSync(path.join(dir, 'tfplan')).mode & 0o777, 0o600);
  // the manifest changes after the plan was saved: the saved plan still applies what it showed
  write(MANIFEST.replace('out/env.unicode', 'out/other.unicode'));
  const a = await run(['apply', 'tfplan']);
  assert.is(a.exitCode, 0, String(a.stdout) + String(a.stderr));
  assert.ok(existsSync(path.join(dir, 'out', 'env.unicode')));
  assert.not.ok(existsSync(path.join(dir, 'out', 'other.unicode')));

  write();
  const p2 = await run(['plan', '--out', 'stale.plan']);
  assert.is(p2.exitCode, 0);
  writeFileSync(path.join(dir, 'out', 'env.shared'), 'SOMEONE=edited\n');
  const stale = await run(['apply', 'stale.plan']);
  assert.is(stale.exitCode, 1);
  assert.match(String(stale.stderr), /saved plan is stale/);
  assert.is(readFileSync(path.join(dir, 'out', 'env.shared'), 'utf8'), 'SOMEONE=edited\n');
  const notPlan = await run(['apply', 'pmoves.mini.yaml']);
  assert.is(notPlan.exitCode, 1);
  assert.match(String(notPlan.stderr), /not a saved plan/);
});

/**
 * A loopback HTTP server serving one model file, which holds every GET while `held` (an apply then
 * stays in the middle of its download, holding the lock). A FIFO used to play this part; FIFOs are now
 * refused before reading (issue 13).
 */
async function heldServer() {
  const body = Buffer.from('model bytes '.repeat(100));
  const sha256 = createHash('sha256').update(body).digest('hex');
  let held = true;
  const waiting: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && held) return void waiting.push(res);
    res.writeHead(200, { 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/m.bin`;
  return {
    model: (extra = '') => `models:\n  m:\n    provider: file\n    url: ${url}\n    sha256: ${sha256}\n    size: ${body.length}\n    path: out/m.bin\n${extra}`,
    release() {
      held = false;
      for (const res of waiting.splice(0)) res.destroy();
    },
    close: () => new Promise<void>((r) => {
      for (const res of waiting.splice(0)) res.destroy();
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

t('a second apply is refused while the first runs, naming the holder; a dead holder\'s lock is taken over', async () => {
  // the first apply waits for its model download (a server that holds the request), holding the lock
  const srv = await heldServer();
  write(MANIFEST + srv.model());
  const first = cliSpawn(['mini', 'apply', '--auto-approve'], { cwd: dir, home });
  try {
    await waitFor(() => existsSync(path.join(home, 'lock')), 'the first apply to take the lock');
    const second = await run(['apply', '--auto-approve']);
    assert.is(second.exitCode, 1);
    assert.match(String(second.stderr), new RegExp(`another pmoves mini is running: pid ${first.pid} on .* \\(apply, since .*\\) holds .*lock`));
    assert.not.match(String(second.stderr), /\n\s+at /);
  } finally {
    first.kill('SIGKILL');
    await first;
  }
  srv.release();
  try {
    const third = await run(['apply', '--auto-approve']);
    assert.is(third.exitCode, 0, String(third.stdout) + String(third.stderr));
    assert.match(String(third.stdout), /Apply complete! Resources: \d added/);
    assert.ok(existsSync(path.join(dir, 'out', 'm.bin')));
    assert.not.ok(existsSync(path.join(home, 'lock')), 'lock released after apply');
  } finally {
    await srv.close();
  }
});

t('kill -9 in the middle of apply, then apply again: converges; the stale lock is taken over', async () => {
  const srv = await heldServer();
  write(`apiVersion: pmoves.ai/mini/v1
secrets:
  first:
    bundle: env.cgp.json
    env_file: out/first.env
    include_labels: [SUPABASE_*]
${srv.model('    depends_on: [secrets.first]\n')}`);
  // the model's download (after secrets.first) is held by the server: apply is killed in the middle of it
  const p = cliSpawn(['mini', 'apply', '--auto-approve'], { cwd: dir, home });
  try {
    await waitFor(() => existsSync(path.join(dir, 'out', 'first.env')), 'the first resource to be applied');
    await waitFor(() => JSON.parse(readFileSync(path.join(home, 'state.json'), 'utf8')).resources['secrets.first']?.applied_at, 'state of the first resource');
    p.kill('SIGKILL');
    await p;
  } finally {
    p.kill('SIGKILL');
  }
  try {
    assert.ok(existsSync(path.join(home, 'lock')), 'the killed apply left its lock');
    assert.not.ok(existsSync(path.join(dir, 'out', 'm.bin')));
    assert.equal(readdirSync(path.join(dir, 'out')).filter((f) => f.endsWith('.tmp')), [], 'no half-written temp files');
    srv.release();
    const again = await run(['apply', '--auto-approve']);
    assert.is(again.exitCode, 0, String(again.stdout) + String(again.stderr));
    assert.match(String(again.stdout), /Resources: 1 added, 0 changed, 0 destroyed\./);
    assert.ok(existsSync(path.join(dir, 'out', 'm.bin')));
    assert.is(String((await run(['plan'])).stdout).trim(), 'No changes. Actual state matches the manifest.');
  } finally {
    await srv.close();
  }
});

t('internal errors print one line and how to get the trace', async () => {
  write();
  writeFileSync(path.join(home + '-file'), 'x');
  // PMOVES_HOME pointing at a file makes mkdir fail: not a user error with a message of ours
  const r = await cli(['mini', 'apply', '--auto-approve'], { cwd: dir, home: home + '-file' });
  assert.is(r.exitCode, 1);
  const err = String(r.stderr);
  // a refusal of the file system is said plainly (issue 13), with the path; --debug still has the trace
  assert.match(err, /^Error: .*home-file\/state\.json: a part of the path is not a folder \(ENOTDIR\)/);
  assert.not.match(err, /\n\s+at /);
  const d = await cli(['mini', 'apply', '--auto-approve', '--debug'], { cwd: dir, home: home + '-file' });
  assert.match(String(d.stderr), /\n\s+at /);
});

t('no colour when not on a TTY, and NO_COLOR honoured', async () => {
  write();
  const r = await cli(['mini', 'plan'], { cwd: dir, home, env: { NO_COLOR: '' } });
  assert.not.match(String(r.stdout), /\x1b\[/);
});

t.run();
