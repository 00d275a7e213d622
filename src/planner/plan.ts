// src/planner/ — refresh (read), the pure plan, and its renderers (text, JSON); decides nothing with I/O.
// Computing the plan: a pure function of (targets with desired + prior state, read outcomes).
import type { Kind, PlanContext, Target } from '../core/kind.js';
import type { Change, Diagnostic, PlanResult } from '../core/types.js';
import type { ReadOutcome } from './refresh.js';

export interface Summary {
  add: number;
  change: number;
  destroy: number;
  /** Resources an error stops (a blocked change, a machine that cannot run it): not counted as changes. */
  blocked: number;
  /** Resources whose actual state could not be read. */
  unreadable: number;
  /** Resources with an unresolved conflict (someone else's thing in the way). */
  conflict: number;
}

export interface Plan {
  manifestDigest: string;
  /** Keyed digest of everything read (actual state + prior state); a saved plan is stale when it differs. */
  actualDigest: string;
  changes: Change[];
  /** Per address: the kind's own answer, for apply. */
  results: Map<string, PlanResult>;
  diagnostics: Diagnostic[];
  summary: Summary;
  notes: string[];
  /** Extra summary words from kinds (e.g. download budget). */
  summaryExtras: string[];
}

export function summarize(changes: Change[], counts: { blocked?: number; unreadable?: number } = {}): Summary {
  const s = { add: 0, change: 0, destroy: 0, blocked: counts.blocked ?? 0, unreadable: counts.unreadable ?? 0, conflict: 0 };
  for (const c of changes) {
    if (c.conflicts?.length) s.conflict++;
    if (c.blocked) {
      s.blocked++;
      continue;
    }
    switch (c.action) {
      case 'create':
        s.add++;
        break;
      case 'update':
        s.change++;
        break;
      case 'replace':
        s.add++;
        s.destroy++;
        break;
      case 'delete':
        s.destroy++;
        break;
      case 'no-op':
        break;
      default: {
        const never: never = c.action;
        throw new Error(`unknown action ${String(never)}`);
      }
    }
  }
  return s;
}

/** Stable JSON (sorted keys) for digests. */
export function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  return `{${Object.keys(v as object)
    .sort()
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
    .join(',')}}`;
}

/**
 * Keyed digest of what a plan was computed from (its targets' reads and prior state); a saved plan
 * applies only while it still matches. An actual state's top-level `volatile` field is left out (the
 * Kind contract: live readings such as handshakes and free disk).
 */
export function digestOf(key: (s: string) => string, targets: Target<unknown>[], reads: Map<string, ReadOutcome>): string {
  const parts = targets
    .map((t) => [t.address, stable(reads.get(t.address)) ?? null, t.prior ?? null] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return key(canonical(parts));
}

function stable(read: ReadOutcome | undefined): ReadOutcome | undefined {
  if (!read?.ok || read.actual === null || typeof read.actual !== 'object' || !('volatile' in read.actual)) return read;
  return { ...read, actual: { ...(read.actual as object), volatile: undefined } };
}

export function computePlan(args: {
  targets: Target<unknown>[];
  reads: Map<string, ReadOutcome>;
  kindOf: Map<string, Kind>;
  ctx: PlanContext;
  manifestDigest: string;
  /** The digest, or how to compute it: only a saved plan or a stale-plan check reads it. */
  actualDigest: string | (() => string);
  notes?: string[];
}): Plan {
  const changes: Change[] = [];
  const results = new Map<string, PlanResult>();
  const diagnostics: Diagnostic[] = [];
  let blocked = 0;
  let unreadable = 0;
  for (const t of args.targets) {
    const section = t.desired?.section ?? t.prior!.section;
    if (t.desired?.unsatisfied) {
      if (!args.ctx.flags.skipUnsatisfiable) blocked++;
      // Decided before apply: a resource this machine cannot run gets no change at all.
      diagnostics.push({ severity: args.ctx.flags.skipUnsatisfiable ? 'warning' : 'error', address: t.address, summary: `cannot be applied here: ${t.desired.unsatisfied}` });
      continue;
    }
    const read = args.reads.get(t.address);
    if (!read || !read.ok) {
      diagnostics.push({ severity: 'error', address: t.address, summary: `could not read actual state: ${read ? read.error : 'not read'}` });
      unreadable++;
      continue;
    }
    const kind = args.kindOf.get(section)!;
    let r: PlanResult;
    try {
      r = kind.plan(t, read.actual, args.ctx);
    } catch (err) {
      diagnostics.push({ severity: 'error', address: t.address, summary: `could not plan: ${(err as Error).message}` });
      blocked++;
      continue;
    }
    results.set(t.address, r);
    const own = (r.diagnostics ?? []).map((d) => ({ ...d, address: d.address ?? t.address }));
    for (const d of own) diagnostics.push(d);
    const stopped = r.action !== 'no-op' && own.some((d) => d.severity === 'error' && d.address === t.address);
    changes.push({
      address: t.address,
      section,
      name: t.name,
      action: r.action,
      reason: r.reason,
      before: r.before,
      after: r.after,
      ...(r.parts ? { parts: r.parts } : {}),
      ...(r.warnings?.length ? { warnings: r.warnings } : {}),
      ...(t.desired?.origin ? { origin: t.desired.origin } : {}),
      ...(r.verb ? { verb: r.verb } : {}),
      ...(stopped ? { blocked: true } : {}),
      ...(r.conflicts?.length ? { conflicts: r.conflicts } : {}),
    });
  }
  const summaryExtras: string[] = [];
  for (const kind of args.kindOf.values()) {
    if (!kind.finalize) continue;
    const mine = args.targets
      .filter((t) => (t.desired?.section ?? t.prior!.section) === kind.section && results.has(t.address))
      .map((t) => ({ target: t, actual: (args.reads.get(t.address) as { actual: unknown }).actual, result: results.get(t.address)! }));
    if (!mine.length) continue;
    const f = kind.finalize(mine, args.ctx);
    summaryExtras.push(...(f.summary ?? []));
    diagnostics.push(...(f.diagnostics ?? []));
  }
  const digest = args.actualDigest;
  let actualDigest: string | undefined = typeof digest === 'string' ? digest : undefined;
  return {
    manifestDigest: args.manifestDigest,
    // Computed on first read: canonical JSON of every read, a cost a plain `plan` does not need.
    get actualDigest(): string {
      return (actualDigest ??= (digest as () => string)());
    },
    changes,
    results,
    diagnostics,
    summary: summarize(changes, { blocked, unreadable }),
    notes: args.notes ?? [],
    summaryExtras,
  };
}

export function planHasErrors(p: Plan): boolean {
  return p.diagnostics.some((d) => d.severity === 'error');
}
