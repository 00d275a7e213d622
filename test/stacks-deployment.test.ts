// Upstream's real deployment (core stack: docker-compose.yml, profiles data + workers, files unmodified)
// under compose v2 on the real engine, through the built CLI: plan → apply → no changes → drift (a
// stopped container, a changed env.shared value, a changed image tag) planned exactly as compose then
// acts → apply → tear-down, nothing left. Images are stand-ins (test/deployment-harness.ts). Fixed
// network names and host ports: this file must not run concurrently with another deployment run.
import { execa } from 'execa';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { composeArgv, composeGeneration, coreFile, coreProfiles, gpuServices, prepareDeployment, rtxDesktop, standIn, type Deployment } from './deployment-harness.js';
import { cli, tempDir } from './helpers.js';

const tmp = tempDir('pmoves-deployment-');
const home = path.join(tmp.dir, 'home');
const project = `pmd${process.pid}`;
const manifest = path.join(tmp.dir, 'pmoves.mini.yaml');
let dep: Deployment | null = null;
let generation: 1 | 2 = 2;
const outputs: string[] = [];

async function run(args: string[], env: Record<string, string> = {}) {
  const t0 = Date.now();
  const r = await cli(['mini', ...args, '-m', manifest], { home, env, timeout: 300_000 });
  outputs.push(String(r.stdout), String(r.stderr));
  if (process.env.PMOVES_TEST_TRACE) console.log(`  ${args.join(' ')}: ${Date.now() - t0} ms`);
  return r;
}

// compose.command: the compose the suite runs, each call written down (a no-op plan must spawn none).
const wrapper = path.join(tmp.dir, 'compose-wrapper');
const calls = path.join(tmp.dir, 'compose-calls.log');
const callCount = () => (existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter(Boolean).length : 0);
// A short value under a plain key (upstream's POSTGRES_DB), masked where postgres reads it from env.shared:
// postgrest's PGRST_DB_URI interpolates it, so it is masked there too, whole.
const shortCanary = 'qqpzosc';

function writeManifest(extra = '', profiles = coreProfiles): void {
  writeFileSync(
    manifest,
    `apiVersion: pmoves.ai/mini/v1
compose:
  command: [${JSON.stringify(wrapper)}]
stacks:
  core:
    project: ${project}
    files: [${JSON.stringify(coreFile)}]
    project_directory: .
    profiles: ${JSON.stringify(profiles)}
    env_files: [env.shared]
    wait_timeout: 120s
${extra}`,
  );
}

/** Service → verb from the plan's part lines (`# stacks.core.X will be recreated (because …)`). */
function planned(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of out.split('\n')) {
    const x = /^\s*# stacks\.core\.(\S+) will be (created|recreated|started|removed)/.exec(l);
    if (x) m.set(x[1]!, x[2]!);
  }
  return m;
}

async function ids(): Promise<Map<string, string>> {
  const r = await execa('docker', ['ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Label "com.docker.compose.service"}} {{.ID}} {{.State}}']);
  return new Map(r.stdout.split('\n').filter(Boolean).map((l) => [l.split(' ')[0]!, l.split(' ').slice(1).join(' ')]));
}

test.before(async () => {
  generation = await composeGeneration();
  if (generation !== 2) return; // upstream's files use compose-spec features v1 does not read
  dep = await prepareDeployment(tmp.dir, project);
  writeFileSync(dep.envShared, readFileSync(dep.envShared, 'utf8').replace(/^POSTGRES_DB=.*$/m, `POSTGRES_DB=${shortCanary}`));
  dep.canaries.push(shortCanary);
  writeFileSync(wrapper, `#!/bin/sh\necho "$*" >> ${JSON.stringify(calls)}\nexec ${(await composeArgv()).join(' ')} "$@"\n`);
  chmodSync(wrapper, 0o755);
});

test.after(async () => {
  await dep?.cleanup();
  tmp.cleanup();
});

test('core stack: plan, apply, no changes, drift planned as compose acts, tear-down leaves nothing', async () => {
  if (!dep) return console.log('  (skipped: upstream\'s deployment needs compose v2)');
  const [cbin, ...cargs] = await dep.composeArgs(['config', '--services']);
  const active = (await execa(cbin!, cargs, { stdin: 'ignore' })).stdout.split('\n').filter(Boolean);
  const cpu = active.filter((s) => !gpuServices.includes(s));
  writeManifest();

  // This machine has no GPU: the services that reserve one are named before anything starts.
  const blocked = await run(['plan']);
  assert.is(blocked.exitCode, 1, String(blocked.stdout) + String(blocked.stderr));
  for (const s of gpuServices) assert.match(String(blocked.stdout), new RegExp(`! stacks\\.core service ${s} cannot run here: it reserves NVIDIA GPUs .* and this machine has no NVIDIA GPU`));
  assert.is(String(blocked.stdout).match(/cannot run here/g)?.length, gpuServices.length, String(blocked.stdout));
  // On the recorded RTX desktop they are planned like the others.
  const desk = await run(['plan', '--detailed-exitcode'], rtxDesktop);
  assert.is(desk.exitCode, 2, String(desk.stdout) + String(desk.stderr));
  const pd = planned(String(desk.stdout));
  for (const s of active) assert.is(pd.get(s), 'created', s);

  const first = await run(['plan', '--detailed-exitcode', '--skip-unsatisfiable']);
  assert.is(first.exitCode, 2, String(first.stderr) + String(first.stdout));
  const p1 = planned(String(first.stdout));
  assert.is(p1.size, cpu.length, String(first.stdout));
  for (const s of cpu) assert.is(p1.get(s), 'created', s);
  for (const s of gpuServices) assert.match(String(first.stdout), `service ${s} cannot run here`);
  assert.is((await ids()).size, 0, 'plan creates nothing');
  assert.ok(String(first.stdout).split('\n').length < 400, `first plan: ${String(first.stdout).split('\n').length} lines`);
  assert.not.match(String(first.stdout), '$sensitive');
  // Every change carries its cause in --json; the same plan twice reads the same.
  const json = JSON.parse(String((await run(['plan', '--json', '--skip-unsatisfiable'])).stdout)) as { resource_changes: { parts?: { cause?: string }[] }[] };
  const causes = json.resource_changes.flatMap((c) => c.parts ?? []).map((x) => x.cause);
  assert.is(causes.length, cpu.length);
  assert.ok(causes.every((c) => c === 'missing'), JSON.stringify(causes));
  assert.is(String((await run(['plan', '--skip-unsatisfiable'])).stdout), String(first.stdout), 'two plans read the same');

  const a = await run(['apply', '--auto-approve', '--skip-unsatisfiable']);
  assert.is(a.exitCode, 0, String(a.stdout) + String(a.stderr));
  const up = await ids();
  assert.equal([...up.keys()].sort(), [...cpu].sort(), 'the rest is up; no GPU service was created');
  for (const [svc, st] of up) assert.is(st.split(' ')[1], 'running', svc);
  const spawned = callCount();
  const again = await run(['plan', '--detailed-exitcode', '--skip-unsatisfiable']);
  assert.is(again.exitCode, 0, String(again.stdout));
  assert.match(String(again.stdout), 'No changes.');
  assert.is(callCount(), spawned, `a no-op plan ran compose: ${readFileSync(calls, 'utf8').split('\n').slice(spawned).join('\n')}`);

  // Drift: a stopped container, a value in env.shared, an image tag (env.shared's SUPASERCH_IMAGE).
  await execa('docker', ['stop', '-t', '1', `${project}-qdrant-1`]);
  await standIn('ghcr.io/powerfulmoves/pmoves-supaserch:next');
  const text = readFileSync(dep.envShared, 'utf8');
  writeFileSync(dep.envShared, text.replace(`PMOVES_TEST_SECRET=${dep.canaries[2]}`, `PMOVES_TEST_SECRET=${dep.canaries[2]}-2`) + 'SUPASERCH_IMAGE=ghcr.io/powerfulmoves/pmoves-supaserch:next\n');
  const drift = await run(['plan', '--detailed-exitcode', '--skip-unsatisfiable']);
  assert.is(drift.exitCode, 2, String(drift.stdout) + String(drift.stderr));
  const p2 = planned(String(drift.stdout));
  assert.is(p2.get('qdrant'), 'started', String(drift.stdout));
  assert.is(p2.get('supaserch'), 'recreated');
  // `image: ${SUPASERCH_IMAGE}` interpolates a variable of env.shared (masked where services read it): the
  // image is masked whole too, and its change still named.
  assert.match(String(drift.stdout), /stacks\.core\.supaserch will be recreated \(because its config changed: .*image changed/, String(drift.stdout));
  assert.match(String(drift.stdout), /environment: .*PMOVES_TEST_SECRET changed/);
  // compose's own dry run says the same.
  const [bin, ...args] = await dep.composeArgs(['--dry-run', 'up', '--detach', '--remove-orphans', ...cpu]);
  const dry = await execa(bin!, args, { stdin: 'ignore' });
  const dryText = dry.stdout + dry.stderr;
  for (const [svc, verb] of p2) {
    const word = { created: 'Creating', recreated: 'Recreate', started: 'Starting', removed: 'Removing' }[verb]!;
    assert.ok(new RegExp(`Container (?:[0-9a-f]{12}_)?${project}-${svc}-1\\s+${word}`).test(dryText), `${svc} ${verb}: ${dryText}`);
  }
  // …and up does exactly that.
  const before = await ids();
  const b = await run(['apply', '--auto-approve', '--skip-unsatisfiable']);
  assert.is(b.exitCode, 0, String(b.stdout) + String(b.stderr));
  const after = await ids();
  for (const [svc, was] of before) {
    const verb = p2.get(svc);
    const now = after.get(svc)!;
    if (verb === 'recreated') assert.is.not(now.split(' ')[0], was.split(' ')[0], `${svc} recreated`);
    else assert.is(now.split(' ')[0], was.split(' ')[0], `${svc} kept (${verb ?? 'no change'})`);
    assert.is(now.split(' ')[1], 'running', svc);
  }
  const settled = await run(['plan', '--detailed-exitcode', '--skip-unsatisfiable']);
  assert.is(settled.exitCode, 0, String(settled.stdout));

  // Dropping a profile: the services only `workers` activated are planned for removal and removed.
  writeManifest('', ['data']);
  const [dbin, ...dargs] = await dep.composeArgs(['--profile', 'data', 'config', '--services']);
  const dataOnly = (await execa(dbin!, dargs.filter((a, i) => !(a === 'workers' && dargs[i - 1] === '--profile') && !(a === '--profile' && dargs[i + 1] === 'workers')), { stdin: 'ignore' })).stdout.split('\n').filter(Boolean);
  const dropped = await run(['plan', '--detailed-exitcode', '--skip-unsatisfiable']);
  assert.is(dropped.exitCode, 2, String(dropped.stdout) + String(dropped.stderr));
  const p3 = planned(String(dropped.stdout));
  const gone = [...(await ids()).keys()].filter((x) => !dataOnly.includes(x)).sort();
  assert.ok(gone.length > 0);
  assert.equal([...p3.keys()].sort(), gone, String(dropped.stdout));
  assert.ok([...p3.values()].every((v) => v === 'removed'));
  assert.match(String(dropped.stdout), 'because its profile is no longer active');
  const c = await run(['apply', '--auto-approve', '--skip-unsatisfiable']);
  assert.is(c.exitCode, 0, String(c.stdout) + String(c.stderr));
  assert.equal([...(await ids()).keys()].sort(), dataOnly.filter((x) => !gpuServices.includes(x)).sort());
  const st = await run(['status', '--skip-unsatisfiable']);
  assert.not.match(String(st.stdout), 'not declared but running');

  // Tear-down with volumes: nothing left behind.
  writeManifest(`    state: down\n    remove_volumes: true\n`, ['data']);
  const down = await run(['apply', '--auto-approve', '--skip-unsatisfiable']);
  assert.is(down.exitCode, 0, String(down.stdout) + String(down.stderr));
  assert.is((await ids()).size, 0);
  for (const kind of ['volume', 'network']) {
    const left = await execa('docker', [kind, 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`]);
    assert.is(left.stdout.trim(), '', `${kind}s left`);
  }

  // No canary value anywhere the tool wrote or printed.
  const written = ['state.json', 'audit.jsonl'].map((f) => path.join(home, f)).filter(existsSync).map((f) => readFileSync(f, 'utf8'));
  for (const c of dep.canaries) for (const o of [...outputs, ...written]) assert.not.ok(o.includes(c), `canary ${c} leaked`);
});

test.run();
