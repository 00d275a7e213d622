// `pmoves mini secrets …` as a user runs them: the built CLI on real files, own PMOVES_HOME per test.
import { execa } from 'execa';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeBundle, type CgpBundle } from '../src/providers/chit/bundle.js';
import { cli, cliPath, fixtures, tempDir, waitFor } from './helpers.js';

const t = suite('secrets-commands');
const chit = path.join(fixtures, 'chit');
const read = (f: string) => readFileSync(path.join(chit, f), 'utf8');
const expected = JSON.parse(read('expected.json')) as Record<string, string>;
const PASS = 'test-chit-passphrase';
const withoutCreatedAt = (s: string) => s.replace(/"created_at": "[^"]*"/, '"created_at": ""');
const valuesIn = (file: string) => decodeBundle(JSON.parse(readFileSync(file, 'utf8')) as CgpBundle);

/** No value of `values` appears in any of the texts. */
function assertNoValue(values: string[], ...texts: unknown[]) {
  const all = texts.map(String).join('\n');
  for (const v of values) if (v.length >= 4) assert.not.ok(all.includes(v), `a value leaked: ${v.slice(0, 3)}…`);
}
const secretValues = Object.values(expected).flatMap((v) => v.split('\n'));

t('encode: upstream bytes, upstream stdout line, warnings with file:line, mode 0600', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const env = path.join(dir, 'sample.env.shared');
    copyFileSync(path.join(chit, 'encode-sample/sample.env.shared'), env);
    const r = await cli(['mini', 'secrets', 'encode', '--env-file', 'sample.env.shared', '--out', 'out/env.cgp.json'], { cwd: dir, home: path.join(dir, 'h') });
    assert.is(r.exitCode, 0, String(r.stderr));
    assert.is(r.stdout, 'CGP written to out/env.cgp.json');
    const out = path.join(dir, 'out/env.cgp.json');
    assert.is(withoutCreatedAt(readFileSync(out, 'utf8')), withoutCreatedAt(read('encode-sample/sample.cgp.json')));
    assert.is(statSync(out).mode & 0o777, 0o600);
    const err = String(r.stderr);
    assert.match(err, /Warning: sample\.env\.shared:5: MEILI_MASTER_KEY is set again \(first on line 4\); the last value wins/);
    assert.match(err, /Warning: sample\.env\.shared:6: value of QUOTED_VALUE is quoted/);
    assert.match(err, /Warning: sample\.env\.shared:13: key "export EXPORTED"/);
    assertNoValue(['second-value-wins', 'first-value', 'kept with quotes', 'kept-verbatim', 'supabase.example'], r.stdout, r.stderr);

    const b64 = await cli(['mini', 'secrets', 'encode', '--env-file', 'sample.env.shared', '--out', 'b64.json', '--no-cleartext', '--namespace', 'ns.x', '--description', 'D'], { cwd: dir });
    assert.is(b64.exitCode, 0);
    const doc = JSON.parse(readFileSync(path.join(dir, 'b64.json'), 'utf8'));
    assert.is(doc.meta.namespace, 'ns.x');
    assert.is(doc.super_nodes[0].constellations[0].id, 'ns.x-0');
    assert.ok('text_b64' in doc.super_nodes[0].constellations[0].points[0]);
    assert.equal(valuesIn(path.join(dir, 'b64.json')), valuesIn(out));
  } finally {
    cleanup();
  }
});

// (A missing --env-file is reported by Node itself before we run, `node: F: not found`: nodejs/node#54232.)
t('encode: an env file without pairs, non-UTF-8: clear errors, nothing written', async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(path.join(dir, 'empty.env'), '# only a comment\n\nNOPE\n');
    writeFileSync(path.join(dir, 'latin1.env'), Buffer.from([0x41, 0x3d, 0xe9, 0x0a]));
    for (const [file, msg] of [
      ['empty.env', /empty\.env: did not contain any key=value pairs/],
      ['latin1.env', /latin1\.env: not UTF-8 text/],
    ] as const) {
      const r = await cli(['mini', 'secrets', 'encode', '--env-file', file, '--out', 'o.json'], { cwd: dir });
      assert.is(r.exitCode, 1, file);
      assert.match(String(r.stderr), msg);
      assert.not.match(String(r.stderr), /\n\s+at /);
      assert.not.ok(existsSync(path.join(dir, 'o.json')));
    }
  } finally {
    cleanup();
  }
});

t('decode: refuses a multi-line value (nothing written) unless --allow-multiline; then equals upstream', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const refused = await cli(['mini', 'secrets', 'decode', '--bundle', path.join(chit, 'env.b64.cgp.json'), '--out', 'env.decoded'], { cwd: dir });
    assert.is(refused.exitCode, 1);
    assert.match(String(refused.stderr), /the value of TEST_MULTILINE_VALUE contains a newline.*nothing was written/);
    assert.not.ok(existsSync(path.join(dir, 'env.decoded')));
    for (const f of ['env.b64.cgp.json', 'env.cleartext.cgp.json']) {
      const r = await cli(['mini', 'secrets', 'decode', '--bundle', path.join(chit, f), '--out', 'env.decoded', '--allow-multiline'], { cwd: dir });
      assert.is(r.exitCode, 0);
      assert.is(r.stdout, 'Wrote 6 secrets to env.decoded');
      assert.is(readFileSync(path.join(dir, 'env.decoded'), 'utf8'), read('env.decoded'));
      assert.is(statSync(path.join(dir, 'env.decoded')).mode & 0o777, 0o600);
      assertNoValue(secretValues, r.stdout, r.stderr);
    }
    const some = await cli(['mini', 'secrets', 'decode', '--bundle', path.join(chit, 'env.b64.cgp.json'), '--out', 'two.env', '--keys', 'SUPABASE_URL', '--keys', 'MEILI_MASTER_KEY'], { cwd: dir });
    assert.is(some.exitCode, 0);
    assert.is(readFileSync(path.join(dir, 'two.env'), 'utf8'), `MEILI_MASTER_KEY=${expected.MEILI_MASTER_KEY}\nSUPABASE_URL=${expected.SUPABASE_URL}\n`);
    writeFileSync(path.join(dir, 'bad.json'), '{"spec": "chit.cgp.v9", "super_nodes": [{}]}');
    const spec = await cli(['mini', 'secrets', 'decode', '--bundle', 'bad.json', '--out', 'x.env'], { cwd: dir });
    assert.is(spec.exitCode, 1);
    assert.match(String(spec.stderr), /bad\.json: unsupported CGP spec "chit\.cgp\.v9"/);
  } finally {
    cleanup();
  }
});

t('encode → decode round trip of odd values (unicode, =, spaces, quotes) is lossless', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const lines = ['EQ=a=b==c', 'SPACES=  lead and trail  ', `QUOTES="double" 'single'`, 'UNI=héllo wörld ✓ 秘密 🔑', 'EMPTY=', 'HASH=value # not a comment', 'ÉTIQUETTE=x'];
    writeFileSync(path.join(dir, 'odd.env'), lines.join('\n') + '\n');
    for (const extra of [[], ['--no-cleartext']]) {
      const e = await cli(['mini', 'secrets', 'encode', '--env-file', 'odd.env', '--out', 'odd.json', ...extra], { cwd: dir });
      assert.is(e.exitCode, 0);
      assert.not.ok(/[^\x00-\x7f]/.test(readFileSync(path.join(dir, 'odd.json'), 'utf8')), 'bundle is ASCII');
      const d = await cli(['mini', 'secrets', 'decode', '--bundle', 'odd.json', '--out', 'back.env'], { cwd: dir });
      assert.is(d.exitCode, 0);
      const sorted = [...lines].sort((a, b) => (a.split('=')[0]! < b.split('=')[0]! ? -1 : 1));
      assert.is(readFileSync(path.join(dir, 'back.env'), 'utf8'), sorted.join('\n') + '\n');
    }
  } finally {
    cleanup();
  }
});

t('diff: added, removed, changed by label with per-run fingerprints; never a value', async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(path.join(dir, 'new.env'), 'SUPABASE_URL=http://changed.invalid\nMEILI_MASTER_KEY=test-meili-master-key-0000\nNEW_KEY=brand-new-value\n');
    const enc = await cli(['mini', 'secrets', 'encode', '--env-file', 'new.env', '--out', 'new.json'], { cwd: dir });
    assert.is(enc.exitCode, 0);
    const r = await cli(['mini', 'secrets', 'diff', '--bundle', 'new.json', '--against', path.join(chit, 'env.cleartext.cgp.json'), '--detailed-exitcode'], { cwd: dir });
    assert.is(r.exitCode, 2);
    const out = String(r.stdout);
    assert.match(out, /^  \+ NEW_KEY\s+added\s+[0-9a-f]{12}$/m);
    assert.match(out, /^  - DISCORD_WEBHOOK_URL\s+removed\s+[0-9a-f]{12}$/m);
    assert.match(out, /^  ~ SUPABASE_URL\s+changed\s+([0-9a-f]{12}) -> (?!\1)[0-9a-f]{12}$/m);
    assert.not.match(out, /MEILI_MASTER_KEY/);
    assert.match(out, /1 added, 4 removed, 1 changed, 1 unchanged\./);
    assertNoValue([...secretValues, 'http://changed.invalid', 'brand-new-value'], r.stdout, r.stderr);

    const json = await cli(['mini', 'secrets', 'diff', '--json', '--bundle', 'new.json', '--against', 'new.env'], { cwd: dir });
    assert.is(json.exitCode, 0);
    const j = JSON.parse(String(json.stdout));
    assert.equal([j.added, j.removed, j.changed, j.unchanged, j.before.kind], [[], [], [], 3, 'env file']);

    // fingerprints are keyed per run: the same value gets different fingerprints in two runs
    const a = await cli(['mini', 'secrets', 'diff', '--json', '--bundle', 'new.json', '--against', path.join(chit, 'env.cleartext.cgp.json')], { cwd: dir });
    const b = await cli(['mini', 'secrets', 'diff', '--json', '--bundle', 'new.json', '--against', path.join(chit, 'env.cleartext.cgp.json')], { cwd: dir });
    assert.is.not(JSON.parse(String(a.stdout)).added[0].fingerprint, JSON.parse(String(b.stdout)).added[0].fingerprint);
  } finally {
    cleanup();
  }
});

t('sign and verify: equals upstream sign_cgp; a tampered bundle is rejected with a clear message', async () => {
  const { dir, cleanup } = tempDir();
  try {
    copyFileSync(path.join(chit, 'env.cleartext.cgp.json'), path.join(dir, 'b.json'));
    const s = await cli(['mini', 'secrets', 'sign', '--bundle', 'b.json'], { cwd: dir, env: { CHIT_PASSPHRASE: PASS } });
    assert.is(s.exitCode, 0, String(s.stderr));
    assert.is(s.stdout, 'Signed b.json (HMAC-SHA256, key id add84f9b08f3bc28)');
    assert.is(readFileSync(path.join(dir, 'b.json'), 'utf8'), read('signing/env.cleartext.signed.cgp.json'));

    const ok = await cli(['mini', 'secrets', 'verify', '--bundle', path.join(chit, 'signing/env.cleartext.signed.cgp.json')], { cwd: dir, env: { CHIT_PASSPHRASE: PASS } });
    assert.is(ok.exitCode, 0);
    assert.match(String(ok.stdout), /signature valid \(HMAC-SHA256, key id add84f9b08f3bc28\)/);
    const geo = await cli(['mini', 'secrets', 'verify', '--bundle', path.join(chit, 'signing/geometry.anchors.encrypted.signed.json')], { cwd: dir, env: { CHIT_PASSPHRASE: PASS } });
    assert.is(geo.exitCode, 0);

    writeFileSync(path.join(dir, 'tampered.json'), read('signing/env.cleartext.signed.cgp.json').replace('test-service-role-key', 'test-service-role-kez'));
    const bad = await cli(['mini', 'secrets', 'verify', '--bundle', 'tampered.json'], { cwd: dir, env: { CHIT_PASSPHRASE: PASS } });
    assert.is(bad.exitCode, 1);
    assert.match(String(bad.stderr), /tampered\.json: the signature does not verify: the content does not match the signature/);
    assertNoValue(secretValues, bad.stdout, bad.stderr);
    const wrong = await cli(['mini', 'secrets', 'verify', '--bundle', path.join(chit, 'signing/env.cleartext.signed.cgp.json')], { cwd: dir, env: { CHIT_PASSPHRASE: 'nope' } });
    assert.is(wrong.exitCode, 1);
    assert.match(String(wrong.stderr), /signed with key id add84f9b08f3bc28/);
    const unsigned = await cli(['mini', 'secrets', 'verify', '--bundle', path.join(chit, 'env.cleartext.cgp.json')], { cwd: dir, env: { CHIT_PASSPHRASE: PASS } });
    assert.is(unsigned.exitCode, 1);
    assert.match(String(unsigned.stderr), /the bundle is not signed/);
    const nopass = await cli(['mini', 'secrets', 'verify', '--bundle', 'b.json'], { cwd: dir });
    assert.is(nopass.exitCode, 1);
    assert.match(String(nopass.stderr), /set CHIT_PASSPHRASE/);

    // encode --sign makes a bundle that verifies; decode --verify refuses a tampered one and writes nothing
    writeFileSync(path.join(dir, 'x.env'), 'A=1\nB=two\n');
    const es = await cli(['mini', 'secrets', 'encode', '--env-file', 'x.env', '--out', 'x.json', '--sign'], { cwd: dir, env: { CHIT_PASSPHRASE: PASS } });
    assert.is(es.exitCode, 0, String(es.stderr));
    assert.is((await cli(['mini', 'secrets', 'decode', '--verify', '--bundle', 'x.json', '--out', 'x.out'], { cwd: dir, env: { CHIT_PASSPHRASE: PASS } })).exitCode, 0);
    const dv = await cli(['mini', 'secrets', 'decode', '--verify', '--bundle', 'tampered.json', '--out', 't.out'], { cwd: dir, env: { CHIT_PASSPHRASE: PASS } });
    assert.is(dv.exitCode, 1);
    assert.not.ok(existsSync(path.join(dir, 't.out')));
    const esNo = await cli(['mini', 'secrets', 'encode', '--env-file', 'x.env', '--out', 'y.json', '--sign'], { cwd: dir });
    assert.is(esNo.exitCode, 1);
    assert.not.ok(existsSync(path.join(dir, 'y.json')));
  } finally {
    cleanup();
  }
});

function rotateSetup(dir: string, bundleFixture: string, extra = '') {
  copyFileSync(path.join(chit, bundleFixture), path.join(dir, 'env.cgp.json'));
  writeFileSync(
    path.join(dir, 'pmoves.mini.yaml'),
    `apiVersion: pmoves.ai/mini/v1\nsecrets:\n  env:\n    bundle: env.cgp.json\n    env_file: out/env.shared\n    include_labels: ["SUPABASE_*", "MEILI_*"]\n${extra}`,
  );
}

t('rotate: new value from stdin, atomic rewrite with backup, env file regenerated, audited without the value', async () => {
  const { dir, cleanup } = tempDir();
  const home = path.join(dir, 'home');
  try {
    rotateSetup(dir, 'env.b64.cgp.json');
    const before = readFileSync(path.join(dir, 'env.cgp.json'), 'utf8');
    const apply = await cli(['mini', 'apply', '--auto-approve'], { cwd: dir, home });
    assert.is(apply.exitCode, 0, String(apply.stderr));
    const NEW = 'rotated-meili-key-42';
    const r = await cli(['mini', 'secrets', 'rotate', '--label', 'MEILI_MASTER_KEY', '--value-from-stdin'], { cwd: dir, home, input: NEW + '\n' });
    assert.is(r.exitCode, 0, String(r.stderr));
    assert.match(String(r.stdout), /Rotated MEILI_MASTER_KEY in .*env\.cgp\.json \(1 constellation\); the previous bundle is in .*env\.cgp\.json\.bak/);
    assert.match(String(r.stdout), /secrets\.env: wrote .*env\.shared \(3 keys, mode 0600\)/);
    assert.match(String(r.stdout), /Apply complete! Resources: 0 added, 1 changed, 0 destroyed\./);
    assert.is(readFileSync(path.join(dir, 'env.cgp.json.bak'), 'utf8'), before);
    const after = readFileSync(path.join(dir, 'env.cgp.json'), 'utf8');
    assert.is(valuesIn(path.join(dir, 'env.cgp.json')).get('MEILI_MASTER_KEY'), NEW);
    assert.ok(after.includes(`"text_b64": "${Buffer.from(NEW).toString('base64')}"`), 'keeps text_b64');
    assert.is(after.split('\n').filter((l, i) => l !== before.split('\n')[i]).length, 1, 'only the value line changed');
    assert.match(readFileSync(path.join(dir, 'out/env.shared'), 'utf8'), new RegExp(`^MEILI_MASTER_KEY=${NEW}$`, 'm'));
    const auditText = readFileSync(path.join(home, 'audit.jsonl'), 'utf8');
    const rec = auditText.trim().split('\n').map((l) => JSON.parse(l)).find((x) => x.action === 'rotate');
    assert.equal([rec.address, rec.label, rec.outcome], ['secrets.env', 'MEILI_MASTER_KEY', 'rotated']);
    assertNoValue([NEW, ...secretValues], r.stdout, r.stderr, auditText, readFileSync(path.join(home, 'state.json'), 'utf8'));

    // diff against the manifest's bundle by default: the backup differs by that label only
    const d = await cli(['mini', 'secrets', 'diff', '--bundle', 'env.cgp.json.bak'], { cwd: dir, home });
    assert.is(d.exitCode, 0, String(d.stderr));
    assert.match(String(d.stdout), /against env\.cgp\.json \(bundle\)/);
    assert.match(String(d.stdout), /^  ~ MEILI_MASTER_KEY\s+changed/m);
    assert.match(String(d.stdout), /0 added, 0 removed, 1 changed, 5 unchanged\./);
    assertNoValue([NEW, ...secretValues], d.stdout, d.stderr);

    // then everything is in sync
    const plan = await cli(['mini', 'plan', '--detailed-exitcode'], { cwd: dir, home });
    assert.is(plan.exitCode, 0, String(plan.stdout));
  } finally {
    cleanup();
  }
});

t('rotate: refusals leave the bundle untouched (no stdin flag, unknown label, empty, newline, same value)', async () => {
  const { dir, cleanup } = tempDir();
  const home = path.join(dir, 'home');
  try {
    rotateSetup(dir, 'env.cleartext.cgp.json');
    const before = readFileSync(path.join(dir, 'env.cgp.json'), 'utf8');
    const cases: [string[], string | undefined, RegExp][] = [
      [['--label', 'SUPABASE_URL'], undefined, /stdin is not a terminal; pass --value-from-stdin/],
      [['--label', 'NOPE', '--value-from-stdin'], 'x', /label "NOPE" is not in the bundle/],
      [['--label', 'SUPABASE_URL', '--value-from-stdin'], '\n', /the new value is empty/],
      [['--label', 'SUPABASE_URL', '--value-from-stdin'], 'two\nlines', /contains a newline/],
    ];
    for (const [args, input, msg] of cases) {
      const r = await cli(['mini', 'secrets', 'rotate', ...args], { cwd: dir, home, input });
      assert.is(r.exitCode, 1, args.join(' '));
      assert.match(String(r.stderr), msg);
    }
    const same = await cli(['mini', 'secrets', 'rotate', '--label', 'SUPABASE_URL', '--value-from-stdin'], { cwd: dir, home, input: expected.SUPABASE_URL });
    assert.is(same.exitCode, 0);
    assert.match(String(same.stdout), /equals the current one/);
    assert.is(readFileSync(path.join(dir, 'env.cgp.json'), 'utf8'), before);
    assert.not.ok(existsSync(path.join(dir, 'env.cgp.json.bak')));
  } finally {
    cleanup();
  }
});

t('rotate a signed bundle: re-signed with the passphrase; without it nothing changes', async () => {
  const { dir, cleanup } = tempDir();
  const home = path.join(dir, 'home');
  try {
    rotateSetup(dir, 'signing/env.cleartext.signed.cgp.json', '    verify: true\n');
    const before = readFileSync(path.join(dir, 'env.cgp.json'), 'utf8');
    const nopass = await cli(['mini', 'secrets', 'rotate', '--label', 'SUPABASE_URL', '--value-from-stdin', '--no-apply'], { cwd: dir, home, input: 'http://new.invalid' });
    assert.is(nopass.exitCode, 1);
    assert.match(String(nopass.stderr), /set CHIT_PASSPHRASE/);
    assert.is(readFileSync(path.join(dir, 'env.cgp.json'), 'utf8'), before);
    const r = await cli(['mini', 'secrets', 'rotate', '--label', 'SUPABASE_URL', '--value-from-stdin'], { cwd: dir, home, input: 'http://new.invalid', env: { CHIT_PASSPHRASE: PASS } });
    assert.is(r.exitCode, 0, String(r.stderr) + String(r.stdout));
    assert.match(String(r.stdout), /re-signed/);
    const v = await cli(['mini', 'secrets', 'verify', '--bundle', 'env.cgp.json'], { cwd: dir, env: { CHIT_PASSPHRASE: PASS } });
    assert.is(v.exitCode, 0, String(v.stderr));
    assert.match(readFileSync(path.join(dir, 'out/env.shared'), 'utf8'), /^SUPABASE_URL=http:\/\/new\.invalid$/m);
  } finally {
    cleanup();
  }
});

t('verify: true in the manifest: a tampered or unsigned bundle, or no passphrase, is a plan error', async () => {
  const { dir, cleanup } = tempDir();
  const home = path.join(dir, 'home');
  try {
    rotateSetup(dir, 'signing/env.cleartext.signed.cgp.json', '    verify: true\n');
    const ok = await cli(['mini', 'plan'], { cwd: dir, home, env: { CHIT_PASSPHRASE: PASS } });
    assert.is(ok.exitCode, 0, String(ok.stdout) + String(ok.stderr));
    const nopass = await cli(['mini', 'plan'], { cwd: dir, home });
    assert.is(nopass.exitCode, 1);
    assert.match(String(nopass.stdout) + String(nopass.stderr), /verify: true needs the CHIT passphrase.*CHIT_PASSPHRASE/);
    writeFileSync(path.join(dir, 'env.cgp.json'), read('signing/env.cleartext.signed.cgp.json').replace('test-meili-master-key-0000', 'test-meili-master-key-0001'));
    const tampered = await cli(['mini', 'apply', '--auto-approve'], { cwd: dir, home, env: { CHIT_PASSPHRASE: PASS } });
    assert.is(tampered.exitCode, 1);
    assert.match(String(tampered.stdout) + String(tampered.stderr), /signature does not verify: the content does not match/, String(tampered.stdout) + String(tampered.stderr));
    assert.not.ok(existsSync(path.join(dir, 'out/env.shared')));
    copyFileSync(path.join(chit, 'env.cleartext.cgp.json'), path.join(dir, 'env.cgp.json'));
    const unsigned = await cli(['mini', 'plan'], { cwd: dir, home, env: { CHIT_PASSPHRASE: PASS } });
    assert.is(unsigned.exitCode, 1);
    assert.match(String(unsigned.stdout) + String(unsigned.stderr), /the bundle is not signed/);
  } finally {
    cleanup();
  }
});

t('rotate on a terminal: prompts twice without echo, the value never appears on the terminal', async () => {
  const { dir, cleanup } = tempDir();
  try {
    rotateSetup(dir, 'env.cleartext.cgp.json');
    const NEW = 'typed-secret-9876';
    // util-linux `script` gives the CLI a real pseudo-terminal; we type only after each prompt shows.
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(cliPath)} mini secrets rotate --label SUPABASE_URL --no-apply`;
    const p = execa('script', ['-qefc', cmd, '/dev/null'], { cwd: dir, env: { NO_COLOR: '1', CI: undefined, PMOVES_HOME: path.join(dir, 'home') }, reject: false, stdin: 'pipe' });
    let seen = '';
    p.stdout!.on('data', (d: Buffer) => (seen += d.toString()));
    await waitFor(() => /New value for SUPABASE_URL: /.test(seen), 'the first prompt', 90_000);
    p.stdin!.write(NEW + '\r');
    await waitFor(() => /Repeat the new value for SUPABASE_URL: /.test(seen), 'the second prompt', 90_000);
    p.stdin!.write(NEW + '\r');
    const r = await p;
    assert.is(r.exitCode, 0, seen);
    assert.match(seen, /Rotated SUPABASE_URL/);
    assert.not.ok(seen.includes(NEW), 'the typed value was echoed');
    assert.is(valuesIn(path.join(dir, 'env.cgp.json')).get('SUPABASE_URL'), NEW);
  } finally {
    cleanup();
  }
});

t.run();
