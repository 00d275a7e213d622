// Stacks in dependency order both ways, and declarative hardware gating, on small stacks under the
// compose the suite runs (v2, and v1 in CI's rerun): `mon` uses as external the network `base` creates
// and depends on it. On a fresh machine both are planned and applied in one go; `tear-down base` is
// refused while `mon` depends on it, and with --with-dependents both go (mon first) leaving no network.
// `base` has a service that reserves an NVIDIA GPU and `skip_unsatisfiable: true`: plan, apply, status,
// watch and tear-down leave it out (named once in the plan) on this CPU machine.
import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, cliSpawn, composeDown, tempDir, waitFor } from './helpers.js';

const tmp = tempDir('pmoves-stacks-order-');
const home = path.join(tmp.dir, 'home');
const id = `${process.pid}-${Date.now().toString(36)}`;
const base = `pmo-base-${id}`;
const mon = `pmo-mon-${id}`;
const net = `pmo-net-${id}`;
const manifest = path.join(tmp.dir, 'pmoves.mini.yaml');
const baseFile = path.join(tmp.dir, 'base.yml');
const monFile = path.join(tmp.dir, 'mon.yml');

const run = (args: string[]) => cli(['mini', ...args, '-m', manifest], { home, cwd: tmp.dir, timeout: 180_000 });
const out = (r: { stdout: unknown; stderr: unknown }) => String(r.stdout) + String(r.stderr);
const services = async (project: string) => {
  const r = await execa('docker', ['ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Label "com.docker.compose.service"}}'], { reject: false });
  return r.stdout.split('\n').filter(Boolean).sort();
};
const networkExists = async () => (await execa('docker', ['network', 'inspect', net], { reject: false })).exitCode === 0;

test.before(() => {
  const svc = (extra = '') => `    image: pmoves-test/busybox:latest\n    init: true\n    command: ["sleep", "2147483647"]\n${extra}`;
  writeFileSync(
    baseFile,
    `services:\n  api:\n${svc('    networks: [shared]\n')}  gpu-worker:\n${svc('    networks: [shared]\n    deploy:\n      resources:\n        reservations:\n          devices:\n            - driver: nvidia\n              count: 1\n              capabilities: [gpu]\n')}networks:\n  shared:\n    name: ${net}\n`,
  );
  writeFileSync(monFile, `services:\n  probe:\n${svc('    networks: [shared]\n')}networks:\n  shared:\n    name: ${net}\n    external: true\n`);
  writeFileSync(
    manifest,
    `apiVersion: pmoves.ai/mini/v1\nstacks:\n  base:\n    project: ${base}\n    files: [base.yml]\n    skip_unsatisfiable: true\n    wait_timeout: 60s\n  mon:\n    project: ${mon}\n    files: [mon.yml]\n    depends_on: [stacks.base]\n    wait_timeout: 60s\n`,
  );
});

test.after(async () => {
  await composeDown(mon, [monFile], tmp.dir);
  await composeDown(base, [baseFile], tmp.dir);
  for (const p of [mon, base]) {
    const left = await execa('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${p}`], { reject: false });
    if (left.stdout.trim()) await execa('docker', ['rm', '-f', ...left.stdout.trim().split('\n')], { reject: false });
  }
  await execa('docker', ['network', 'rm', net], { reject: false });
  tmp.cleanup();
});

test('fresh machine: a network the dependency creates is not a plan error; the GPU service is named once and left out', async () => {
  const p = await run(['plan', '--detailed-exitcode']);
  assert.is(p.exitCode, 2, out(p));
  const o = String(p.stdout);
  assert.match(o, `external network ${net} does not exist yet: expected from stacks.base`);
  assert.is(o.split('gpu-worker cannot run here').length - 1, 1, o);
  assert.match(o, 'skip_unsatisfiable: true');
  const a = await run(['apply', '--auto-approve']);
  assert.is(a.exitCode, 0, out(a));
  assert.equal(await services(base), ['api']);
  assert.equal(await services(mon), ['probe']);
  const again = await run(['plan', '--detailed-exitcode']);
  assert.is(again.exitCode, 0, out(again));
  const st = await run(['status']);
  assert.is(st.exitCode, 0, out(st));
  assert.match(String(st.stdout), '1/1 services running');
});

test('watch with the stack field converges instead of failing on the GPU service', async () => {
  const w = cliSpawn(['mini', 'watch', '--interval', '1h', '--json', '-m', manifest], { home, cwd: tmp.dir });
  let text = '';
  w.stdout?.on('data', (c: Buffer) => (text += c.toString()));
  w.stderr?.on('data', (c: Buffer) => (text += c.toString()));
  try {
    await waitFor(() => /"result":\s*"(no-changes|ok|failed|error)"/.test(text), 'the first watch run', 90_000);
  } finally {
    w.kill('SIGTERM');
    await w;
  }
  assert.match(text, /"result":\s*"no-changes"/, text);
  assert.not.match(text, 'not converged', text);
});

test('tear-down base is refused while mon depends on it; --with-dependents tears down both, mon first, and leaves no network', async () => {
  const refused = await run(['tear-down', 'base', '--auto-approve']);
  assert.is(refused.exitCode, 1, out(refused));
  assert.match(String(refused.stderr), 'stacks.mon depends on stacks.base');
  assert.not.match(String(refused.stderr), '    at ');
  assert.equal(await services(base), ['api']);
  const t = await run(['tear-down', 'base', '--with-dependents', '--skip-unsatisfiable', '--auto-approve']);
  assert.is(t.exitCode, 0, out(t));
  const o = String(t.stdout);
  assert.ok(o.indexOf('stacks.mon: Destruction complete') < o.indexOf('stacks.base: Destruction complete'), o);
  assert.not.match(o, 'still in use');
  assert.equal(await services(base), []);
  assert.equal(await services(mon), []);
  assert.not.ok(await networkExists(), `network ${net} left behind`);
});

test.run();
