// Stacks figures: a no-op `plan` of a plain 3-service stack against `docker-compose up -d`
// on the same stack when nothing changed, in the same run. Target: our plan at most half of compose's.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, peakRss, runBare, runNode } from './measure.js';
import type { Row } from './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'dist', 'src', 'cli.js');

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, cwd, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

export async function bench(): Promise<Row[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pmoves-bench-stacks-'));
  const project = `pmoves-bench-${process.pid}`;
  // Both sides on compose v1 (PMOVES_COMPOSE picks it for pmoves): the speed group has the v2 rows. Mixing
  // generations made each side's `up` rewrite the containers' config-hash labels for the other.
  const env = { ...process.env, NO_COLOR: '1', PMOVES_HOME: path.join(dir, 'home'), PMOVES_COMPOSE: 'docker-compose', EXAMPLE_WEB_PORT: String(20000 + (process.pid % 20000)) };
  // A plain stack (no healthcheck, no service_healthy condition): compose's `up -d` on the healthchecked
  // example waits for health even with nothing to do, which flattered the ratio.
  writeFileSync(path.join(dir, 'docker-compose.yml'), 'services:\n' + [0, 1, 2].map((i) => `  s${i}:\n    image: pmoves-test/busybox:latest\n    init: true\n    command: ["sleep", "2147483647"]\n`).join(''));
  const manifest = path.join(dir, 'pmoves.mini.yaml');
  writeFileSync(manifest, `apiVersion: pmoves.ai/mini/v1\nstacks:\n  bench:\n    files: [docker-compose.yml]\n    project: ${project}\n`);
  const compose = ['-p', project, '-f', path.join(dir, 'docker-compose.yml'), 'up', '-d'];
  try {
    const first = runNode([cli, 'mini', 'apply', '--auto-approve', '-m', manifest], env);
    if (first.status !== 0) throw new Error(`apply of the bench stack exited ${first.status}`);
    runNode([cli, 'mini', 'plan', '-m', manifest], env); // warm
    // The engine's own share (manifest load and schema validation): a manifest with no resource at all.
    const empty = path.join(dir, 'empty.yaml');
    writeFileSync(empty, 'apiVersion: pmoves.ai/mini/v1\n');
    // Interleaved, so that load from other processes hits the three alike.
    // Timed bare (no peak-RSS preload, as the peer has none); peak RSS from one separate run each.
    const runs = Array.from({ length: 7 }, () => ({
      ours: runBare([cli, 'mini', 'plan', '-m', manifest], env),
      theirs: timed('docker-compose', compose, env, dir),
      base: runBare([cli, 'mini', 'plan', '-m', empty], env),
    }));
    const ours = { ms: median(runs.map((r) => r.ours.ms)), rssMb: peakRss([cli, 'mini', 'plan', '-m', manifest], env) };
    const base = { ms: median(runs.map((r) => r.base.ms)), rssMb: peakRss([cli, 'mini', 'plan', '-m', empty], env) };
    const theirs = median(runs.map((r) => r.theirs));
    const ratio = ours.ms / theirs;
    return [
      { name: 'first apply, 3-service stack (compose v1)', ms: first.ms, rssMb: first.rssMb },
      { name: 'no-op plan, 3-service stack (compose v1)', ms: ours.ms, rssMb: ours.rssMb, target: '<= 0.5 x compose up -d', ok: ratio <= 0.5, note: `ratio ${ratio.toFixed(2)}` },
      { name: 'docker-compose up -d, nothing changed', ms: theirs, note: 'compose v1 (Debian)' },
      { name: 'no-op plan, empty manifest (engine baseline)', ms: base.ms, rssMb: base.rssMb, note: `the stack adds ${Math.max(0, ours.ms - base.ms).toFixed(0)} ms` },
    ];
  } finally {
    spawnSync('docker-compose', ['-p', project, '-f', path.join(dir, 'docker-compose.yml'), 'down', '-v'], { env, cwd: dir });
    rmSync(dir, { recursive: true, force: true });
  }
}
