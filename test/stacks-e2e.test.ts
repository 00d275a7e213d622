// End to end, as a user would: the built CLI against a real Docker Engine and real compose, on a
// 3-service stack (healthcheck, depends_on, a port on 127.0.0.1) in its own compose project.
// Needs `bash ../shared/scripts/docker-engine.sh` (image pmoves-test/busybox:latest).
import { execa } from 'execa';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, composeDown, freePort, repoRoot, tempDir } from './helpers.js';

const tmp = tempDir('pmoves-stacks-');
const home = path.join(tmp.dir, 'home');
const project = `pmt-${process.pid}-${Date.now().toString(36)}`;
const manifest = path.join(tmp.dir, 'pmoves.mini.yaml');
const composeFile = path.join(tmp.dir, 'docker-compose.yml');
const calls = path.join(tmp.dir, 'compose-calls.log');
const wrapper = path.join(tmp.dir, 'compose-wrapper.sh');
const tag = `pmoves-test/busybox:${project}`;
let port = 0;

const IMAGE = 'pmoves-test/busybox:latest';

function compose(opts: { apiCommand?: string; dbImage?: string; withWeb?: boolean; webEnv?: string } = {}): string {
  const { apiCommand = 'api-ok', dbImage = IMAGE, withWeb = true, webEnv = 'one' } = opts;
  return `services:
  db:
    image: ${dbImage}
    init: true
    command: ["sh", "-c", "touch /tmp/ready && exec sleep 2147483647"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      retries: 30
    volumes:
      - data:/data
  api:
    image: ${IMAGE}
    init: true
    command: ["sh", "-c", "mkdir -p /www && echo ${apiCommand} > /www/index.html && exec httpd -f -p 8081 -h /www"]
    depends_on:
      db:
        condition: service_healthy
${
  withWeb
    ? `  web:
    image: ${IMAGE}
    init: true
    command: ["sh", "-c", "mkdir -p /www && echo pmoves-web > /www/index.html && exec httpd -f -p 8080 -h /www"]
    environment:
      MODE: ${webEnv}
    depends_on: [api]
    ports:
      - "127.0.0.1:${port}:8080"
`
    : ''
}volumes:
  data:
`;
}

function writeManifest(stack: Record<string, unknown> | null): void {
  const lines = [
    'apiVersion: pmoves.ai/mini/v1',
    'compose:',
    `  command: [${JSON.stringify(wrapper)}]`,
    'secrets:',
    '  env:',
    `    bundle: ${JSON.stringify(path.join(repoRoot, 'examples', 'quickstart', 'env.cgp.json'))}`,
    '    env_file: out/env.shared',
  ];
  if (stack) {
    lines.push('stacks:', '  app:');
    for (const [k, v] of Object.entries({ files: ['docker-compose.yml'], project, wait_timeout: '60s', ...stack })) lines.push(`    ${k}: ${JSON.stringify(v)}`);
  }
  writeFileSync(manifest, lines.join('\n') + '\n');
}

const run = (args: string[], env: Record<string, string> = {}) => cli(['mini', ...args, '-m', manifest], { home, cwd: tmp.dir, env, timeout: 180_000 });
const out = (r: { stdout?: unknown; stderr?: unknown }) => `${String(r.stdout)}\n${String(r.stderr)}`;
const callCount = () => (existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter(Boolean).length : 0);

async function containers(): Promise<{ service: string; state: string; name: string }[]> {
  const r = await execa('docker', ['ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Label "com.docker.compose.service"}} {{.State}} {{.Names}}']);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [service, state, name] = l.split(' ');
      return { service: service!, state: state!, name: name! };
    })
    .sort((a, b) => a.service.localeCompare(b.service));
}

async function volumeExists(): Promise<boolean> {
  return (await execa('docker', ['volume', 'inspect', `${project}_data`], { reject: false })).exitCode === 0;
}

function get(p: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: p, path: '/' }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}


test.before(async () => {
  port = await freePort();
  // compose.command: the real docker-compose, with each call written down (a cached plan spawns none).
  writeFileSync(wrapper, `#!/bin/sh\necho "$*" >> ${JSON.stringify(calls)}\nexec docker-compose "$@"\n`);
  chmodSync(wrapper, 0o755);
  writeFileSync(composeFile, compose());
  writeManifest({});
  await execa('docker', ['tag', IMAGE, tag]);
});

test.after(async () => {
  await composeDown(project, [composeFile], tmp.dir);
  const left = await execa('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`], { reject: false });
  if (left.stdout.trim()) await execa('docker', ['rm', '-f', ...left.stdout.trim().split('\n')], { reject: false });
  await execa('docker', ['volume', 'rm', '-f', `${project}_data`], { reject: false });
  await execa('docker', ['rmi', tag], { reject: false });
  tmp.cleanup();
});

test('plan shows the stack and each of its 3 services to be created', async () => {
  const r = await run(['plan']);
  assert.is(r.exitCode, 0, out(r));
  const o = String(r.stdout);
  assert.match(o, `# stacks.app will be created (because project ${project} has no containers)`);
  for (const s of ['db', 'api', 'web']) assert.match(o, `# stacks.app.${s} will be created (because it does not exist)`);
  assert.match(o, `127.0.0.1:${port}:8080`);
});

test('apply brings it up (healthy, port answers); the next plan says No changes and spawns no compose', async () => {
  const r = await run(['apply', '--auto-approve']);
  assert.is(r.exitCode, 0, out(r));
  assert.match(String(r.stdout), /stacks\.app: Creating .*db/);
  assert.equal((await containers()).map((c) => [c.service, c.state]), [
    ['api', 'running'],
    ['db', 'running'],
    ['web', 'running'],
  ]);
  assert.is((await get(port)).trim(), 'pmoves-web');
  const before = callCount();
  const p = await run(['plan']);
  assert.is(p.exitCode, 0, out(p));
  assert.match(String(p.stdout), 'No changes.');
  assert.is(callCount(), before, 'a no-op plan must not run compose');
});

test('editing the compose file: exactly the affected services are recreated, with the reason', async () => {
  writeFileSync(composeFile, compose({ dbImage: tag, webEnv: 'two' }));
  const r = await run(['plan', '--detailed-exitcode']);
  assert.is(r.exitCode, 2, out(r));
  const o = String(r.stdout);
  assert.match(o, `# stacks.app.db will be recreated (because its config changed: image ${IMAGE} -> ${tag})`);
  assert.match(o, '# stacks.app.web will be recreated (because its config changed: environment: MODE changed)');
  assert.match(o, '-/+ stacks "app.db"');
  assert.not.match(o, 'stacks.app.api will');
  const a = await run(['apply', '--auto-approve']);
  assert.is(a.exitCode, 0, out(a));
  assert.match(String((await run(['plan'])).stdout), 'No changes.');
});

test('a container stopped or removed by hand is drift, and apply repairs it', async () => {
  const cs = await containers();
  await execa('docker', ['stop', '-t', '1', cs.find((c) => c.service === 'api')!.name]);
  await execa('docker', ['rm', '-f', cs.find((c) => c.service === 'web')!.name]);
  const r = await run(['plan']);
  const o = String(r.stdout);
  assert.match(o, /# stacks\.app\.api will be started \(because it is exited \(\d+\)\)/);
  assert.match(o, '# stacks.app.web will be created (because it does not exist)');
  const s = await run(['status']);
  assert.match(String(s.stdout), /stacks\.app\.api\s+drifted\s+it is exited/);
  assert.match(String(s.stdout), /stacks\.app\.web\s+missing\s+it does not exist/);
  const a = await run(['apply', '--auto-approve']);
  assert.is(a.exitCode, 0, out(a));
  assert.equal((await containers()).map((c) => c.state), ['running', 'running', 'running']);
  assert.match(String((await run(['plan'])).stdout), 'No changes.');
});

test('status shows each service: state, health, uptime', async () => {
  const s = await run(['status']);
  assert.is(s.exitCode, 0, out(s));
  const o = String(s.stdout);
  assert.match(o, /stacks\.app\s+in-sync\s+.*project pmt-.*3\/3 services running/);
  assert.match(o, /stacks\.app\.db\s+in-sync\s+Up .*\(healthy\)/);
  assert.match(o, /stacks\.app\.web\s+in-sync\s+Up /);
});

test('a service removed from the file is planned as removed, and apply removes it', async () => {
  writeFileSync(composeFile, compose({ dbImage: tag, webEnv: 'two', withWeb: false }));
  const r = await run(['plan']);
  assert.match(String(r.stdout), '# stacks.app.web will be removed (because it is no longer in the compose files (orphan))');
  const a = await run(['apply', '--auto-approve']);
  assert.is(a.exitCode, 0, out(a));
  assert.equal((await containers()).map((c) => c.service), ['api', 'db']);
});

test('tear-down and bring-up act on the one stack and say when the manifest disagrees', async () => {
  const d = await run(['tear-down', 'app', '--auto-approve']);
  assert.is(d.exitCode, 0, out(d));
  assert.match(String(d.stdout), '# stacks.app will be torn down (because state: down)');
  assert.match(String(d.stdout), 'the manifest declares stacks.app with state: up');
  assert.equal(await containers(), []);
  assert.ok(await volumeExists(), 'volumes survive a tear-down');
  const u = await run(['bring-up', 'app', '--auto-approve']);
  assert.is(u.exitCode, 0, out(u));
  assert.not.match(String(u.stdout), 'the manifest declares');
  assert.is((await containers()).length, 2);
  const bad = await run(['bring-up', 'nope', '--auto-approve']);
  assert.is(bad.exitCode, 1);
  assert.match(String(bad.stderr), 'stacks.nope');
});

test('Docker Engine unreachable: exit 1, one diagnostic per stack naming DOCKER_HOST, other kinds still planned', async () => {
  rmSync(path.join(tmp.dir, 'out'), { recursive: true, force: true });
  const sock = path.join(tmp.dir, 'no-engine.sock');
  const r = await run(['plan'], { DOCKER_HOST: `unix://${sock}` });
  assert.is(r.exitCode, 1, out(r));
  const o = String(r.stdout);
  assert.match(o, `! stacks.app could not read actual state: cannot reach the Docker Engine at unix://${sock} (from DOCKER_HOST)`);
  assert.match(o, 'systemctl start docker');
  assert.match(o, '# secrets.env will be created');
});

test('a compose file compose rejects: its own message under the address, exit 1', async () => {
  writeFileSync(composeFile, 'services:\n  db:\n    command: ["true"]\n');
  const r = await run(['plan']);
  assert.is(r.exitCode, 1, out(r));
  assert.match(String(r.stdout), '! stacks.app compose rejected the stack\'s files');
  assert.match(String(r.stdout), 'neither an image nor a build context');
  writeFileSync(composeFile, compose());
});

test('a stack no longer in the manifest is torn down (this tool created it); volumes are kept', async () => {
  writeManifest(null);
  const r = await run(['apply', '--auto-approve']);
  assert.is(r.exitCode, 0, out(r));
  assert.match(String(r.stdout), '# stacks.app will be torn down (because it is no longer in the manifest and this tool created it)');
  assert.equal(await containers(), []);
  assert.ok(await volumeExists(), 'volumes of an undeclared stack are kept');
});

test('state: down with remove_volumes: true tears the stack down and removes its volumes, with a warning', async () => {
  writeManifest({});
  assert.is((await run(['apply', '--auto-approve'])).exitCode, 0);
  assert.is((await containers()).length, 3);
  writeManifest({ state: 'down', remove_volumes: true });
  const v = await run(['apply', '--auto-approve']);
  assert.is(v.exitCode, 0, out(v));
  assert.match(String(v.stdout), '# stacks.app will be torn down (because state: down)');
  assert.match(String(v.stdout), `# Warning: volume ${project}_data will be removed (remove_volumes: true)`);
  assert.equal(await containers(), []);
  assert.not.ok(await volumeExists());
  assert.match(String((await run(['plan'])).stdout), 'No changes.');
});

test.run();
