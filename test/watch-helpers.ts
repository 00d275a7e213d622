// Helpers for watch-mode tests: a CHIT bundle from a map, a watcher process whose --json events are
// collected line by line, and waiting for an event. Every watcher started here is killed in `stop`.
import { writeFileSync } from 'node:fs';
import { cliSpawn, waitFor, type CliOptions } from './helpers.js';

/** A CGP v0.1 bundle (cleartext points) holding `values`. */
export function bundle(values: Record<string, string>): string {
  const constellations = Object.entries(values).map(([label, text], i) => ({
    id: `pmoves.secrets-${i}`,
    label,
    kind: 'secret',
    points: [{ id: `${label}-value`, magnitude: 1.0, anchor: [0, 0, 0], text }],
  }));
  return JSON.stringify({ spec: 'chit.cgp.v0.1', meta: { namespace: 'pmoves.secrets', count: constellations.length }, super_nodes: [{ id: 'pmoves.secrets', label: 'secrets', constellations }] }, null, 2);
}

export function writeBundle(file: string, values: Record<string, string>): void {
  writeFileSync(file, bundle(values));
}

export interface WatchEvent {
  event: string;
  message: string;
  [k: string]: any;
}

export interface WatchProc {
  events: WatchEvent[];
  stderr(): string;
  /** Wait for an event after index `from` (default: any so far) matching `pred`; returns it. */
  next(pred: (e: WatchEvent) => boolean, what: string, from?: number, ms?: number): Promise<WatchEvent>;
  /** Number of events seen so far (pass as `from` to wait for a later one). */
  mark(): number;
  proc: ReturnType<typeof cliSpawn>;
  /** SIGTERM and wait; returns the exit code. */
  term(): Promise<number | undefined>;
  /** Kill (SIGKILL) if still running. For finally blocks. */
  stop(): Promise<void>;
}

export function startWatch(args: string[], opts: CliOptions): WatchProc {
  const proc = cliSpawn(['mini', 'watch', '--json', ...args], opts);
  const events: WatchEvent[] = [];
  let buf = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        events.push(JSON.parse(line) as WatchEvent);
      } catch {
        events.push({ event: 'non-json', message: line });
      }
    }
  });
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  let exited = false;
  const done = proc.then((r) => {
    exited = true;
    return r;
  });
  const w: WatchProc = {
    events,
    proc,
    stderr: () => err,
    mark: () => events.length,
    async next(pred, what, from = 0, ms = 90_000) {
      return waitFor<WatchEvent | undefined>(
        () => {
          if (exited && !events.slice(from).some(pred)) throw new Error(`watcher exited while waiting for ${what}; stderr: ${err}; events: ${JSON.stringify(events.slice(-5))}`);
          return events.slice(from).find(pred);
        },
        `${what} (last events: ${events.slice(-4).map((e) => e.message).join(' | ')}; stderr: ${err.slice(-500)})`,
        ms,
      ) as Promise<WatchEvent>;
    },
    async term() {
      proc.kill('SIGTERM');
      const r = await done;
      return r.exitCode;
    },
    async stop() {
      if (!exited) {
        proc.kill('SIGKILL');
        await done;
      }
    },
  };
  return w;
}

export const isApply = (e: WatchEvent) => e.event === 'apply';
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
