// The report step of the watch loop: a list of reporters. The loop never writes a log line or a metric
// itself; it hands every event, and a summary of every run, to each reporter in the list.
//
// THE SEAM: to publish the watcher's status somewhere else (an MQTT status topic for a fleet, a
// webhook…), write a `Reporter` and add it to `WatchOptions.reporters`. Rules for a reporter:
// - every hook is optional and synchronous: queue slow work (network) and never block or throw into
//   the loop (an exception thrown by a hook is caught and reported as a `warning` event, once);
// - `runFinished` carries a `RunReport` whose `status` is the watcher's state after the run (what a
//   status topic would publish); `event` sees every line of the journal stream, progress included;
// - nothing it is given holds a secret value (kinds report addresses, keys and digests only);
// - `close` is awaited when the watcher stops (flush, disconnect).
import type { Metrics } from './metrics.js';

/** A duration in the watch log's words: 300ms, 1.5s, 5m, 1h. */
export const secs = (ms: number) =>
  ms >= 3_600_000 && ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000}m` : ms >= 1000 ? `${Math.round(ms / 100) / 10}s` : `${ms}ms`;

/** One line of the watch log: `event` is a stable word, `message` the human line. */
export interface WatchEvent {
  event: string;
  message: string;
  [k: string]: unknown;
}

/** The watcher's state after a run: what a status reporter publishes. */
export interface WatchStatus {
  manifestValid: boolean;
  /** Generation in force (null: none yet). */
  generation: number | null;
  /** Resources failing (in retry backoff). */
  failing: number;
  /** Resources left alone because someone else's entry is in the way (until it is resolved). */
  conflicts: number;
  /** Epoch ms of the last run that left everything converged (null: never). */
  lastSuccess: number | null;
  /** Resources waiting in retry backoff: each keeps its last error and the time of its next try. */
  waiting: WaitingResource[];
  /** Why the last run could apply nothing (invalid manifest or fleet group, no group, no commit yet), else null. */
  blocked: string | null;
}

export interface WaitingResource {
  address: string;
  failures: number;
  /** The last error (engine messages never hold a value). */
  error: string;
  /** Epoch ms of the next try. */
  nextTry: number;
}

/** blocked and invalid-manifest: nothing could be applied (no group, no accepted commit; an invalid manifest or group). */
export type RunResult = 'ok' | 'failed' | 'conflict' | 'no-changes' | 'invalid-manifest' | 'blocked' | 'error';

export interface RunReport {
  at: string;
  /** What triggered the run (`file pmoves.mini.yaml`, `interval`, …). */
  trigger: string[];
  result: RunResult;
  ms: number;
  /** Why the run failed or applied nothing; for an invalid manifest, its first error with file:line:column. */
  error?: string;
  /** The commit the run read (git source), whether or not it could apply it. */
  commit?: string | null;
  /** Resources found out of sync while the desired state had not changed. */
  drift: number;
  /** At least one resource failed, could not be planned or is in conflict (or the run itself failed). */
  failedRun: boolean;
  status: WatchStatus;
}

export interface Reporter {
  /** The watcher started (or restored its generation): the status before the first run. */
  started?(status: WatchStatus): void;
  /** Every event of the watch log, as it happens. */
  event?(e: WatchEvent): void;
  /** A run begins; `words` are its trigger words (`file`, `interval`, `docker`, …), each once. */
  runStarted?(words: string[]): void;
  /** A run ended, whatever its result. */
  runFinished?(run: RunReport): void;
  /** The watcher stops: flush and close. */
  close?(): Promise<void> | void;
}

/** The `start` line: what is watched, and the timings. */
export function startEvent(o: { git?: { url: string; branch?: string; path: string }; manifestPath: string; intervalMs: number; debounceMs: number }, removalSettleMs: number): WatchEvent {
  const what = o.git ? `${o.git.path} from ${o.git.url}${o.git.branch ? ` (${o.git.branch})` : ''}` : o.manifestPath;
  return {
    event: 'start',
    message: `watching ${what}: interval ${secs(o.intervalMs)}, debounce ${secs(o.debounceMs)}, removal settle ${secs(removalSettleMs)}, pid ${process.pid}`,
    pid: process.pid,
    manifest: o.git ? null : o.manifestPath,
    git: o.git?.url ?? null,
    interval_ms: o.intervalMs,
    debounce_ms: o.debounceMs,
    removal_settle_ms: removalSettleMs,
  };
}

/** The journal line stream: every event to `emit` (stdout as JSON lines or human lines). */
export function journalReporter(emit: (e: WatchEvent) => void): Reporter {
  return { event: emit };
}

/** The Prometheus figures served on --listen. */
export function metricsReporter(m: Metrics): Reporter {
  const status = (s: WatchStatus) => {
    m.manifestValid = s.manifestValid;
    m.generation = s.generation;
    m.failing = s.failing;
    m.conflicts = s.conflicts;
    m.lastSuccess = s.lastSuccess;
    m.waiting = s.waiting;
    m.blocked = s.blocked;
  };
  return {
    started: status,
    runStarted(words) {
      for (const w of words) m.runs.set(w, (m.runs.get(w) ?? 0) + 1);
    },
    runFinished(r) {
      status(r.status);
      m.lastRunMs = r.ms;
      m.driftFound += r.drift;
      if (r.failedRun) m.failures++;
    },
  };
}

/** Many reporters as one; a hook that throws is reported once through the others and never stops the loop. */
export function fanOut(reporters: Reporter[]): Required<Omit<Reporter, 'close'>> & { close(): Promise<void> } {
  const broken = new Set<Reporter>();
  const each = (f: (r: Reporter) => void) => {
    for (const r of reporters) {
      try {
        f(r);
      } catch (err) {
        if (broken.has(r)) continue;
        broken.add(r);
        const message = `a reporter failed: ${err instanceof Error ? err.message : String(err)}`;
        for (const o of reporters) if (o !== r) try { o.event?.({ event: 'warning', message }); } catch { /* reported by its own failure */ }
      }
    }
  };
  return {
    started: (s) => each((r) => r.started?.(s)),
    event: (e) => each((r) => r.event?.(e)),
    runStarted: (w) => each((r) => r.runStarted?.(w)),
    runFinished: (run) => each((r) => r.runFinished?.(run)),
    async close() {
      await Promise.all(reporters.map((r) => Promise.resolve().then(() => r.close?.()).catch(() => {})));
    },
  };
}
