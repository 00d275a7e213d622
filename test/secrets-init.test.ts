// `pmoves mini init` and `secrets.<name>.from_manifest` against upstream's onboarding fixtures. The
// fixtures are copied into a temp folder laid out as upstream's repository (they are never edited).
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildOutputs, parseSecretsManifest } from '../src/providers/chit/secrets-manifest.js';
import { fileSlug, selectValues } from '../src/reconcilers/secrets.js';
import { cli, fixtures, tempDir } from './helpers.js';

const t = suite('secrets-init');
const chit = path.join(fixtures, 'chit');
const gen = path.join(chit, 'env-generation');
const read = (f: string) => readFileSync(path.join(chit, f), 'utf8');
const expected = JSON.parse(read('expected.json')) as Record<string, string>;

/** root/pmoves/chit/<manifests>, root/pmoves/pmoves/data/chit/env.cgp.json: where the fixtures were made. */
function upstreamRepo(dir: string) {
  mkdirSync(path.join(dir, 'pmoves/chit'), { recursive: true });
  mkdirSync(path.join(dir, 'pmoves/pmoves/data/chit'), { recursive: true });
  copyFileSync(path.join(gen, 'secrets_manifest.fixture.yaml'), path.join(dir, 'pmoves/chit/secrets_manifest.fixture.yaml'));
  copyFileSync(path.join(gen, 'missing-required/secrets_manifest.fixture-missing.yaml'), path.join(dir, 'pmoves/chit/secrets_manifest.fixture-missing.yaml'));
  copyFileSync(path.join(chit, 'env.cleartext.cgp.json'), path.join(dir, 'pmoves/pmoves/data/chit/env.cgp.json'));
}

t('init prints what upstream onboarding_helper status prints', async () => {
  const { dir, cleanup } = tempDir();
  try {
    upstreamRepo(dir);
    const r = await cli(['mini', 'init', '--secrets-manifest', 'pmoves/chit/secrets_manifest.fixture.yaml'], { cwd: dir, home: path.join(dir, 'h') });
    assert.is(r.exitCode, 0, String(r.stderr));
    assert.is(r.stdout + '\n', readFileSync(path.join(gen, 'onboarding_status.txt'), 'utf8'));
    const missing = await cli(['mini', 'init', '--secrets-manifest', 'pmoves/chit/secrets_manifest.fixture-missing.yaml'], { cwd: dir });
    assert.is(missing.exitCode, 0);
    assert.is(missing.stdout + '\n', readFileSync(path.join(gen, 'missing-required/onboarding_status.txt'), 'utf8'));
    assert.not.ok(existsSync(path.join(dir, 'pmoves/.env.generated')), 'status writes nothing');
  } finally {
    cleanup();
  }
});

t('init --generate prints and writes what upstream does', async () => {
  const { dir, cleanup } = tempDir();
  try {
    upstreamRepo(dir);
    // from a sub-folder, with the manifest given relative to the repository root, as upstream resolves it
    mkdirSync(path.join(dir, 'sub'));
    const r = await cli(['mini', 'init', '--generate', '--repo-root', '..', '--secrets-manifest', 'pmoves/chit/secrets_manifest.fixture.yaml'], { cwd: path.join(dir, 'sub') });
    assert.is(r.exitCode, 0, String(r.stderr));
    assert.is(r.stdout + '\n', readFileSync(path.join(gen, 'onboarding_generate.txt'), 'utf8'));
    assert.is(readFileSync(path.join(dir, 'pmoves/.env.generated'), 'utf8'), readFileSync(path.join(gen, 'dot.env.generated'), 'utf8'));
    assert.is(readFileSync(path.join(dir, 'pmoves/env.shared.generated'), 'utf8'), readFileSync(path.join(gen, 'env.shared.generated'), 'utf8'));
    assert.is(statSync(path.join(dir, 'pmoves/.env.generated')).mode & 0o777, 0o600);
    // upstream writes the multi-line value raw; we say so on stderr, naming the label only
    assert.match(String(r.stderr), /Warning: \.env\.generated: the value of TEST_MULTILINE_VALUE contains a newline/);
    for (const v of Object.values(expected)) for (const part of v.split('\n')) assert.not.ok((String(r.stdout) + String(r.stderr)).includes(part));
  } finally {
    cleanup();
  }
});

t('init --generate with a required label missing: upstream text, exit 1, nothing written', async () => {
  const { dir, cleanup } = tempDir();
  try {
    upstreamRepo(dir);
    const r = await cli(['mini', 'init', '-g', '--secrets-manifest', 'pmoves/chit/secrets_manifest.fixture-missing.yaml'], { cwd: dir });
    assert.is(r.exitCode, 1);
    assert.is(r.stdout + '\n', readFileSync(path.join(gen, 'missing-required/onboarding_generate.txt'), 'utf8'));
    assert.equal(readdirSync(path.join(dir, 'pmoves')).sort(), ['chit', 'pmoves']);
  } finally {
    cleanup();
  }
});

t('init: the default manifest is found above cwd; bad manifests are located by file:line:column', async () => {
  const { dir, cleanup } = tempDir();
  try {
    upstreamRepo(dir);
    const none = await cli(['mini', 'init'], { cwd: dir });
    assert.is(none.exitCode, 1);
    assert.match(String(none.stderr), /no secrets manifest: expected pmoves\/chit\/secrets_manifest\.yaml/);
    copyFileSync(path.join(gen, 'secrets_manifest.fixture.yaml'), path.join(dir, 'pmoves/chit/secrets_manifest.yaml'));
    const found = await cli(['mini', 'init'], { cwd: path.join(dir, 'pmoves/chit') });
    assert.is(found.exitCode, 0, String(found.stderr));
    assert.match(String(found.stdout), /^Manifest: pmoves\/chit\/secrets_manifest\.yaml$/m);

    const bad = 'version: 1\ncgp_file: pmoves/pmoves/data/chit/env.cgp.json\nentries:\n- id: x\n  source:\n    type: vault\n    label: X\n';
    writeFileSync(path.join(dir, 'pmoves/chit/bad.yaml'), bad);
    const r = await cli(['mini', 'init', '--secrets-manifest', 'pmoves/chit/bad.yaml'], { cwd: dir });
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /pmoves\/chit\/bad\.yaml:6:11: Entry x uses unsupported source/);
    writeFileSync(path.join(dir, 'pmoves/chit/v2.yaml'), 'version: 2\n');
    const v2 = await cli(['mini', 'init', '--secrets-manifest', 'pmoves/chit/v2.yaml'], { cwd: dir });
    assert.match(String(v2.stderr), /v2\.yaml:1:10: Unsupported manifest version/, String(v2.stderr));
    assert.not.match(String(v2.stderr), /\n\s+at /);
  } finally {
    cleanup();
  }
});

t('the secrets manifest loader follows upstream: defaults.targets, required default true, YAML 1.1 booleans', () => {
  const m = parseSecretsManifest('/r/pmoves/chit/m.yaml', readFileSync(path.join(gen, 'secrets_manifest.fixture.yaml'), 'utf8'));
  assert.is(m.entries.length, 7);
  const byId = new Map(m.entries.map((e) => [e.id, e]));
  assert.equal(byId.get('test_unicode_value')!.targets, [{ file: '.env.generated', key: 'TEST_UNICODE_VALUE' }]);
  assert.is(byId.get('discord_webhook_url')!.required, true);
  assert.is(byId.get('optional_absent')!.required, false);
  const yes = parseSecretsManifest('/m.yaml', 'version: 1\ncgp_file: x\nentries:\n- id: a\n  source: {type: cgp, label: A}\n  targets: [{file: f, key: K}]\n  required: no\n');
  assert.is(yes.entries[0]!.required, false);
  // the real upstream manifest (85 entries) loads
  assert.is(parseSecretsManifest('/m.yaml', read('secrets_manifest.yaml')).entries.length, 85);
  assert.is(fileSlug('.env.generated'), 'env-generated');
  assert.is(fileSlug('env.shared.generated'), 'env-shared-generated');
  assert.is(fileSlug('../x/.env'), 'x-env');
});

t('entries: a later entry wins for the same key; a missing optional label keeps the earlier value (as upstream)', () => {
  const entries = [
    { key: 'K', label: 'A', required: true },
    { key: 'K', label: 'B', required: false },
    { key: 'L', label: 'C', required: true },
  ];
  const spec = { bundle: '/b', env_file: '/e', include_labels: null, required: ['A', 'C'], mode: 0o600, entries };
  assert.equal(Object.fromEntries(selectValues(spec, { A: 'a', C: 'c' }).values), { K: 'a', L: 'c' });
  assert.equal(Object.fromEntries(selectValues(spec, { A: 'a', B: 'b', C: 'c' }).values), { K: 'b', L: 'c' });
  assert.equal(selectValues(spec, { B: 'b' }).problems, ['required labels missing from the bundle: A, C']);
  const sm = [
    { id: 'a', label: 'A', required: true, targets: [{ file: 'f', key: 'K' }] },
    { id: 'b', label: 'B', required: false, targets: [{ file: 'f', key: 'K' }, { file: 'g', key: 'K' }] },
  ];
  const built = buildOutputs(new Map([['A', 'a']]), sm);
  assert.equal([...built.outputs].map(([f, m]) => [f, Object.fromEntries(m)]), [['f', { K: 'a' }]]);
  assert.equal(buildOutputs(new Map([['B', 'b']]), sm).missing, ['A']);
});

t('secrets.<name>.from_manifest: one resource per target file; apply writes what upstream generates', async () => {
  const { dir, cleanup } = tempDir();
  const home = path.join(dir, 'home');
  try {
    upstreamRepo(dir);
    // the same manifest without the multi-line entry, which an env file cannot hold
    const text = readFileSync(path.join(gen, 'secrets_manifest.fixture.yaml'), 'utf8');
    const start = text.indexOf('- id: test_multiline_value');
    const end = text.indexOf('- id: test_unicode_value');
    writeFileSync(path.join(dir, 'pmoves/chit/no-multiline.yaml'), text.slice(0, start) + text.slice(end));
    writeFileSync(
      path.join(dir, 'pmoves.mini.yaml'),
      'apiVersion: pmoves.ai/mini/v1\nsecrets:\n  upstream:\n    from_manifest: pmoves/chit/no-multiline.yaml\n  other:\n    bundle: pmoves/pmoves/data/chit/env.cgp.json\n    env_file: other.env\n    include_labels: [MEILI_*]\n    depends_on: [secrets.upstream]\n',
    );
    const v = await cli(['mini', 'validate', '--json'], { cwd: dir, home });
    assert.is(v.exitCode, 0, String(v.stdout) + String(v.stderr));
    assert.equal(JSON.parse(String(v.stdout)).resources.sort(), ['secrets.other', 'secrets.upstream-env-generated', 'secrets.upstream-env-shared-generated']);
    const apply = await cli(['mini', 'apply', '--auto-approve'], { cwd: dir, home });
    assert.is(apply.exitCode, 0, String(apply.stdout) + String(apply.stderr));
    assert.match(String(apply.stdout), /from secrets\.upstream\.from_manifest pmoves\/chit\/no-multiline\.yaml/);
    assert.is(readFileSync(path.join(dir, 'pmoves/env.shared.generated'), 'utf8'), readFileSync(path.join(gen, 'env.shared.generated'), 'utf8'));
    const upstreamDot = readFileSync(path.join(gen, 'dot.env.generated'), 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith('TEST_MULTILINE_VALUE=') && l !== 'second line = x')
      .join('\n');
    assert.is(readFileSync(path.join(dir, 'pmoves/.env.generated'), 'utf8'), upstreamDot);
    const again = await cli(['mini', 'plan', '--detailed-exitcode'], { cwd: dir, home });
    assert.is(again.exitCode, 0, String(again.stdout));

    // rotating a label regenerates every file the secrets manifest sends it to, and only those resources
    const rot = await cli(['mini', 'secrets', 'rotate', '--label', 'SUPABASE_URL', '--value-from-stdin'], { cwd: dir, home, input: 'http://rotated.invalid:1' });
    assert.is(rot.exitCode, 0, String(rot.stdout) + String(rot.stderr));
    assert.match(String(rot.stdout), /Regenerating secrets\.upstream-env-shared-generated, secrets\.upstream-env-generated, secrets\.other:|Regenerating secrets\.upstream-env-generated, secrets\.upstream-env-shared-generated, secrets\.other:/);
    assert.match(String(rot.stdout), /Apply complete! Resources: 0 added, 2 changed, 0 destroyed\./);
    for (const f of ['pmoves/.env.generated', 'pmoves/env.shared.generated']) assert.match(readFileSync(path.join(dir, f), 'utf8'), /^SUPABASE_URL=http:\/\/rotated\.invalid:1$/m);
    assert.not.ok(String(rot.stdout).includes('rotated.invalid'));

    // with the multi-line entry the file that would hold it is a plan error, and apply writes nothing
    writeFileSync(path.join(dir, 'pmoves.mini.yaml'), 'apiVersion: pmoves.ai/mini/v1\nsecrets:\n  up:\n    from_manifest: pmoves/chit/secrets_manifest.fixture.yaml\n    env_dir: out\n');
    const blocked = await cli(['mini', 'apply', '--auto-approve'], { cwd: dir, home });
    assert.is(blocked.exitCode, 1);
    assert.match(String(blocked.stdout) + String(blocked.stderr), /secrets\.up-env-generated cannot be written: value of TEST_MULTILINE_VALUE contains a newline/);
    assert.not.ok(existsSync(path.join(dir, 'out')));

    // a required label missing from the bundle blocks the files it targets
    writeFileSync(path.join(dir, 'pmoves.mini.yaml'), 'apiVersion: pmoves.ai/mini/v1\nsecrets:\n  up:\n    from_manifest: pmoves/chit/secrets_manifest.fixture-missing.yaml\n    env_dir: out\n');
    const missing = await cli(['mini', 'plan'], { cwd: dir, home });
    assert.is(missing.exitCode, 1);
    assert.match(String(missing.stdout) + String(missing.stderr), /secrets\.up-env-shared-generated cannot be written: required label missing from the bundle: CHIT_PASSPHRASE/);
  } finally {
    cleanup();
  }
});

t('from_manifest: bad input is located (keys that do not go with it, a missing or broken secrets manifest)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    upstreamRepo(dir);
    const cases: [string, RegExp][] = [
      ['    from_manifest: pmoves/chit/secrets_manifest.fixture.yaml\n    env_file: x.env\n', /pmoves\.mini\.yaml:5:5: .*invalid name "env_file": beside from_manifest only bundle/],
      ['    from_manifest: nope.yaml\n', /pmoves\.mini\.yaml:4:20: secrets\.up\.from_manifest: .*nope\.yaml: no such file/],
      ['    from_manifest: broken.yaml\n', /pmoves\.mini\.yaml:4:20: secrets\.up\.from_manifest: broken\.yaml:1:1: Manifest missing 'cgp_file'/],
      ['    from_manifest: broken.yaml\n    bundle: pmoves/pmoves/data/chit/env.cgp.json\n', /broken\.yaml:1:1: Manifest missing 'cgp_file'/],
      ['    bundle: b.json\n    env_dir: out\n', /invalid name "env_dir": repo_root and env_dir only go with from_manifest/],
      ['    from_manifest: pmoves/chit/secrets_manifest.fixture.yaml\n    repo_root: elsewhere\n', /pmoves\.mini\.yaml:4:20: secrets\.up: the bundle does not exist: .*elsewhere\/pmoves\/pmoves\/data\/chit\/env\.cgp\.json \(the cgp_file of/],
    ];
    writeFileSync(path.join(dir, 'broken.yaml'), 'version: 1\nentries: []\n');
    for (const [body, msg] of cases) {
      writeFileSync(path.join(dir, 'pmoves.mini.yaml'), `apiVersion: pmoves.ai/mini/v1\nsecrets:\n  up:\n${body}`);
      const r = await cli(['mini', 'validate'], { cwd: dir });
      assert.is(r.exitCode, 1, body);
      assert.match(String(r.stderr), msg, String(r.stderr));
      assert.not.match(String(r.stderr), /\n\s+at /);
    }
  } finally {
    cleanup();
  }
});

t.run();
