// Per-resource retry policy for watch mode, in one place (as controller-runtime's reconcileHandler):
// a resource that failed waits base, 2×base, 4×base … capped at max before it is tried again, so one
// broken resource never holds the others. Pure: time is passed in.

export interface BackoffEntry {
  failures: number;
  /** Epoch ms before which the resource is left out of runs. */
  until: number;
  /** Why it failed last (safe to show: engine errors never hold secret values). */
  error: string;
}

export function backoffDelay(failures: number, baseMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
}

export class Backoff {
  private readonly entries = new Map<string, BackoffEntry>();

  constructor(
    readonly baseMs = 5_000,
    readonly maxMs = 300_000,
  ) {}

  /** Record a failure; returns the delay before the next try. */
  fail(key: string, now: number, error: string): number {
    const failures = (this.entries.get(key)?.failures ?? 0) + 1;
    const delay = backoffDelay(failures, this.baseMs, this.maxMs);
    this.entries.set(key, { failures, until: now + delay, error });
    return delay;
  }

  succeed(key: string): void {
    this.entries.delete(key);
  }

  get(key: string): BackoffEntry | undefined {
    return this.entries.get(key);
  }

  /** Keys still waiting at `now`: leave them out of this run. */
  blocked(now: number): Set<string> {
    return new Set([...this.entries].filter(([, e]) => e.until > now).map(([k]) => k));
  }

  /** Earliest time a waiting key is due again. */
  next(): number | undefined {
    let min: number | undefined;
    for (const e of this.entries.values()) if (min === undefined || e.until < min) min = e.until;
    return min;
  }

  /** "Look again now" (an edit, a new commit, SIGHUP): every key is due; failure counts are kept. */
  release(now: number): void {
    for (const e of this.entries.values()) e.until = Math.min(e.until, now);
  }

  /** Forget keys no longer declared. */
  retain(keys: Set<string>): void {
    for (const k of [...this.entries.keys()]) if (!keys.has(k)) this.entries.delete(k);
  }

  get size(): number {
    return this.entries.size;
  }

  all(): Map<string, BackoffEntry> {
    return new Map(this.entries);
  }
}
