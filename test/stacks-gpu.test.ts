// Per-service GPU gating: the rule (src/providers/docker/gpu.ts) on the shapes compose files use, and,
// end to end on a small stack under the compose the suite runs (v2 or v1), a service that reserves an
// NVIDIA GPU is a `!` error on this CPU machine (nothing started), planned normally on the recorded RTX
// desktop, and left out of `up` with --skip-unsatisfiable (the rest comes up, nothing half-started).
import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dependentsOf, gpuNeed, gpuShortfall, unsatisfiableServices, type GpuSupply } from '../src/providers/docker/gpu.js';
import { rtxDesktop } from './deployment-harness.js';
import { cli, composeDown, tempDir } from './helpers.js';

const none: GpuSupply = { devices: [], runtime: false, problem: null };
const one: GpuSupply = { devices: ['NVIDIA GeForce RTX 5090'], runtime: true, problem: null };

test('gpuNeed: the ways a compose service asks for a GPU', () => {
  const reserve = (d: unknown) => ({ deploy: { resources: { reservations: { devices: [d] } } } });
  assert.equal(gpuNeed({ image: 'x' }), null);
  assert.equal(gpuNeed(reserve({ driver: 'nvidia', capabilities: ['compute', 'utility'], count: -1 }))?.count, 'all');
  assert.match(gpuNeed(reserve({ driver: 'nvidia', capabilities: ['compute'] }))!.why, 'driver nvidia');
  assert.equal(gpuNeed(reserve({ capabilities: ['gpu'], count: 2 }))?.count, 2);
  assert.equal(gpuNeed(reserve({ capabilities: ['gpu'], device_ids: ['0'] }))?.count, 1);
  assert.equal(gpuNeed(reserve({ capabilities: ['tpu'], driver: 'other' })), null, 'a device that is not a GPU');
  assert.equal(gpuNeed({ gpus: 'all' })?.why, 'gpus: all');
  assert.equal(gpuNeed({ gpus: [{ count: 1 }] })?.count, 1);
  assert.equal(gpuNeed({ runtime: 'nvidia' })?.runtime, true);
  assert.equal(gpuNeed({ runtime: 'runc' }), null);
});

test('gpuShortfall: no GPU, too few, no container runtime', () => {
  const need = gpuNeed({ gpus: [{ count: 2 }] })!;
  assert.match(gpuShortfall(need, none)!, 'no NVIDIA GPU');
  assert.match(gpuShortfall(need, { ...none, problem: 'nvidia-smi timed out' })!, 'nvidia-smi timed out');
  assert.match(gpuShortfall(need, one)!, 'asks for 2 GPUs and this machine has 1');
  assert.match(gpuShortfall(gpuNeed({ gpus: 'all' })!, { ...one, runtime: false })!, 'NVIDIA container runtime');
  assert.is(gpuShortfall(gpuNeed({ gpus: 'all' })!, one), null);
});

test('unsatisfiableServices: dependents (short and long depends_on) are left out with the service they need', async () => {
  const services = {
    gpu: { gpus: 'all' },
    api: { depends_on: ['gpu'] },
    web: { depends_on: { api: { condition: 'service_started' } } },
    opt: { depends_on: { gpu: { condition: 'service_started', required: false } } },
    db: {},
  };
  assert.equal([...dependentsOf(services, ['gpu'])].sort(), [['api', 'gpu'], ['web', 'gpu']]);
  let asked = 0;
  const got = await unsatisfiableServices(services, Object.keys(services), async () => (asked++, none));
  assert.equal([...got.keys()].sort(), ['api', 'gpu', 'web']);
  assert.match(got.get('web')!, 'depends on gpu');
  assert.is(asked, 1);
  assert.is((await unsatisfiableServices(services, ['db', 'opt'], async () => (asked++, none))).size, 0);
  assert.is(asked, 1, 'the machine is not asked when no service needs a GPU');
  assert.is((await unsatisfiableServices(services, Object.keys(services), async () => one)).size, 0);
});

// ---- end to end ------------------------------------------------------------------------------------

const tmp = tempDir('pmoves-stacks-gpu-');
const home = path.join(tmp.dir, 'home');
const project = `pmg-${process.pid}-${Date.now().toString(36)}`;
const manifest = path.join(tmp.dir, 'pmoves.mini.yaml');
const file = path.join(tmp.dir, 'docker-compose.yml');
const IMAGE = 'pmoves-test/busybox:latest';
const run = (args: string[], env: Record<string, string> = {}) => cli(['mini', ...args, '-m', manifest], { home, cwd: tmp.dir, env, timeout: 180_000 });

test.after(async () => {
  await composeDown(project, [file], tmp.dir);
  tmp.cleanup();
});

async function containers(): Promise<Map<string, string>> {
  const r = await execa('docker', ['ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Label "com.docker.compose.service"}} {{.State}}']);
  return new Map(r.stdout.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

test('a GPU service: named before anything starts here, planned on the RTX desktop, left out with --skip-unsatisfiable', async () => {
  writeFileSync(
    file,
    `services:
  app:
    image: ${IMAGE}
    init: true
    command: ["sleep", "2147483647"]
  whisper:
    image: ${IMAGE}
    init: true
    command: ["sleep", "2147483647"]
    deploy:
      resources:
        reservations:
          devices:
            - driver: nvidia
              capabilities: [compute, utility]
              count: all
  uses-whisper:
    image: ${IMAGE}
    init: true
    command: ["sleep", "2147483647"]
    depends_on: [whisper]
`,
  );
  writeFileSync(manifest, `apiVersion: pmoves.ai/mini/v1\nstacks:\n  app:\n    project: ${project}\n    files: [docker-compose.yml]\n    wait_timeout: 60s\n`);

  const cpu = await run(['plan']);
  assert.is(cpu.exitCode, 1, String(cpu.stdout) + String(cpu.stderr));
  const out = String(cpu.stdout);
  assert.match(out, /! stacks\.app service whisper cannot run here: it reserves NVIDIA GPUs \(deploy\.resources\.reservations\.devices \(driver nvidia\)\) and this machine has no NVIDIA GPU/);
  assert.match(out, /! stacks\.app service uses-whisper cannot run here: it depends on whisper/);
  assert.not.match(out, /stacks\.app\.whisper will be/);
  const refused = await run(['apply', '--auto-approve']);
  assert.is(refused.exitCode, 1);
  assert.is((await containers()).size, 0, 'nothing started');

  const desk = await run(['plan', '--detailed-exitcode'], rtxDesktop);
  assert.is(desk.exitCode, 2, String(desk.stdout) + String(desk.stderr));
  for (const s of ['app', 'whisper', 'uses-whisper']) assert.match(String(desk.stdout), `stacks.app.${s} will be created`);
  assert.not.match(String(desk.stdout), 'cannot run here');

  const skip = await run(['plan', '--skip-unsatisfiable', '--detailed-exitcode']);
  assert.is(skip.exitCode, 2, String(skip.stdout));
  assert.match(String(skip.stdout), /! stacks\.app service whisper cannot run here: .*; left out of up \(--skip-unsatisfiable\)/);
  assert.match(String(skip.stdout), 'stacks.app.app will be created');
  assert.not.match(String(skip.stdout), /stacks\.app\.(uses-)?whisper will be/);

  const applied = await run(['apply', '--auto-approve', '--skip-unsatisfiable']);
  assert.is(applied.exitCode, 0, String(applied.stdout) + String(applied.stderr));
  assert.equal([...(await containers())], [['app', 'running']], 'only app: nothing half-started');
  const again = await run(['plan', '--skip-unsatisfiable', '--detailed-exitcode']);
  assert.is(again.exitCode, 0, String(again.stdout));
  assert.match(String(again.stdout), 'left out of up');
});

test.run();
