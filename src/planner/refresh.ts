// Refresh: read the actual state of every target concurrently (bounded), each read under a timeout.
// A failed read is a value, not a throw: the planner turns it into a diagnostic on that address.
import type { Kind, RunContext, Target } from '../core/kind.js';
import { describeError } from '../core/errors.js';
import { mapLimit, withTimeout } from './concurrency.js';

export type ReadOutcome = { ok: true; actual: unknown } | { ok: false; error: string };

export interface RefreshOptions {
  parallelism: number;
  /** Per-read deadline in ms. */
  timeoutMs: number;
}

export async function refresh(
  targets: Target<unknown>[],
  kindOf: Map<string, Kind>,
  ctx: RunContext,
  opts: RefreshOptions,
): Promise<Map<string, ReadOutcome>> {
  const out = new Map<string, ReadOutcome>();
  const bySection = new Map<string, Target<unknown>[]>();
  for (const t of targets) {
    if (t.desired?.unsatisfied) continue; // this machine cannot run it: nothing to read
    const section = t.desired?.section ?? t.prior!.section;
    const list = bySection.get(section);
    if (list) list.push(t);
    else bySection.set(section, [t]);
  }
  const batches: Promise<void>[] = [];
  const single: { kind: Kind; target: Target<unknown> }[] = [];
  for (const [section, ts] of bySection) {
    const kind = kindOf.get(section)!;
    if (kind.readAll) {
      batches.push(
        withTimeout(kind.readAll(ctx, ts), opts.timeoutMs, `reading ${section}`).then(
          (m) => {
            for (const t of ts) {
              const r = m.get(t.address);
              out.set(t.address, r instanceof Error ? { ok: false, error: describeError(r) } : r === undefined ? { ok: false, error: 'no result from the provider' } : { ok: true, actual: r });
            }
          },
          (err) => {
            for (const t of ts) out.set(t.address, { ok: false, error: describeError(err) });
          },
        ),
      );
    } else {
      for (const t of ts) single.push({ kind, target: t });
    }
  }
  await Promise.all([
    ...batches,
    mapLimit(single, opts.parallelism, async ({ kind, target }) => {
      try {
        out.set(target.address, { ok: true, actual: await withTimeout(kind.read(ctx, target), opts.timeoutMs, `reading ${target.address}`) });
      } catch (err) {
        out.set(target.address, { ok: false, error: describeError(err) });
      }
    }),
  ]);
  return out;
}
