// The load step of the watch loop: where the desired state comes from.
// - fetchSource: a git source is fetched when the trigger says so (the fetch backs off when offline).
// - loadDesired: the manifest is loaded (a valid one becomes the desired state; an invalid one is
//   reported and the last valid one stays in force).
// - gateRemovals: "never delete on a guess". A local manifest that drops resources is accepted only
//   once its content has stayed the same for the removal settle window; until then the last valid
//   manifest stays in force. A git commit is taken as it is (a commit is never half-saved).
import path from 'node:path';
import { formatDiagnostic } from '../core/errors.js';
import type { Home } from '../core/home.js';
import type { Resource } from '../core/types.js';
import { backoffDelay } from './backoff.js';
import type { GitSource } from './git-source.js';
import { secs, type WatchEvent } from './report.js';

/** The desired state the watcher converges to. */
export interface Desired {
  manifestPath: string;
  manifestDigest: string;
  resources: Resource[];
  /** Files whose edits trigger a run: the manifest, bundles, compose files, … */
  inputs: string[];
  commit: string | null;
}

// ---- git source ----------------------------------------------------------------------------------

export interface SourceOutcome {
  /** A new accepted commit: resources in backoff are tried at once. */
  release: boolean;
  failures: number;
  /** Epoch ms before which an interval run does not fetch (fetch backoff). */
  nextFetchAt: number;
  events: WatchEvent[];
}

export async function fetchSource(git: Pick<GitSource, 'sync' | 'branch'>, i: { failures: number; now: number; minBackoffMs: number; maxBackoffMs: number }): Promise<SourceOutcome> {
  const s = await git.sync();
  if (s.kind === 'fetch-failed') {
    const failures = i.failures + 1;
    const delay = backoffDelay(failures, i.minBackoffMs, i.maxBackoffMs);
    const keep = s.current ? `; converging to ${s.current.slice(0, 12)} meanwhile` : '; nothing to converge to yet';
    return {
      release: false,
      failures,
      nextFetchAt: i.now + delay,
      events: [{ event: 'git', message: `fetch failed (${s.error}); retrying in ${secs(delay)}${keep}`, action: 'fetch-failed', error: s.error, retry_in_ms: delay, commit: s.current }],
    };
  }
  const events: WatchEvent[] = [];
  if (s.kind === 'new-commit') {
    events.push({ event: 'git', message: `new commit ${s.commit.slice(0, 12)} on ${git.branch}${s.previous ? ` (was ${s.previous.slice(0, 12)})` : ''}`, action: 'new-commit', commit: s.commit, previous: s.previous });
  } else if (s.kind === 'refused' && !s.repeated) {
    events.push({
      event: 'git',
      message: `refusing commit ${s.commit.slice(0, 12)} on ${git.branch}: ${s.reason}. --verify-signatures accepts only commits git verifies with a key you trust${s.current ? `; staying at ${s.current.slice(0, 12)}` : ''}`,
      action: 'refused',
      commit: s.commit,
      reason: s.reason,
      current: s.current,
    });
  }
  return { release: s.kind === 'new-commit', failures: 0, nextFetchAt: 0, events };
}

// ---- the manifest --------------------------------------------------------------------------------

export type Loaded = { kind: 'valid'; desired: Desired; warnings: string[] } | { kind: 'invalid'; errors: string[] };

export async function loadDesired(i: { manifestPath: string; commit: string | null; env: NodeJS.ProcessEnv; home: Home; overrides?: Record<string, unknown> }): Promise<Loaded> {
  const { loadManifest, hasErrors } = await import('../manifest/load.js');
  const { kinds, expanders } = await import('../reconcilers/index.js');
  const loaded = await loadManifest(i.manifestPath, { env: i.env, home: i.home, kinds, expanders, overrides: i.overrides });
  if (!loaded.manifest || hasErrors(loaded.diagnostics)) {
    return { kind: 'invalid', errors: loaded.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic) };
  }
  const m = loaded.manifest;
  // Only what the loop needs is kept: the parsed document, its source text and the raw data are dropped here.
  return {
    kind: 'valid',
    desired: { manifestPath: i.manifestPath, manifestDigest: m.digest, resources: m.resources, inputs: m.inputs, commit: i.commit },
    warnings: loaded.diagnostics.map(formatDiagnostic),
  };
}

/** The invalid-manifest event, or null when the same errors were reported already. */
export function invalidEvent(errors: string[], hasGood: boolean, lastReported: string | null): { event: WatchEvent | null; text: string } {
  const keep = hasGood ? 'the last valid manifest stays in force' : 'nothing is applied until it is valid';
  const text = `the manifest is not valid; ${keep}:\n  ${errors.join('\n  ')}`;
  return { event: text === lastReported ? null : { event: 'invalid-manifest', message: text, diagnostics: errors }, text };
}

/** What the load step keeps between runs: the manifest in force and what was said about the last one. */
export interface InForce {
  /** The last valid manifest accepted (what the watcher converges to). */
  good: Desired | null;
  /** A local manifest that drops resources, waiting for the settle window. */
  removal: PendingRemoval | null;
  /** The invalid-manifest text reported last (said once). */
  lastInvalid: string | null;
  manifestValid: boolean;
}

/**
 * Load the manifest and decide what is in force: a valid one replaces the last one (unless its
 * removals must settle first); an invalid one is reported once and the last valid one stays.
 * Returns the files to watch and, when invalid, its first error (with file:line:column).
 */
export async function loadInForce(
  s: InForce,
  i: { manifestPath: string; commit: string | null; env: NodeJS.ProcessEnv; home: Home; overrides?: Record<string, unknown>; local: boolean; settleMs: number; now: number; emit(e: WatchEvent): void },
): Promise<{ state: InForce; watch: string[]; firstError: string }> {
  const loaded = await loadDesired(i);
  if (loaded.kind === 'invalid') {
    const inv = invalidEvent(loaded.errors, Boolean(s.good), s.lastInvalid);
    if (inv.event) i.emit(inv.event);
    return { state: { ...s, manifestValid: false, lastInvalid: inv.text }, watch: [i.manifestPath, ...(s.good?.inputs ?? [])], firstError: loaded.errors[0] ?? 'the manifest is not valid' };
  }
  const gate = gateRemovals({ previous: s.good, next: loaded.desired, local: i.local, pending: s.removal, now: i.now, settleMs: i.settleMs, manifestName: path.basename(i.manifestPath) });
  if (gate.accept) {
    for (const d of loaded.warnings) i.emit({ event: 'warning', message: d, diagnostic: d });
    return { state: { good: loaded.desired, removal: null, lastInvalid: null, manifestValid: true }, watch: loaded.desired.inputs, firstError: '' };
  }
  if (gate.event) i.emit(gate.event);
  // the settle timer brings the next look (the loop's wishes)
  return { state: { ...s, removal: gate.pending, lastInvalid: null, manifestValid: true }, watch: [...new Set([...s.good!.inputs, ...loaded.desired.inputs])], firstError: '' };
}

// ---- removals settle ------------------------------------------------------------------------------

/** A manifest content (digest) that drops resources, first seen at `since`. */
export interface PendingRemoval {
  digest: string;
  since: number;
  dropped: string[];
}

export type Gate = { accept: true } | { accept: false; pending: PendingRemoval; settleAt: number; event: WatchEvent | null };

/**
 * Whether `next` may replace `previous` now. It may unless it is a local manifest that drops resources
 * and its content has not yet stayed the same for `settleMs`. Pure: time is passed in.
 */
export function gateRemovals(i: { previous: Desired | null; next: Desired; local: boolean; pending: PendingRemoval | null; now: number; settleMs: number; manifestName: string }): Gate {
  if (!i.local || !i.previous) return { accept: true };
  const keep = new Set(i.next.resources.map((r) => r.address));
  const dropped = i.previous.resources.filter((r) => !keep.has(r.address)).map((r) => r.address);
  if (!dropped.length) return { accept: true };
  const same = i.pending?.digest === i.next.manifestDigest;
  const pending = same ? i.pending! : { digest: i.next.manifestDigest, since: i.now, dropped };
  const settleAt = pending.since + i.settleMs;
  if (i.now >= settleAt) return { accept: true };
  const event: WatchEvent | null = same
    ? null
    : {
        event: 'settle',
        message: `removal deferred: ${dropped.join(', ')} left ${i.manifestName}; removed once the file has stayed the same for ${secs(i.settleMs)} (the last manifest stays in force meanwhile)`,
        deferred: dropped,
        settle_ms: i.settleMs,
        apply_at: new Date(settleAt).toISOString(),
      };
  return { accept: false, pending, settleAt, event };
}
