// $PMOVES_HOME/watch.json: what the watcher is doing, rewritten (atomically) after every run, read by
// `status`. Holds addresses, outcomes and engine error messages, never a value.
import os from 'node:os';
import path from 'node:path';
import { processAlive, readJsonOrNull, writeFileAtomic } from '../core/fs.js';
import type { Home } from '../core/home.js';
import type { RunResult } from './report.js';

export interface ResourceRun {
  /** conflict: someone else's entry is in the way; left alone (no backoff) until it is resolved. */
  result: 'ok' | 'failed' | 'error' | 'skipped' | 'conflict';
  error?: string;
  at: string;
  failures?: number;
  next_retry?: string;
}

export interface WatchFile {
  pid: number;
  host: string;
  started_at: string;
  updated_at: string;
  stopped_at?: string;
  manifest: string;
  source?: { url: string; branch: string; path: string; commit: string | null };
  /** The last valid manifest the watcher loaded (what it converges to unless a hold is in force). */
  desired?: { manifest_digest: string; commit: string | null };
  generation: number | null;
  hold?: { generation: number; since: string };
  manifest_valid: boolean;
  last_run?: { at: string; trigger: string[]; result: RunResult; ms: number; error?: string; commit?: string | null };
  /** Why the last run could apply nothing, else absent. */
  blocked?: string;
  last_success?: string;
  resources: Record<string, ResourceRun>;
  next_run: string | null;
}

/** watch.json from what the watcher keeps (pure, apart from the pid, host and clock). */
export function watchFileOf(i: {
  startedAt: string;
  stopped: boolean;
  manifest: string;
  source: WatchFile['source'] | null;
  good: { manifestDigest: string; commit: string | null } | null;
  generation: number | null;
  hold: WatchFile['hold'] | null;
  manifestValid: boolean;
  blocked: string | null;
  lastRun: WatchFile['last_run'];
  lastSuccess: number | null;
  resources: Record<string, ResourceRun>;
  /** Epoch ms of the next timer-driven run (null: none). */
  next: number | null;
}): WatchFile {
  const now = new Date().toISOString();
  return {
    pid: process.pid,
    host: os.hostname(),
    started_at: i.startedAt,
    updated_at: now,
    ...(i.stopped ? { stopped_at: now } : {}),
    manifest: i.manifest,
    ...(i.source ? { source: i.source } : {}),
    ...(i.good ? { desired: { manifest_digest: i.good.manifestDigest, commit: i.good.commit } } : {}),
    generation: i.generation,
    ...(i.hold ? { hold: i.hold } : {}),
    manifest_valid: i.manifestValid,
    ...(i.blocked ? { blocked: i.blocked } : {}),
    ...(i.lastRun ? { last_run: i.lastRun } : {}),
    ...(i.lastSuccess !== null ? { last_success: new Date(i.lastSuccess).toISOString() } : {}),
    resources: i.resources,
    next_run: i.stopped || i.next === null ? null : new Date(i.next).toISOString(),
  };
}

export function watchFilePath(home: Home): string {
  return path.join(home.root, 'watch.json');
}

export async function writeWatchFile(home: Home, w: WatchFile): Promise<void> {
  await writeFileAtomic(watchFilePath(home), JSON.stringify(w, null, 2) + '\n', { mode: 0o600 });
}

export async function readWatchFile(home: Home): Promise<WatchFile | null> {
  return readJsonOrNull<WatchFile>(watchFilePath(home));
}


/** For `status`: watch.json plus whether its process still runs, and one line to print. */
export async function watchStatus(home: Home): Promise<{ json: WatchFile & { running: boolean }; line: string } | null> {
  const w = await readWatchFile(home);
  if (!w) return null;
  const running = !w.stopped_at && processAlive(w.pid);
  const parts: string[] = [];
  parts.push(running ? `watch: running (pid ${w.pid})` : `watch: not running (last pid ${w.pid}${w.stopped_at ? `, stopped ${w.stopped_at}` : ', exited'})`);
  if (w.generation !== null) parts.push(`generation ${w.generation}${w.hold ? ' (rolled back)' : ''}`);
  if (w.source?.commit) parts.push(`commit ${w.source.commit.slice(0, 12)}`);
  if (w.last_run) parts.push(`last run ${w.last_run.at} ${w.last_run.result}`);
  const failing = Object.entries(w.resources).filter(([, r]) => r.result !== 'ok' && r.result !== 'conflict');
  const conflicts = Object.entries(w.resources).filter(([, r]) => r.result === 'conflict');
  if (failing.length) parts.push(`failing: ${failing.map(([a, r]) => `${a}${r.next_retry ? ` (retry ${r.next_retry})` : ''}`).join(', ')}`);
  if (conflicts.length) parts.push(`in conflict: ${conflicts.map(([a]) => a).join(', ')}`);
  if (running && w.next_run) parts.push(`next run ${w.next_run}`);
  if (w.blocked) parts.push(`blocked: ${w.blocked}`);
  else if (!w.manifest_valid) parts.push('the manifest is not valid: the last valid one stays in force');
  return { json: { ...w, running }, line: parts.join('; ') };
}
