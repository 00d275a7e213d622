// The watch loop's timers, by name (interval, retry, fetch-retry, converge-timeout, settle, lock-busy):
// each fires a trigger with its name. All are cleared when a run starts and set again after it.

export class Timers {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly due = new Map<string, number>();

  constructor(private readonly fire: (name: string) => void) {}

  /** Fire `name` at epoch ms `when` (at once if it is past). */
  at(name: string, when: number, now = Date.now()): void {
    const delay = Math.max(0, when - now);
    clearTimeout(this.timers.get(name));
    this.due.set(name, now + delay);
    this.timers.set(name, setTimeout(() => this.fire(name), delay));
  }

  /** Epoch ms of the next timer, or null. */
  next(): number | null {
    return this.due.size ? Math.min(...this.due.values()) : null;
  }

  clear(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.due.clear();
  }
}
