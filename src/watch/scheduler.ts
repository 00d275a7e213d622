// The one place that decides when the next timer-driven run happens (as controller-runtime's
// reconcileHandler owns its requeue policy). Every path that asks for a later run goes through it:
// a resource's retry, the fetch retry, the removal settle, the converge timeout, the lock held by
// another process, and a run that could not apply anything at all (invalid manifest, no group or an
// invalid fleet.yaml, no accepted commit yet, an unexpected error).
//
// Two rules make a daemon that cannot spin:
// - **The interval is anchored.** It is armed once and re-armed only when it fires (±10 % jitter), so
//   no other run pushes it back: with a git source, the fetch happens on its interval whatever state
//   the last run left, and a fix commit is always seen.
// - **A stuck run backs off.** After a run that could apply nothing, every other timer is held back
//   until the run backoff is over (min-backoff, doubling, capped at max-backoff); it resets after the
//   first run that applies. No timer ever fires sooner than `floorMs` after a run, so a wish in the
//   past (a retry due while nothing could be tried) cannot become a loop.
import { backoffDelay } from './backoff.js';

/** What a run left: `applied` (the engine ran) or `stuck` (nothing could be applied). */
export type RunKind = 'applied' | 'stuck';

export interface SchedulerOptions {
  intervalMs: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  /** Shortest gap between a run and a timer-driven run after it (default 100 ms). */
  floorMs?: number;
  /** For tests: the jitter factor in [0.9, 1.1]. */
  jitter?: () => number;
}

/** Named wishes for the next run: epoch ms (undefined: no wish). */
export type Wishes = Record<string, number | undefined>;

export class Scheduler {
  private readonly timers = new Map<string, { t: NodeJS.Timeout; at: number }>();
  private stuckRuns = 0;

  constructor(
    private readonly o: SchedulerOptions,
    private readonly fire: (name: string) => void,
  ) {}

  /** Arm the interval (once, at start). */
  start(now = Date.now()): void {
    this.arm('interval', now + this.intervalDelay(), now);
  }

  /** Consecutive runs that applied nothing. */
  get stuck(): number {
    return this.stuckRuns;
  }

  /** A run begins: every timer but the interval is dropped (the run looks at everything anyway). */
  beginRun(): void {
    for (const name of [...this.timers.keys()]) if (name !== 'interval') this.clear(name);
  }

  /**
   * A run ended: set the timers it wishes for. After a stuck run they are merged into one `retry`
   * no sooner than the run backoff; `lock-busy` keeps its own pace (it is the one wait whose end
   * another process decides, and it logs once).
   */
  afterRun(kind: RunKind, wishes: Wishes, now = Date.now()): void {
    this.stuckRuns = kind === 'stuck' ? this.stuckRuns + 1 : 0;
    const floor = now + (this.o.floorMs ?? 100);
    if (!this.timers.has('interval')) this.arm('interval', now + this.intervalDelay(), now);
    if (kind === 'stuck') {
      const { ['lock-busy']: busy, ...rest } = wishes;
      if (busy !== undefined) this.arm('lock-busy', Math.max(busy, floor), now);
      const wanted = Object.values(rest).filter((v): v is number => v !== undefined);
      const backoff = now + backoffDelay(this.stuckRuns, this.o.minBackoffMs, this.o.maxBackoffMs);
      if (busy === undefined) this.arm('retry', Math.max(backoff, wanted.length ? Math.min(...wanted) : backoff, floor), now);
      return;
    }
    for (const [name, at] of Object.entries(wishes)) if (at !== undefined) this.arm(name, Math.max(at, floor), now);
  }

  /** Epoch ms of the next timer, or null. */
  next(): number | null {
    let min: number | null = null;
    for (const { at } of this.timers.values()) if (min === null || at < min) min = at;
    return min;
  }

  /** Epoch ms of each armed timer (for status and tests). */
  due(): Record<string, number> {
    return Object.fromEntries([...this.timers].map(([k, v]) => [k, v.at]));
  }

  stop(): void {
    for (const name of [...this.timers.keys()]) this.clear(name);
  }

  private intervalDelay(): number {
    // ±10 % jitter so a fleet of devices does not fetch and read in lockstep
    return Math.round(this.o.intervalMs * (this.o.jitter?.() ?? 0.9 + Math.random() * 0.2));
  }

  private arm(name: string, at: number, now: number): void {
    this.clear(name);
    const t = setTimeout(() => {
      this.timers.delete(name);
      if (name === 'interval') this.arm('interval', Date.now() + this.intervalDelay(), Date.now());
      this.fire(name);
    }, Math.max(0, at - now));
    this.timers.set(name, { t, at });
  }

  private clear(name: string): void {
    const x = this.timers.get(name);
    if (x) clearTimeout(x.t);
    this.timers.delete(name);
  }
}
