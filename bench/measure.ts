// Measuring a CLI run: wall time, and the child's peak RSS read from /proc (VmHWM) by a preload.
import { spawnSync } from 'node:child_process';

export interface RunStats {
  ms: number;
  rssMb: number;
  status: number | null;
}

/**
 * Run `node args…` and return wall time and peak RSS (ru_maxrss of the child, via
 * `/proc/self/status` VmHWM printed by a tiny preload on exit).
 */
export function runNode(args: string[], env: NodeJS.ProcessEnv, cwd?: string): RunStats {
  const preload = new URL('./peak-rss.js', import.meta.url).pathname;
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['--import', preload, ...args], { env, cwd, encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const m = /PEAK_RSS_KB=(\d+)/.exec(r.stderr ?? '');
  return { ms, rssMb: m ? Number(m[1]) / 1024 : NaN, status: r.status };
}

/**
 * Run `node args…` bare (no preload: a preload's own start-up cost would flatten every ratio against
 * `node -e 0`) and return its wall time; rssMb is NaN (read it with peakRss, in a separate run).
 */
export function runBare(args: string[], env: NodeJS.ProcessEnv, cwd?: string): RunStats {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, cwd, encoding: 'utf8', maxBuffer: 1 << 28 });
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, rssMb: NaN, status: r.status };
}

/** Peak RSS (MB) of one run of `node args…` (with the preload; its wall time is not used). */
export function peakRss(args: string[], env: NodeJS.ProcessEnv, cwd?: string): number {
  return runNode(args, env, cwd).rssMb;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function repeat(n: number, f: () => RunStats): { ms: number; rssMb: number } {
  const runs = Array.from({ length: n }, f);
  return { ms: median(runs.map((r) => r.ms)), rssMb: Math.max(...runs.map((r) => r.rssMb)) };
}

/** Wall time of any command (a peer such as `docker compose up -d`); throws on a non-zero exit. */
export function runCmd(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): RunStats {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, cwd, encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr ?? '').slice(-300)}`);
  return { ms, rssMb: NaN, status: r.status };
}

export interface PairStats {
  a: { ms: number; rssMb: number };
  b: { ms: number; rssMb: number };
  /** Median of the per-pair ratios a/b. */
  ratio: number;
  n: number;
}

/**
 * A figure and its peer measured in the same run: n pairs, A B A B …, so that whatever else loads the
 * machine hits both alike; the ratio is taken pair by pair and its median reported.
 */
export function pairs(n: number, a: () => RunStats, b: () => RunStats): PairStats {
  const as: RunStats[] = [];
  const bs: RunStats[] = [];
  for (let i = 0; i < n; i++) {
    as.push(a());
    bs.push(b());
  }
  const rss = (xs: RunStats[]) => Math.max(...xs.map((r) => r.rssMb));
  return {
    a: { ms: median(as.map((r) => r.ms)), rssMb: rss(as) },
    b: { ms: median(bs.map((r) => r.ms)), rssMb: rss(bs) },
    ratio: median(as.map((r, i) => r.ms / bs[i]!.ms)),
    n,
  };
}

/** Where the bundled CLI is (the package's `bin`). */
export const cliPath = new URL('../../dist/src/cli.js', import.meta.url).pathname;
