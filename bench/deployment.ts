// Upstream's core stack (docker-compose.yml, profiles data + workers, stand-in images; the 3 GPU
// services left out on a machine without one) under compose v2, side by side in one run:
//   no-op plan vs `docker compose up -d` with nothing to do (target ≤ 0.5×),
//   first plan vs `docker compose --dry-run up -d` (target ≤ 1.5×).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { composeGeneration, coreFile, coreProfiles, gpuServices, prepareDeployment } from '../test/deployment-harness.js';
import { median, peakRss, runBare, runNode } from './measure.js';
import type { Row } from './types.js';

const cliPath = new URL('../src/cli.js', import.meta.url).pathname;

function timed(argv: string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${argv.slice(0, 3).join(' ')}… failed: ${String(r.stderr).split('\n').slice(-3).join(' | ')}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export async function bench(): Promise<Row[]> {
  if ((await composeGeneration()) !== 2) return [{ name: 'deployment: core stack (needs compose v2)', ms: 0, note: 'skipped: compose v1' }];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pmoves-bench-deployment-'));
  const project = `pmbench${process.pid}`;
  const dep = await prepareDeployment(dir, project);
  try {
    const [cbin, ...cargs] = await dep.composeArgs(['config', '--services']);
    const active = String(spawnSync(cbin!, cargs, { encoding: 'utf8' }).stdout).split('\n').filter(Boolean);
    const services = active.filter((s) => !gpuServices.includes(s));
    const manifest = path.join(dir, 'pmoves.mini.yaml');
    writeFileSync(
      manifest,
      // As a new user declares it: the GPU services left out by the stack's own field, not a service list.
      `apiVersion: pmoves.ai/mini/v1\nstacks:\n  core:\n    project: ${project}\n    files: [${JSON.stringify(coreFile)}]\n    project_directory: .\n    profiles: ${JSON.stringify(coreProfiles)}\n    env_files: [env.shared]\n    skip_unsatisfiable: true\n    wait_timeout: 180s\n`,
    );
    const env = (home: string) => ({ ...process.env, NO_COLOR: '1', PMOVES_HOME: home });
    const dry = await dep.composeArgs(['--dry-run', 'up', '--detach', '--remove-orphans', ...services]);
    const up = await dep.composeArgs(['up', '--detach', '--remove-orphans', ...services]);
    // First plan: a fresh home each time (no cache), nothing running; timed bare, interleaved with
    // compose's dry run; peak RSS and the line count from one more run.
    let n = 0;
    const plan = (home: string) => runBare([cliPath, 'mini', 'plan', '-m', manifest], env(home), dir);
    const firstRuns: number[] = [];
    const dryRuns: number[] = [];
    for (let i = 0; i < 3; i++) {
      firstRuns.push(plan(path.join(dir, `home-first-${n++}`)).ms);
      dryRuns.push(timed(dry));
    }
    const first = { ms: median(firstRuns), rssMb: peakRss([cliPath, 'mini', 'plan', '-m', manifest], env(path.join(dir, `home-first-${n++}`)), dir) };
    const dryMs = median(dryRuns);
    const text = spawnSync(process.execPath, [cliPath, 'mini', 'plan', '-m', manifest], { env: env(path.join(dir, `home-first-${n++}`)), cwd: dir, encoding: 'utf8', maxBuffer: 1 << 28 });
    const lines = String(text.stdout).split('\n').length - 1;
    const home = path.join(dir, 'home');
    const applied = runNode([cliPath, 'mini', 'apply', '--auto-approve', '-m', manifest], env(home), dir);
    if (applied.status !== 0) throw new Error('apply of the core stack failed');
    // Interleaved: plan, up, plan, up… (an `up` with nothing to do changes nothing the plan's cache reads).
    const noopRuns: number[] = [];
    const upRuns: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = runBare([cliPath, 'mini', 'plan', '--detailed-exitcode', '-m', manifest], env(home), dir);
      if (r.status !== 0) throw new Error(`the no-op plan exited ${r.status} (expected 0: no changes)`);
      noopRuns.push(r.ms);
      upRuns.push(timed(up));
    }
    const noop = { ms: median(noopRuns), rssMb: peakRss([cliPath, 'mini', 'plan', '-m', manifest], env(home), dir) };
    const upMs = median(upRuns);
    const r1 = noop.ms / upMs;
    const r2 = first.ms / dryMs;
    return [
      { name: `deployment: no-op plan, core stack (${services.length} services)`, ms: noop.ms, rssMb: noop.rssMb, target: '≤ 0.5× compose up -d', ok: r1 <= 0.5, note: `${r1.toFixed(2)}× \`docker compose up -d\` with nothing to do` },
      { name: 'deployment: `docker compose up -d`, nothing to do', ms: upMs },
      { name: `deployment: first plan, core stack (${services.length} services)`, ms: first.ms, rssMb: first.rssMb, target: '≤ 1.5× compose --dry-run', ok: r2 <= 1.5, note: `${r2.toFixed(2)}× \`docker compose --dry-run up -d\`` },
      { name: 'deployment: `docker compose --dry-run up -d`', ms: dryMs },
      { name: 'deployment: first plan, lines of text', ms: NaN, target: '< 400 lines', ok: lines < 400, note: `${lines} lines` },
    ];
  } finally {
    await dep.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}
