// A Jetson's camera stack and Docker runtime, read and changed through the hardware detector's seam
// (files under the probe's root, commands through its runner: a recorded Jetson replays the same code).
//  - nvargus-daemon (the Argus camera service): `systemctl is-enabled` / `is-active`; `enable --now`.
//  - CSI cameras: /dev/video* with the sensor name sysfs gives (detect.ts).
//  - Docker's default runtime: one key of /etc/docker/daemon.json ("default-runtime"), plus the "nvidia"
//    entry of "runtimes" when it is missing; every other byte stays as written; dockerd is reloaded.
import { applyEdits, modify, parse } from 'jsonc-parser';
import path from 'node:path';
import { readFileOrNull, writeFileAtomic } from '../../core/fs.js';
import { detectCameras, detectJetson, type Camera } from '../hardware/detect.js';
import type { Probe, RunResult } from '../hardware/probe.js';
import { editJsonEntry, readJsonEntry } from '../mcp/json-edit.js';

export const DAEMON_JSON = '/etc/docker/daemon.json';
export const NVIDIA_RUNTIME = { path: 'nvidia-container-runtime', runtimeArgs: [] as string[] };

export interface DaemonJson {
  path: string;
  exists: boolean;
  defaultRuntime: string | null;
  hasRuntime: boolean;
  /** Why the file cannot be edited (not JSON, not an object), or null. */
  problem: string | null;
}

export interface JetsonReading {
  jetson: { model: string; l4t: string | null } | null;
  nvargus: { enabled: string; active: string };
  cameras: Camera[];
  daemon: DaemonJson;
}

function word(r: RunResult): string {
  if (r.status === 'ok' || r.status === 'failed') return r.stdout.trim().split('\n')[0] || (r.status === 'ok' ? 'unknown' : 'inactive');
  return r.status === 'missing' ? 'unknown (no systemctl)' : 'unknown (systemctl timed out)';
}

/** daemon.json's path on this machine: the declared one, or /etc/docker/daemon.json under the probe's root. */
export function daemonJsonPath(p: Probe, declared: string | null): string {
  return declared ?? path.join(p.root, DAEMON_JSON);
}

export async function readDaemonJson(file: string): Promise<DaemonJson & { text: string | null }> {
  const text = await readFileOrNull(file);
  const base = { path: file, exists: text !== null, text };
  if (text === null || !text.trim()) return { ...base, defaultRuntime: null, hasRuntime: false, problem: null };
  try {
    const doc = parse(text, [], { allowTrailingComma: true }) as unknown;
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('expected a JSON object');
    const rt = (doc as Record<string, unknown>)['default-runtime'];
    const { entry } = readJsonEntry(text, 'runtimes', 'nvidia');
    return { ...base, defaultRuntime: typeof rt === 'string' ? rt : null, hasRuntime: entry !== undefined, problem: null };
  } catch (err) {
    return { ...base, defaultRuntime: null, hasRuntime: false, problem: `${file}: ${(err as Error).message}` };
  }
}

export async function readJetson(p: Probe, daemonJson: string): Promise<JetsonReading> {
  const [jetson, enabled, active, cameras, daemon] = await Promise.all([
    detectJetson(p),
    p.run(['systemctl', 'is-enabled', 'nvargus-daemon'], 3000),
    p.run(['systemctl', 'is-active', 'nvargus-daemon'], 3000),
    detectCameras(p),
    readDaemonJson(daemonJson),
  ]);
  const { text: _text, ...d } = daemon;
  return { jetson: jetson ? { model: jetson.model, l4t: jetson.l4t } : null, nvargus: { enabled: word(enabled), active: word(active) }, cameras, daemon: d };
}

/** Set "default-runtime" (and add runtimes.nvidia when missing); the rest of the file is left as written. */
export function editDaemonJson(text: string | null, runtime: string): string {
  let out = text && text.trim() ? text : '{}\n';
  if (runtime === 'nvidia' && readJsonEntry(out, 'runtimes', 'nvidia').entry === undefined) out = editJsonEntry(out, 'runtimes', 'nvidia', NVIDIA_RUNTIME);
  const indent = /\n( +|\t)"/.exec(out)?.[1] ?? '  ';
  out = applyEdits(out, modify(out, ['default-runtime'], runtime, { formattingOptions: { insertSpaces: !indent.includes('\t'), tabSize: indent.length } }));
  return out.endsWith('\n') ? out : `${out}\n`;
}

/** Take back what this tool set: "default-runtime", and runtimes.nvidia when it added that too. */
export function uneditDaemonJson(text: string, removeRuntime: boolean): string {
  let out = applyEdits(text, modify(text, ['default-runtime'], undefined, {}));
  if (removeRuntime) {
    out = editJsonEntry(out, 'runtimes', 'nvidia', undefined);
    const rest = (parse(out, [], { allowTrailingComma: true }) as Record<string, unknown>).runtimes;
    if (rest && typeof rest === 'object' && !Object.keys(rest).length) out = applyEdits(out, modify(out, ['runtimes'], undefined, {}));
  }
  return out;
}

/** Rewrite daemon.json with `edit` (atomically; nothing written when the text does not change). */
export async function writeDaemonJson(file: string, edit: (text: string | null) => string | null): Promise<void> {
  const text = await readFileOrNull(file);
  const next = edit(text);
  if (next !== null && next !== text) await writeFileAtomic(file, next);
}

/** Run one systemctl command; throws with its output when it fails. */
export async function systemctl(p: Probe, args: string[]): Promise<void> {
  const r = await p.run(['systemctl', ...args], 30_000);
  if (r.status === 'ok') return;
  const why = r.status === 'failed' ? (r.stderr || r.stdout).trim().split('\n')[0] || `exit ${r.code}` : r.status === 'missing' ? 'systemctl not found' : 'timed out';
  throw new Error(`systemctl ${args.join(' ')}: ${why}`);
}
