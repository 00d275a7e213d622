// On a real Docker Engine: a service whose healthcheck fails (apply waits and fails naming it; the plan
// then recreates it), and a stack whose env file a secrets resource writes in the same apply.
import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, composeDown, repoRoot, tempDir } from './helpers.js';

const tmp = tempDir('pmoves-stacks-health-');
const home = path.join(tmp.dir, 'home');
const project = `pmh-${process.pid}-${Date.now().toString(36)}`;
const manifest = path.join(tmp.dir, 'pmoves.mini.yaml');

test.before(() => {
  writeFileSync(
    path.join(tmp.dir, 'docker-compose.yml'),
    `services:
  sick:
    image: pmoves-test/busybox:latest
    init: true
    command: ["sleep", "2147483647"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 1
`,
  );
  writeFileSync(manifest, `apiVersion: pmoves.ai/mini/v1\nstacks:\n  h:\n    files: [docker-compose.yml]\n    project: ${project}\n    wait_timeout: 6s\n`);
});

test.after(async () => {
  await composeDown(project, [path.join(tmp.dir, 'docker-compose.yml')], tmp.dir);
  await composeDown(`${project}-env`, [path.join(tmp.dir, 'env-compose.yml')], tmp.dir);
  tmp.cleanup();
});

test('apply waits for health and fails naming the unhealthy service; the plan then recreates it', async () => {
  const a = await cli(['mini', 'apply', '--auto-approve', '-m', manifest], { home, timeout: 120_000 });
  assert.is(a.exitCode, 1, String(a.stdout));
  assert.match(String(a.stdout), /stacks\.h: Failed: not healthy after 6s: sick \(running \((unhealthy|starting)\)\)/);
  // The container exists, so the next plan judges it (after the healthcheck has failed).
  for (let i = 0; i < 40; i++) {
    const s = await execa('docker', ['ps', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Status}}']);
    if (s.stdout.includes('(unhealthy)')) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const p = await cli(['mini', 'plan', '-m', manifest], { home });
  assert.is(p.exitCode, 0, String(p.stderr));
  assert.match(String(p.stdout), '# stacks.h.sick will be recreated (because it is unhealthy)');
  const s = await cli(['mini', 'status', '-m', manifest], { home });
  assert.match(String(s.stdout), /stacks\.h\.sick\s+drifted\s+it is unhealthy/);
});

test('env_files written by secrets.env in the same apply: planned after it, applied, values never in state', async () => {
  writeFileSync(
    path.join(tmp.dir, 'env-compose.yml'),
    'services:\n  app:\n    image: pmoves-test/busybox:latest\n    init: true\n    command: ["sleep", "2147483647"]\n    environment:\n      SUPABASE_URL: ${SUPABASE_URL}\n',
  );
  const m = path.join(tmp.dir, 'env.yaml');
  writeFileSync(
    m,
    `apiVersion: pmoves.ai/mini/v1
secrets:
  env:
    bundle: ${JSON.stringify(path.join(repoRoot, 'examples', 'quickstart', 'env.cgp.json'))}
    env_file: out/env.shared
stacks:
  app:
    files: [env-compose.yml]
    project: ${project}-env
    env_files: [out/env.shared]
    depends_on: [secrets.env]
`,
  );
  const h = path.join(tmp.dir, 'home-env');
  const a = await cli(['mini', 'apply', '--auto-approve', '-m', m], { home: h, timeout: 120_000 });
  assert.is(a.exitCode, 0, String(a.stdout) + String(a.stderr));
  assert.match(String(a.stdout), 'does not exist yet; the services are planned after secrets.env apply');
  assert.match(String(a.stdout), 'stacks.app: Creation complete');
  const value = /^SUPABASE_URL=(.*)$/m.exec(readFileSync(path.join(tmp.dir, 'out', 'env.shared'), 'utf8'))![1]!;
  // By label: v1 names it <project>_app_1, v2 <project>-app-1.
  const id = (await execa('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${project}-env`, '--filter', 'label=com.docker.compose.service=app'])).stdout.trim();
  assert.ok(id, 'the app container exists');
  const env = (await execa('docker', ['inspect', '--format', '{{json .Config.Env}}', id])).stdout;
  assert.match(env, `SUPABASE_URL=${value}`);
  assert.not.match(readFileSync(path.join(h, 'state.json'), 'utf8'), value);
  assert.match(String((await cli(['mini', 'plan', '-m', m], { home: h })).stdout), 'No changes.');
});

test.run();
