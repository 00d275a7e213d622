// `validate` without Docker or compose: missing compose files, env files (the manifest's and the
// services' env_file, `required: false` honoured, inactive profiles not read), build contexts, and two
// stacks on one compose project are errors at the manifest's file:line:column. No compose runs here:
// PATH holds no docker and no docker-compose.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, tempDir } from './helpers.js';

const tmp = tempDir('pmoves-stacks-validate-');
const home = path.join(tmp.dir, 'home');
const manifest = path.join(tmp.dir, 'pmoves.mini.yaml');
const noCompose = { PATH: path.dirname(process.execPath) };

test.after(() => tmp.cleanup());

const validate = (text: string) => {
  writeFileSync(manifest, `apiVersion: pmoves.ai/mini/v1\n${text}`);
  return cli(['mini', 'validate', '-m', manifest], { home, cwd: tmp.dir, env: noCompose });
};

test.before(() => {
  writeFileSync(
    path.join(tmp.dir, 'dc.yml'),
    `services:
  a:
    image: x
    env_file: [present.env, nope.env]
  b:
    build:
      context: ./ctx
  c:
    image: x
    profiles: [later]
    env_file: inactive.env
  d:
    image: x
    env_file:
      - path: optional.env
        required: false
`,
  );
  writeFileSync(path.join(tmp.dir, 'present.env'), 'A=1\n');
});

test('each missing thing is an error at the manifest entry that leads to it; the compose file position in the detail', async () => {
  const r = await validate(`stacks:\n  app:\n    files: [dc.yml, missing.yml]\n    env_files: [e.env]\n`);
  assert.is(r.exitCode, 1, String(r.stdout));
  const e = String(r.stderr);
  assert.match(e, /pmoves\.mini\.yaml:5:17: stacks\.app\.env_files: no such env file: \S+\/e\.env/);
  assert.match(e, /pmoves\.mini\.yaml:4:13: stacks\.app\.files: dc\.yml: service a: env_file nope\.env does not exist/);
  assert.match(e, /dc\.yml:4:29: env_file entry/);
  assert.match(e, /pmoves\.mini\.yaml:4:13: stacks\.app\.files: dc\.yml: service b: build context \.\/ctx does not exist/);
  assert.match(e, /dc\.yml:7:7: build context/);
  assert.match(e, /pmoves\.mini\.yaml:4:21: stacks\.app\.files: no such compose file: \S+\/missing\.yml/);
  assert.not.match(e, 'present.env');
  assert.not.match(e, 'optional.env', 'required: false');
  assert.not.match(e, 'inactive.env', 'profile later is not active');
  assert.not.match(e, '    at ');
});

test('fixed, it validates; an active profile makes its services\' env files required; a dependency may write env files', async () => {
  mkdirSync(path.join(tmp.dir, 'ctx'), { recursive: true });
  writeFileSync(path.join(tmp.dir, 'nope.env'), '');
  const ok = await validate(`stacks:\n  app:\n    files: [dc.yml]\n`);
  assert.is(ok.exitCode, 0, String(ok.stderr));
  const later = await validate(`stacks:\n  app:\n    files: [dc.yml]\n    profiles: [later]\n`);
  assert.is(later.exitCode, 1);
  assert.match(String(later.stderr), /pmoves\.mini\.yaml:4:13: stacks\.app\.files: dc\.yml: service c: env_file inactive\.env does not exist/);
  const waits = await validate(`stacks:\n  first:\n    files: [dc.yml]\n  app:\n    files: [dc.yml]\n    profiles: [later]\n    env_files: [e.env]\n    depends_on: [stacks.first]\n`);
  assert.is(waits.exitCode, 0, String(waits.stderr));
});

test('two stacks on one compose project: an error at the second one\'s project', async () => {
  const r = await validate(`stacks:\n  one:\n    project: shared\n    files: [dc.yml]\n  two:\n    project: shared\n    files: [dc.yml]\n`);
  assert.is(r.exitCode, 1);
  assert.match(String(r.stderr), /pmoves\.mini\.yaml:7:14: stacks\.two\.project: compose project "shared" is also used by stacks\.one/);
  const dflt = await validate(`stacks:\n  one:\n    files: [dc.yml]\n  two:\n    project: pmoves-one\n    files: [dc.yml]\n`);
  assert.is(dflt.exitCode, 1, 'the default project name counts too');
  assert.match(String(dflt.stderr), /stacks\.two\.project: compose project "pmoves-one" is also used by stacks\.one/);
});

test.run();
