// Manifest v1 loading: every broken input gives a file:line:column diagnostic; good input resolves.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pmovesHome } from '../src/core/home.js';
import { loadManifest, type LoadResult } from '../src/manifest/load.js';
import { kinds, expanders } from '../src/reconcilers/index.js';
import { fixtures, repoRoot, tempDir } from './helpers.js';

const t = suite('manifest');
let dir: string;
let cleanup: () => void;

t.before.each(() => {
  ({ dir, cleanup } = tempDir());
  copyFileSync(path.join(fixtures, 'chit', 'env.cleartext.cgp.json'), path.join(dir, 'env.cgp.json'));
});
t.after.each(() => cleanup());

async function load(text: string, env: NodeJS.ProcessEnv = {}): Promise<LoadResult> {
  const file = path.join(dir, 'pmoves.mini.yaml');
  writeFileSync(file, text);
  return loadManifest(file, { env, home: pmovesHome({ PMOVES_HOME: path.join(dir, 'home') }), kinds, expanders });
}

function errors(r: LoadResult): string[] {
  return r.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.location?.replace(/^.*\//, '')} ${d.summary}`);
}

const head = 'apiVersion: pmoves.ai/mini/v1\n';

t('a valid manifest resolves paths against its folder and expands ${VAR} forms', async () => {
  const r = await load(
    head +
      'secrets:\n  env:\n    bundle: env.cgp.json\n    env_file: ${OUT:-out}/${NAME}.env\n    required: [SUPABASE_URL]\n' +
      '  two:\n    bundle: ./env.cgp.json\n    env_file: "$${literal}-${SET-unused}"\n    depends_on: [secrets.env]\n',
    { NAME: 'shared', SET: '' },
  );
  assert.equal(errors(r), []);
  const [a, b] = r.manifest!.resources as { address: string; spec: { env_file: string; bundle: string; mode: number }; dependsOn: string[] }[];
  assert.is(a!.address, 'secrets.env');
  assert.is(a!.spec.env_file, path.join(dir, 'out', 'shared.env'));
  assert.is(a!.spec.bundle, path.join(dir, 'env.cgp.json'));
  assert.is(a!.spec.mode, 0o600);
  assert.is(b!.spec.env_file, path.join(dir, '${literal}-'));
  assert.equal(b!.dependsOn, ['secrets.env']);
  assert.ok(r.manifest!.inputs.includes(path.join(dir, 'env.cgp.json')));
});

t('an unset ${VAR} is a warning with its position; ${VAR:?msg} is an error', async () => {
  const r = await load(head + 'secrets:\n  env:\n    bundle: env.cgp.json\n    env_file: ${UNSET_X}/a\n');
  assert.equal(errors(r), []);
  const w = r.diagnostics.find((d) => d.severity === 'warning')!;
  assert.match(w.summary, /UNSET_X is not set/);
  assert.match(w.location!, /pmoves\.mini\.yaml:5:15$/);
  const r2 = await load(head + 'secrets:\n  env:\n    bundle: env.cgp.json\n    env_file: ${NEED:?set NEED to the output folder}\n');
  assert.equal(errors(r2), ['pmoves.mini.yaml:5:15 required variable NEED is not set: set NEED to the output folder']);
});

t('bad YAML names the line and column', async () => {
  const r = await load(head + 'secrets:\n  env:\n    bundle: env.cgp.json\n    env_file: [a\n');
  assert.is(r.manifest, undefined);
  assert.match(errors(r)[0]!, /^pmoves\.mini\.yaml:6:1 invalid YAML/);
});

t('duplicate keys are an error', async () => {
  const r = await load(head + 'secrets:\n  env:\n    bundle: env.cgp.json\n    bundle: other.json\n    env_file: x\n');
  assert.match(errors(r)[0]!, /^pmoves\.mini\.yaml:5:5 invalid YAML: Map keys must be unique/);
});

t('a wrong type names the path and what was expected', async () => {
  const r = await load(head + 'secrets:\n  env:\n    bundle: env.cgp.json\n    env_file: out\n    mode: 600\n');
  assert.equal(errors(r), ['pmoves.mini.yaml:6:11 secrets.env.mode: expected string, got number 600']);
});

t('an unknown key suggests the nearest known one', async () => {
  const r = await load(head + 'secrets:\n  env:\n    bundle: env.cgp.json\n    env_fille: out\n');
  assert.equal(errors(r), [
    'pmoves.mini.yaml:3:3 secrets.env: missing required key "env_file"',
    'pmoves.mini.yaml:5:5 secrets.env.env_fille: unknown key "env_fille" (did you mean "env_file"?)',
  ]);
  const top = await load('apiVersion: pmoves.ai/mini/v1\nsecret: {}\n');
  assert.equal(errors(top), ['pmoves.mini.yaml:2:1 secret: unknown key "secret" (did you mean "secrets"?)']);
});

t('wrong apiVersion, bad names and bad addresses', async () => {
  const r = await load('apiVersion: v2\nsecrets:\n  "bad name":\n    bundle: env.cgp.json\n    env_file: x\n    depends_on: [nowhere]\n');
  const e = errors(r);
  assert.ok(e.includes('pmoves.mini.yaml:1:13 apiVersion: expected "pmoves.ai/mini/v1", got "v2"'), e.join('\n'));
  assert.ok(e.includes(`pmoves.mini.yaml:3:3 secrets.bad name: invalid name "bad name": Resource name: letters, digits, '_' and '-', starting with a letter or digit.`), e.join('\n'));
  assert.ok(e.includes('pmoves.mini.yaml:6:18 secrets.bad name.depends_on[0]: "nowhere" is not valid: A resource address: <section>.<name>.'), e.join('\n'));
});

t('a missing bundle file names the bundle line', async () => {
  const r = await load(head + 'secrets:\n  env:\n    bundle: nope.json\n    env_file: x\n');
  assert.equal(errors(r), [`pmoves.mini.yaml:4:13 secrets.env.bundle: no such file: ${path.join(dir, 'nope.json')}`]);
});

t('depends_on must name a declared resource, not itself', async () => {
  const r = await load(head + 'secrets:\n  a:\n    bundle: env.cgp.json\n    env_file: a\n    depends_on: [secrets.zz, secrets.a]\n');
  assert.equal(errors(r), [
    'pmoves.mini.yaml:6:18 secrets.a.depends_on: no resource "secrets.zz" in the manifest',
    'pmoves.mini.yaml:6:30 secrets.a.depends_on: a resource cannot depend on itself',
  ]);
});

t('a dependency cycle is named in full', async () => {
  const r = await load(
    head +
      'secrets:\n  a:\n    bundle: env.cgp.json\n    env_file: a\n    depends_on: [secrets.b]\n' +
      '  b:\n    bundle: env.cgp.json\n    env_file: b\n    depends_on: [secrets.c]\n' +
      '  c:\n    bundle: env.cgp.json\n    env_file: c\n    depends_on: [secrets.a]\n',
  );
  assert.equal(errors(r), ['pmoves.mini.yaml:6:18 dependency cycle: secrets.a -> secrets.b -> secrets.c -> secrets.a']);
});

t('not a map, empty, missing file', async () => {
  assert.match(errors(await load(''))[0]!, /pmoves\.mini\.yaml:1:1 expected a map with apiVersion/);
  assert.match(errors(await load('- a\n- b\n'))[0]!, /got a list/);
  const r = await loadManifest(path.join(dir, 'absent.yaml'), { env: {}, home: pmovesHome({ PMOVES_HOME: dir }), kinds });
  assert.match(r.diagnostics[0]!.location!, /absent\.yaml$/);
  assert.is(r.diagnostics[0]!.summary, 'no such file');
  mkdirSync(path.join(dir, 'folder.yaml'));
  const f = await loadManifest(path.join(dir, 'folder.yaml'), { env: {}, home: pmovesHome({ PMOVES_HOME: dir }), kinds });
  assert.match(f.diagnostics[0]!.summary, /is a folder/);
});

t('pmoves.mini.yaml.example and every example manifest validate', async () => {
  const { readdirSync, existsSync } = await import('node:fs');
  const files = [path.join(repoRoot, 'pmoves.mini.yaml.example')];
  for (const d of readdirSync(path.join(repoRoot, 'examples'))) {
    const f = path.join(repoRoot, 'examples', d, 'pmoves.mini.yaml');
    if (existsSync(f)) files.push(f);
  }
  for (const f of files) {
    const r = await loadManifest(f, { env: { HOME: dir }, home: pmovesHome({ PMOVES_HOME: path.join(dir, 'home') }), kinds, expanders });
    assert.equal(r.diagnostics.filter((d) => d.severity === 'error'), [], f);
  }
  const first = (await import('node:fs')).readFileSync(files[0]!, 'utf8').split('\n')[0];
  assert.is(first, '# yaml-language-server: $schema=./schemas/manifest.schema.json');
});

t.run();
