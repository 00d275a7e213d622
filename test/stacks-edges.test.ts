// Stacks at the edges, on small stacks under whichever compose generation runs the tests (v2, and v1 in
// CI's PMOVES_COMPOSE=docker-compose rerun): a short secret inside a composed value is masked whole
// everywhere; every change carries its `cause` in --json and saved plans; an unchanged healthy stack
// (healthcheck, wait: true, a profile, a service_healthy dependency) plans without spawning compose;
// plan output is stable; a saved plan carries `cause: unhealthy` and `apply FILE` acts on it.
import { execa } from 'execa';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { composeArgv, composeGeneration } from './deployment-harness.js';
import { cli, composeDown, tempDir, waitFor } from './helpers.js';

const tmp = tempDir('pmoves-stacks-edges-');
const home = path.join(tmp.dir, 'home');
const project = `pme-${process.pid}-${Date.now().toString(36)}`;
const manifest = path.join(tmp.dir, 'pmoves.mini.yaml');
const file = path.join(tmp.dir, 'docker-compose.yml');
const wrapper = path.join(tmp.dir, 'compose-wrapper');
const calls = path.join(tmp.dir, 'compose-calls.log');
// A short value under a plain key, read by `db` through env_file: masked there, so masked inside `app`'s URI.
const canary = 'qzpxw';
const canary2 = 'ywkrb';
const outputs: string[] = [];

const compose = () => `services:
  db:
    image: pmoves-test/busybox:latest
    init: true
    command: ["sh", "-c", "touch /tmp/ready && exec sleep 2147483647"]
    env_file: [shared.env]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      timeout: 2s
      retries: 20
  app:
    image: pmoves-test/busybox:latest
    init: true
    command: ["sleep", "2147483647"]
    depends_on:
      db:
        condition: service_healthy
    environment:
      DB_URI: postgres://user@db:5432/\${DB_NAME:-pmoves}
      LOG_LEVEL: info
    labels:
      edge.db: "\${DB_NAME}"
  extra:
    image: pmoves-test/busybox:latest
    init: true
    command: ["sleep", "2147483647"]
    profiles: [extra]
`;

const writeManifest = (profiles: string[]) =>
  writeFileSync(
    manifest,
    `apiVersion: pmoves.ai/mini/v1\ncompose:\n  command: [${JSON.stringify(wrapper)}]\nstacks:\n  app:\n    project: ${project}\n    files: [docker-compose.yml]\n    env_files: [shared.env]\n    profiles: [${profiles.join(', ')}]\n    wait: true\n    wait_timeout: 60s\n`,
  );

const run = async (args: string[]) => {
  const r = await cli(['mini', ...args, '-m', manifest], { home, cwd: tmp.dir, timeout: 180_000 });
  outputs.push(String(r.stdout), String(r.stderr));
  return r;
};
const out = (r: { stdout: unknown; stderr: unknown }) => String(r.stdout) + String(r.stderr);
const callCount = () => (existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter(Boolean).length : 0);
const written = () => {
  const segs = path.join(home, 'state.d');
  return [path.join(home, 'state.json'), path.join(home, 'audit.jsonl'), ...(existsSync(segs) ? readdirSync(segs).map((f) => path.join(segs, f)) : [])].filter(existsSync).map((f) => readFileSync(f, 'utf8'));
};
const running = async () => {
  const r = await execa('docker', ['ps', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Label "com.docker.compose.service"}}'], { reject: false });
  return r.stdout.split('\n').filter(Boolean).sort();
};

test.before(async () => {
  const argv = await composeArgv();
  writeFileSync(wrapper, `#!/bin/sh\necho "$*" >> ${JSON.stringify(calls)}\nexec ${argv.join(' ')} "$@"\n`);
  chmodSync(wrapper, 0o755);
  writeFileSync(file, compose());
  writeFileSync(path.join(tmp.dir, 'shared.env'), `DB_NAME=${canary}\nDB_OTHER=plain-config-value\n`);
  writeManifest(['extra']);
});

test.after(async () => {
  await composeDown(project, [file], tmp.dir);
  const left = await execa('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`], { reject: false });
  if (left.stdout.trim()) await execa('docker', ['rm', '-f', ...left.stdout.trim().split('\n')], { reject: false });
  tmp.cleanup();
});

test('first plan: stable, every part has a cause in --json and in the saved plan, the short secret is masked inside the URI and the label', async () => {
  const a = await run(['plan']);
  const b = await run(['plan']);
  assert.is(a.exitCode, 0, out(a));
  assert.is(String(a.stdout), String(b.stdout), 'two plans of the same state read the same');
  assert.match(String(a.stdout), /DB_URI\s+= \(sensitive value\)/);
  assert.match(String(a.stdout), /LOG_LEVEL\s+= "info"/);
  assert.not.match(String(a.stdout), '$sensitive');
  const saved = path.join(tmp.dir, 'plan.json');
  const j = await run(['plan', '--json', '--out', saved]);
  assert.is(j.exitCode, 0, out(j));
  const doc = JSON.parse(String(j.stdout)) as { resource_changes: { address: string; cause?: string; parts?: { address: string; cause?: string; action: string }[] }[] };
  const stack = doc.resource_changes.find((c) => c.address === 'stacks.app')!;
  assert.equal(stack.parts!.map((p) => [p.address, p.action, p.cause]), [
    ['stacks.app.app', 'create', 'missing'],
    ['stacks.app.db', 'create', 'missing'],
    ['stacks.app.extra', 'create', 'missing'],
  ]);
  const file = JSON.parse(readFileSync(saved, 'utf8')) as { plan: typeof doc };
  assert.equal(file.plan.resource_changes.find((c) => c.address === 'stacks.app')!.parts!.map((p) => p.cause), ['missing', 'missing', 'missing']);
  outputs.push(readFileSync(saved, 'utf8'));
});

test('apply; the next plans (no-op, healthy) spawn no compose process', async () => {
  const a = await run(['apply', '--auto-approve']);
  assert.is(a.exitCode, 0, out(a));
  assert.equal(await running(), ['app', 'db', 'extra']);
  const before = callCount();
  for (let i = 0; i < 2; i++) {
    const p = await run(['plan', '--detailed-exitcode']);
    assert.is(p.exitCode, 0, out(p));
    assert.match(String(p.stdout), 'No changes.');
  }
  assert.is(callCount(), before, `a no-op plan ran compose: ${readFileSync(calls, 'utf8').split('\n').slice(before).join('\n')}`);
});

test('changing the short secret recreates what reads it; neither value is ever shown or stored', async () => {
  writeFileSync(path.join(tmp.dir, 'shared.env'), `DB_NAME=${canary2}\nDB_OTHER=plain-config-value\n`);
  const p = await run(['plan', '--detailed-exitcode']);
  assert.is(p.exitCode, 2, out(p));
  assert.match(String(p.stdout), /DB_URI\s+= \(sensitive value\) -> \(sensitive value\)/);
  const j = await run(['plan', '--json']);
  assert.match(String(j.stdout), '"cause": "config-changed"');
  const a = await run(['apply', '--auto-approve']);
  assert.is(a.exitCode, 0, out(a));
  for (const c of [canary, canary2]) for (const o of [...outputs, ...written()]) assert.not.ok(o.includes(c), `canary ${c} leaked: ${o.slice(0, 2000)}`);
});

test('dropping a profile: its services are planned for removal (profile no longer active), status names them, apply removes them', async () => {
  writeManifest([]);
  const st = await run(['status']);
  assert.match(String(st.stdout), 'not declared but running: extra');
  assert.match(String(st.stdout), '2/2 services running');
  const p = await run(['plan', '--detailed-exitcode']);
  assert.is(p.exitCode, 2, out(p));
  assert.match(String(p.stdout), '# stacks.app.extra will be removed (because its profile is no longer active)');
  assert.not.match(String(p.stdout), 'matches the manifest');
  const j = JSON.parse(String((await run(['plan', '--json'])).stdout)) as { resource_changes: { parts?: { address: string; cause?: string }[] }[] };
  assert.equal(j.resource_changes.flatMap((c) => c.parts ?? []).filter((x) => x.cause === 'profile-inactive').map((x) => x.address), ['stacks.app.extra']);
  const a = await run(['apply', '--auto-approve']);
  assert.is(a.exitCode, 0, out(a));
  assert.equal(await running(), ['app', 'db']);
  const again = await run(['plan', '--detailed-exitcode']);
  assert.is(again.exitCode, 0, out(again));
});

test('a missing build context is an error only when the image must be built; a note when the image is present', async () => {
  const dir = path.join(tmp.dir, 'build');
  mkdirSync(dir, { recursive: true });
  const m = path.join(dir, 'pmoves.mini.yaml');
  writeFileSync(m, `apiVersion: pmoves.ai/mini/v1\nstacks:\n  b:\n    project: ${project}-b\n    files: [dc.yml]\n`);
  const svc = (image: string) => `services:\n  built:\n    build: ./no-such-sources\n    image: ${image}\n    command: ["sleep", "2147483647"]\n`;
  writeFileSync(path.join(dir, 'dc.yml'), svc('pmoves-test/busybox:latest'));
  const own = path.join(dir, 'home');
  const ok = await cli(['mini', 'validate', '-m', m], { home: own, cwd: dir, timeout: 120_000 });
  assert.is(ok.exitCode, 0, out(ok));
  assert.match(out(ok), /build context \.\/no-such-sources does not exist .*its image pmoves-test\/busybox:latest is present, so it is not built/);
  const plan = await cli(['mini', 'plan', '-m', m], { home: own, cwd: dir, timeout: 120_000 });
  if ((await composeGeneration()) === 2) {
    assert.is(plan.exitCode, 0, out(plan));
    assert.match(String(plan.stdout), 'stacks.b.built will be created');
  } else {
    // compose v1 itself refuses a build path that does not exist, whether or not the image is present:
    // its own words, under the stack.
    assert.is(plan.exitCode, 1, out(plan));
    assert.match(out(plan), /compose rejected the stack's files[\s\S]*build path .*no-such-sources/);
  }
  writeFileSync(path.join(dir, 'dc.yml'), svc(`pmoves-test/absent-${project}:none`));
  const bad = await cli(['mini', 'validate', '-m', m], { home: own, cwd: dir, timeout: 120_000 });
  assert.is(bad.exitCode, 1, out(bad));
  assert.match(out(bad), /pmoves\.mini\.yaml:\d+:\d+: .*build context \.\/no-such-sources does not exist/);
  assert.not.match(out(bad), '    at ');
});

test('a saved plan carries cause unhealthy, and `apply FILE` acts on it: the unhealthy container is recreated', async () => {
  const dir = path.join(tmp.dir, 'health');
  mkdirSync(dir, { recursive: true });
  const own = path.join(dir, 'home');
  const hp = `${project}-h`;
  const dc = path.join(dir, 'dc.yml');
  writeFileSync(dc, `services:\n  w:\n    image: pmoves-test/busybox:latest\n    init: true\n    command: ["sh", "-c", "touch /tmp/ok && exec sleep 2147483647"]\n    healthcheck:\n      test: ["CMD", "test", "-f", "/tmp/ok"]\n      interval: 1s\n      timeout: 2s\n      retries: 1\n`);
  const m = path.join(dir, 'pmoves.mini.yaml');
  writeFileSync(m, `apiVersion: pmoves.ai/mini/v1\nstacks:\n  h:\n    project: ${hp}\n    files: [dc.yml]\n    wait_timeout: 60s\n`);
  const h = (args: string[]) => cli(['mini', ...args], { home: own, cwd: dir, timeout: 180_000 });
  const state = async () => (await execa('docker', ['ps', '-a', '--filter', `label=com.docker.compose.project=${hp}`, '--format', '{{.ID}} {{.Status}}'], { reject: false })).stdout.trim();
  try {
    const a = await h(['apply', '--auto-approve', '-m', m]);
    assert.is(a.exitCode, 0, out(a));
    const before = (await state()).split(' ')[0]!;
    await execa('docker', ['exec', before, 'rm', '/tmp/ok']);
    await waitFor(async () => (await state()).includes('(unhealthy)'), 'the container to turn unhealthy', 60_000);
    const saved = path.join(dir, 'plan.json');
    const p = await h(['plan', '--out', saved, '-m', m]);
    assert.is(p.exitCode, 0, out(p));
    assert.match(String(p.stdout), '# stacks.h.w will be recreated (because it is unhealthy)');
    const file = JSON.parse(readFileSync(saved, 'utf8')) as { plan: { resource_changes: { parts?: { address: string; cause?: string }[] }[] } };
    assert.equal(file.plan.resource_changes.flatMap((c) => c.parts ?? []).map((x) => [x.address, x.cause]), [['stacks.h.w', 'unhealthy']]);
    const b = await h(['apply', saved]);
    assert.is(b.exitCode, 0, out(b));
    const after = await state();
    assert.is.not(after.split(' ')[0], before, 'recreated');
    assert.match(after, '(healthy)');
  } finally {
    await composeDown(hp, [dc], dir);
  }
});

test.run();
