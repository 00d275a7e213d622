// What a watcher is told: where the manifest comes from, its timings, and where it reports.
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OperationError, UserError } from '../core/errors.js';
import type { Home } from '../core/home.js';
import { processAlive } from '../core/fs.js';
import type { Reporter, WatchEvent } from './report.js';
import { readWatchFile } from './state-file.js';

export const DEFAULT_REMOVAL_SETTLE_MS = 10_000;

/** [fleet] A group's manifest and overrides, or why this device applies nothing new (`invalid`: fleet.yaml or the group's overrides are not valid). */
export type FleetPick = { manifestPath: string; overrides: Record<string, unknown> } | { blocked: string; invalid: boolean };

export interface WatchOptions {
  /** Local manifest (unused with a git source). */
  manifestPath: string;
  home: Home;
  env: NodeJS.ProcessEnv;
  /** Quiet period after a file (or Docker) event before a run. */
  debounceMs: number;
  /** A local manifest that drops resources must stay the same this long before they are removed. */
  removalSettleMs?: number;
  intervalMs: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  git?: { url: string; branch?: string; path: string; verifySignatures: boolean; allowedSigners?: string };
  rollbackOnFailure: boolean;
  convergeTimeoutMs: number;
  listen?: { host: string; port: number };
  parallelism: number;
  readTimeoutMs: number;
  flags: Record<string, unknown>;
  overrides?: Record<string, unknown>;
  /** --fleet: the manifest (and overrides) of this device's group in a commit's tree, or why nothing applies (src/fleet/watch-hook.ts). */
  fleet?: (tree: string, commit: string) => Promise<FleetPick>;
  /** The journal line stream: one event per call; `message` is the human line. */
  emit(e: WatchEvent): void;
  /** More reporters (e.g. an MQTT status reporter), after the journal and the metrics. */
  reporters?: Reporter[];
}

/** Before a watcher starts: a local manifest exists (else exit 1), and no other watcher runs on this home. */
export async function checkBeforeWatch(o: Pick<WatchOptions, 'git' | 'manifestPath' | 'home'>): Promise<void> {
  if (!o.git) {
    const st = await fsp.stat(o.manifestPath).catch((err: NodeJS.ErrnoException) => err.code);
    if (st === 'ENOENT') {
      const rel = path.relative(process.cwd(), o.manifestPath) || o.manifestPath;
      throw new UserError(`${rel}: no such file: watch needs a manifest to converge to (pass -m PATH, or start from pmoves.mini.yaml.example)`);
    }
  }
  const other = await readWatchFile(o.home);
  if (other && !other.stopped_at && other.pid !== process.pid && other.host === os.hostname() && processAlive(other.pid)) {
    throw new OperationError(`another pmoves mini watch runs on ${o.home.root} (pid ${other.pid}, since ${other.started_at}); stop it first (one watcher per PMOVES_HOME)`);
  }
}
