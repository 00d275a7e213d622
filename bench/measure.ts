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

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function repeat(n: number, f: () => RunStats): { ms: number; rssMb: number } {
  const runs = Array.from({ length: n }, f);
  return { ms: median(runs.map((r) => r.ms)), rssMb: Math.max(...runs.map((r) => r.rssMb)) };
}
