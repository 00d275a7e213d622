// The hardware detector's seam: every file is read through a root folder (`PMOVES_SYSROOT`, default
// `/`) and every command runs through a `Runner`, so tests replay recorded machines (a sysroot tree +
// `PMOVES_RECORDED_COMMANDS`) through the same code that reads a real machine (detect.ts).
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../core/errors.js';

// ---- the seam ------------------------------------------------------------------------------------

export type RunResult =
  | { status: 'ok'; stdout: string }
  | { status: 'missing' }
  | { status: 'timeout' }
  | { status: 'failed'; code: number | null; stdout: string; stderr: string };

/** Runs one command. Contract: never throws; a missing program is `missing`, a hung one `timeout`. */
export type Runner = (argv: string[], timeoutMs: number) => Promise<RunResult>;

export interface Probe {
  /** Root folder every machine path is read under ("/" on the real machine). */
  root: string;
  /** Where command outputs come from: "live" or the recording's file. */
  commands: string;
  run: Runner;
}

export const liveRunner: Runner = async (argv, timeoutMs) => {
  // nvidia-smi, docker info …: a process group of their own, killed on the deadline or when we exit
  const { runChild } = await import('../../core/child.js');
  const r = await runChild(argv[0]!, argv.slice(1), { timeoutMs, maxOutput: 4 << 20 });
  if (r.spawnError) return r.spawnError.code === 'ENOENT' || r.spawnError.code === 'EACCES' ? { status: 'missing' } : { status: 'failed', code: null, stdout: '', stderr: r.spawnError.message };
  if (r.killed) return { status: 'timeout' };
  if (r.exitCode === 0) return { status: 'ok', stdout: r.stdout };
  return { status: 'failed', code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
};

interface Recorded {
  argv: string[];
  stdout?: string;
  stderr?: string;
  exit?: number;
  timeout?: boolean;
}

/** Replays `{"commands": [{"argv": [...], "stdout": "...", "exit": 0}, ...]}`; an unrecorded command is missing. */
export async function recordedRunner(file: string): Promise<Runner> {
  let data: { commands?: Recorded[] };
  try {
    data = JSON.parse(await fsp.readFile(file, 'utf8')) as { commands?: Recorded[] };
  } catch (err) {
    throw new UserError(`PMOVES_RECORDED_COMMANDS=${file}: cannot read the recorded commands (${(err as Error).message}); expected {"commands": [{"argv": [...], "stdout": "..."}]}`);
  }
  const byKey = new Map((data.commands ?? []).map((c) => [JSON.stringify(c.argv), c] as const));
  return async (argv) => {
    const c = byKey.get(JSON.stringify(argv));
    if (!c) return { status: 'missing' };
    if (c.timeout) return { status: 'timeout' };
    if ((c.exit ?? 0) !== 0) return { status: 'failed', code: c.exit ?? 1, stdout: c.stdout ?? '', stderr: c.stderr ?? '' };
    return { status: 'ok', stdout: c.stdout ?? '' };
  };
}

export async function probeFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Probe> {
  const root = path.resolve(env.PMOVES_SYSROOT || '/');
  const rec = env.PMOVES_RECORDED_COMMANDS;
  if (rec) return { root, commands: path.resolve(rec), run: await recordedRunner(path.resolve(rec)) };
  // One machine at a time: under a sysroot, a fact the sysroot cannot give is unknown, never the host's.
  if (root !== path.parse(root).root) return { root, commands: NOT_RECORDED, run: async () => ({ status: 'missing' }) };
  return { root, commands: 'live', run: liveRunner };
}

/** `Probe.commands` under a sysroot without PMOVES_RECORDED_COMMANDS: no command runs. */
export const NOT_RECORDED = 'not recorded';

function under(p: Probe, machinePath: string): string {
  return path.join(p.root, machinePath);
}

export async function readText(p: Probe, machinePath: string): Promise<string | null> {
  try {
    return await fsp.readFile(under(p, machinePath), 'utf8');
  } catch {
    return null;
  }
}

export async function readDir(p: Probe, machinePath: string): Promise<string[]> {
  try {
    return (await fsp.readdir(under(p, machinePath))).sort();
  } catch {
    return [];
  }
}

export async function fileExists(p: Probe, machinePath: string): Promise<boolean> {
  try {
    await fsp.stat(under(p, machinePath));
    return true;
  } catch {
    return false;
  }
}

/** Resolve symlinks (sysfs links are relative, so they stay inside the root); the machine path, or null. */
export async function realMachinePath(p: Probe, machinePath: string): Promise<string | null> {
  try {
    const real = await fsp.realpath(under(p, machinePath));
    const rel = path.relative(p.root, real);
    if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
    return '/' + rel.split(path.sep).join('/');
  } catch {
    return null;
  }
}

/** Device-tree strings end in NUL; `compatible` is a NUL-separated list. */
export function stripNuls(s: string): string[] {
  return s
    .split('\0')
    .map((x) => x.trim())
    .filter(Boolean);
}
