// Sizes and download progress shared by the model providers (Ollama pulls and file downloads).
// Pure formatting plus one small throttled reporter; lines go through RunContext.log.

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'] as const;

/** Decimal units with one decimal, as Ollama prints them: 19.8 GB, 622.0 MB, 512 B. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${UNITS[i]}`;
}

const FACTORS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** `9.0 GB`, `461 MiB`, `6549796` → bytes; undefined when the text is not a size. */
export function parseSize(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$/i.exec(v);
  if (!m) return undefined;
  const f = FACTORS[(m[2] ?? 'b').toLowerCase()];
  return f === undefined ? undefined : Math.round(Number(m[1]) * f);
}

/** `[#########...........]  45%` */
export function bar(done: number, total: number, width = 24): string {
  const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const full = Math.round(frac * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.floor(frac * 100)).padStart(3)}%`;
}

export interface ProgressOptions {
  /** True: a bar line on every update worth showing (about once a second); false: a plain line every few seconds. */
  tty: boolean;
  log: (line: string) => void;
  /** Minimum ms between lines (default: 1000 on a TTY, 5000 otherwise; PMOVES_PROGRESS_INTERVAL_MS overrides). */
  intervalMs?: number;
  now?: () => number;
}

/** Reports bytes transferred: first call prints at once, then at most one line per interval, and always the last. */
export class Progress {
  private last = -Infinity;
  private readonly started: number;
  private startBytes = -1;
  private readonly interval: number;
  private readonly now: () => number;

  constructor(private readonly opts: ProgressOptions) {
    this.now = opts.now ?? Date.now;
    this.started = this.now();
    const env = Number(process.env.PMOVES_PROGRESS_INTERVAL_MS);
    this.interval = opts.intervalMs ?? (Number.isFinite(env) && env >= 0 && process.env.PMOVES_PROGRESS_INTERVAL_MS ? env : opts.tty ? 1000 : 5000);
  }

  /** `done` of `total` bytes (total 0/undefined when unknown). `label` e.g. "downloading" or "pulling 8934d96d3f08". */
  update(done: number, total: number | undefined, label: string, force = false): void {
    if (this.startBytes < 0) this.startBytes = done;
    const t = this.now();
    if (!force && t - this.last < this.interval) return;
    this.last = t;
    const secs = (t - this.started) / 1000;
    const rate = secs > 0.5 ? (done - this.startBytes) / secs : 0;
    const speed = rate > 0 ? `, ${formatBytes(rate)}/s` : '';
    if (total && total > 0) {
      if (this.opts.tty) this.opts.log(`${label} ${bar(done, total)} ${formatBytes(done)}/${formatBytes(total)}${speed}`);
      else this.opts.log(`${label}: ${formatBytes(done)} of ${formatBytes(total)} (${Math.floor((Math.min(done, total) / total) * 100)}%)${speed}`);
    } else {
      this.opts.log(`${label}: ${formatBytes(done)}${speed}`);
    }
  }
}
