// Upstream PMOVES compose files (../shared/fixtures/pmoves/compose, read as they are) through real
// compose: plan only (their images are not on this machine). Also the cache key's coverage.
import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cacheKeyInputs } from '../src/providers/docker/compose-inputs.js';
import { cli, fixtures, tempDir } from './helpers.js';

const tmp = tempDir('pmoves-stacks-upstream-');
const home = path.join(tmp.dir, 'home');
const compose = path.join(fixtures, 'compose');
const project = `pmu-${process.pid}`;
const SECRET = 'test-secret-never-printed-7f3a';

// The external networks upstream's files name (compose v2's dry run checks that they exist).
const externalNetworks = ['cataclysm-net', 'pmoves-net'];
const madeNetworks: string[] = [];

test.before(async () => {
  for (const n of externalNetworks) {
    if ((await execa('docker', ['network', 'inspect', n], { reject: false })).exitCode === 0) continue;
    await execa('docker', ['network', 'create', n]);
    madeNetworks.push(n);
  }
  // The env files upstream's external stack names (env_file: relative to the project directory).
  writeFileSync(path.join(tmp.dir, 'env.shared'), `SUPABASE_SERVICE_ROLE_KEY=${SECRET}\n`);
  for (const f of ['env.shared.generated', '.env.generated', '.env.local']) writeFileSync(path.join(tmp.dir, f), '');
  writeFileSync(path.join(tmp.dir, 'vars.env'), `FIREFLY_APP_KEY=${SECRET}\nWGER_HOST_PORT=127.0.0.1:18000\n`);
});

test.after(async () => {
  for (const n of madeNetworks) await execa('docker', ['network', 'rm', n], { reject: false });
  tmp.cleanup();
});

test('external networks and volumes that do not exist: plan errors naming them (v2 and v1), nothing created', async () => {
  const file = path.join(tmp.dir, 'ext-net.yml');
  const net = `pmu-missing-${process.pid}`;
  writeFileSync(file, `services:\n  app:\n    image: pmoves-test/busybox:latest\n    networks: [outside]\nnetworks:\n  outside:\n    external: true\n    name: ${net}\n`);
  const m = manifest(`  ext:\n    project: ${project}\n    files: [${file}]\n`);
  const r = await cli(['mini', 'plan', '-m', m], { home, timeout: 120_000 });
  assert.is(r.exitCode, 1, String(r.stdout));
  // v2's dry run says it itself; under v1 the engine is asked.
  assert.match(String(r.stdout), new RegExp(`network ${net} not found|external network ${net} does not exist`));
  const vfile = path.join(tmp.dir, 'ext-vol.yml');
  const vol = `pmu-missing-vol-${process.pid}`;
  writeFileSync(vfile, `services:\n  app:\n    image: pmoves-test/busybox:latest\n    volumes: [keep:/data]\nvolumes:\n  keep:\n    external: true\n    name: ${vol}\n`);
  const rv = await cli(['mini', 'plan', '-m', manifest(`  extv:\n    project: ${project}\n    files: [${vfile}]\n`)], { home, timeout: 120_000 });
  assert.is(rv.exitCode, 1, String(rv.stdout));
  assert.match(String(rv.stdout), new RegExp(`external volume ${vol} does not exist|volume "?${vol}"? not found`));
  await execa('docker', ['volume', 'create', vol]);
  try {
    const ok = await cli(['mini', 'plan', '-m', manifest(`  extv:\n    project: ${project}\n    files: [${vfile}]\n`)], { home, timeout: 120_000 });
    assert.is(ok.exitCode, 0, String(ok.stdout) + String(ok.stderr));
  } finally {
    await execa('docker', ['volume', 'rm', vol], { reject: false });
  }
  const left = await execa('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]);
  assert.is(left.stdout.trim(), '');
});

function manifest(stacks: string): string {
  const file = path.join(tmp.dir, 'pmoves.mini.yaml');
  writeFileSync(file, `apiVersion: pmoves.ai/mini/v1\nstacks:\n${stacks}`);
  return file;
}

test('upstream external stack: every service planned, env values masked, nothing created', async () => {
  const m = manifest(`  external:
    project: ${project}
    files: [${path.join(compose, 'docker-compose.external.yml')}]
    project_directory: .
    env_files: [vars.env]
`);
  const r = await cli(['mini', 'plan', '-m', m], { home, timeout: 120_000 });
  assert.is(r.exitCode, 0, String(r.stderr) + String(r.stdout));
  const o = String(r.stdout);
  for (const s of ['wger', 'wger-nginx', 'firefly', 'open-notebook-surrealdb-ext', 'open-notebook-ext', 'jellyfin-ext']) {
    assert.match(o, `# stacks.external.${s} will be created (because it does not exist)`);
  }
  assert.match(o, '127.0.0.1:18000:80'); // interpolated from env_files
  // env-file values collapse into one line per service (v2 and v1 alike).
  assert.match(o, /\(\d+ values? from [^)]*env\.shared[^)]*; sensitive\)/);
  assert.not.match(o, SECRET);
  assert.not.match(o, '--pass root'); // surrealdb's command line carries its password
  const left = await execa('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]);
  assert.is(left.stdout.trim(), '');
});

test('upstream gpu override on its own, profile gpu: compose\'s own message under the address, exit 1', async () => {
  // Its services (profile gpu) only extend others; v2 checks a service only when its profile is active.
  const m = manifest(`  gpu:
    project: ${project}
    files: [${path.join(compose, 'docker-compose.external.yml')}, ${path.join(compose, 'docker-compose.gpu.yml')}]
    profiles: [gpu]
    project_directory: .
`);
  const r = await cli(['mini', 'plan', '-m', m], { home, timeout: 120_000 });
  assert.is(r.exitCode, 1, String(r.stdout));
  assert.match(String(r.stdout), "! stacks.gpu compose rejected the stack's files");
  // v1: `Service media-video has neither…`; v2: `service "media-video" has neither…`.
  assert.match(String(r.stdout), /service "?(media-video|jellyfin-bridge)"? has neither an image nor a build context specified/i);
});

test('upstream integrations core (build context, list-style environment): planned, secrets masked', async () => {
  const m = manifest(`  integrations:
    project: ${project}
    files: [${path.join(compose, 'integrations.docker-compose.core.yml')}]
    project_directory: .
`);
  const r = await cli(['mini', 'plan', '-m', m], { home, timeout: 120_000, env: { SUPABASE_SERVICE_ROLE_KEY: SECRET } });
  assert.is(r.exitCode, 0, String(r.stderr) + String(r.stdout));
  // a build: service: the plan says whether up builds its image or finds it present
  assert.match(String(r.stdout), '# stacks.integrations.n8n will be created (because it does not exist; its image pmoves/n8n:1.115.3-sqlite will be built)');
  assert.not.match(String(r.stdout), SECRET);
});

test('a missing compose file: a manifest error at its entry, before compose is asked', async () => {
  const m = manifest(`  gone:\n    project: ${project}\n    files: [nope/docker-compose.yml]\n`);
  const r = await cli(['mini', 'plan', '-m', m], { home, timeout: 120_000 });
  assert.is(r.exitCode, 1);
  assert.match(String(r.stderr), /pmoves\.mini\.yaml:5:13: stacks\.gone\.files: no such compose file: \S*nope\/docker-compose\.yml/);
  assert.not.match(String(r.stderr) + String(r.stdout), 'Traceback');
});

test('env files that do not exist yet: waits for a dependency that writes them, else an error', async () => {
  const gone = path.join(tmp.dir, 'later.env');
  const base = `  app:\n    project: ${project}\n    files: [${path.join(compose, 'docker-compose.external.yml')}]\n    project_directory: .\n    env_files: [${gone}]\n`;
  const alone = await cli(['mini', 'plan', '-m', manifest(base)], { home, timeout: 120_000 });
  assert.is(alone.exitCode, 1);
  assert.match(String(alone.stderr), `pmoves.mini.yaml:7:17: stacks.app.env_files: no such env file: ${gone}`);
  const m = manifest(`${base}    depends_on: [stacks.first]\n  first:\n    project: ${project}-b\n    files: [${path.join(compose, 'integrations.docker-compose.core.yml')}]\n    project_directory: .\n`);
  const r = await cli(['mini', 'plan', '-m', m], { home, timeout: 120_000 });
  assert.is(r.exitCode, 0, String(r.stdout) + String(r.stderr));
  assert.match(String(r.stdout), `# stacks.app will be created (because ${gone} does not exist yet; the services are planned after stacks.first apply)`);
});

test('bad stack specs: file:line:column and what was expected, exit 1, nothing read', async () => {
  const m = manifest(`  bad:\n    project: Not_Valid\n    files: []\n    state: sideways\n`);
  const r = await cli(['mini', 'validate', '-m', m], { home });
  assert.is(r.exitCode, 1);
  const e = String(r.stderr);
  assert.match(e, /pmoves\.mini\.yaml:4:14: stacks\.bad\.project: /);
  assert.match(e, /stacks\.bad\.files: /);
  assert.match(e, /stacks\.bad\.state: /);
  assert.not.match(e, '    at ');
});

test('the cache key covers compose files, env files, the env_file files the compose files name, profiles and named variables', async () => {
  const call = { project, project_directory: tmp.dir, files: [path.join(compose, 'docker-compose.external.yml')], profiles: [] as string[], env_files: [path.join(tmp.dir, 'vars.env')] };
  const env = { WGER_IMAGE: 'a', UNRELATED: 'x' };
  const k = (await cacheKeyInputs('docker-compose', call, env)).key;
  assert.is((await cacheKeyInputs('docker-compose', call, { ...env, UNRELATED: 'y' })).key, k, 'a variable the files do not name does not matter');
  assert.is.not((await cacheKeyInputs('docker-compose', call, { ...env, WGER_IMAGE: 'b' })).key, k);
  assert.is.not((await cacheKeyInputs('docker-compose', call, { ...env, COMPOSE_PROFILES: 'x' })).key, k);
  assert.is.not((await cacheKeyInputs('docker-compose', { ...call, profiles: ['gpu'] }, env)).key, k);
  assert.is.not((await cacheKeyInputs('docker compose', call, env)).key, k);
  assert.is.not((await cacheKeyInputs('docker-compose', { ...call, files: [...call.files, path.join(compose, 'docker-compose.gpu.yml')] }, env)).key, k);
  writeFileSync(path.join(tmp.dir, 'env.shared'), `SUPABASE_SERVICE_ROLE_KEY=${SECRET}-2\n`);
  assert.is.not((await cacheKeyInputs('docker-compose', call, env)).key, k, 'env_file: env.shared is read by compose');
  const k2 = (await cacheKeyInputs('docker-compose', call, env)).key;
  writeFileSync(path.join(tmp.dir, 'vars.env'), 'FIREFLY_APP_KEY=other\n');
  assert.is.not((await cacheKeyInputs('docker-compose', call, env)).key, k2);
});

test.run();
