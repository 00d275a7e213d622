// The record step of the watch loop: what a run's outcome means for the watcher.
// - recordOutcome: per resource, a failure enters (or stays in) retry backoff, a success leaves it;
//   the `apply` line. Pure, apart from updating the backoff it is given.
// - nextGeneration: a converged run records a new generation (or keeps the held one); a new desired
//   state that has not converged within --converge-timeout is rolled back. Pure: time is passed in.
import { formatDiagnostic } from '../core/errors.js';
import type { ApplyReport } from '../engine/apply.js';
import type { Plan } from '../planner/plan.js';
import type { Backoff } from './backoff.js';
import { secs, type WatchEvent } from './report.js';
import type { ResourceRun } from './state-file.js';

export interface Outcome {
  /** Each declared (or planned) resource's last result, for watch.json. */
  resources: Record<string, ResourceRun>;
  failed: { address: string; error: string; retry_in_ms: number }[];
  skipped: { address: string; error: string }[];
  /** Resources left alone: someone else's entry is in the way (not retried with backoff: re-planned every run). */
  conflicts: { address: string; conflicts: string[] }[];
  /** Plan errors that name no resource. */
  globalErrors: string[];
  excluded: string[];
  counts: { added: number; changed: number; destroyed: number };
  result: 'ok' | 'failed' | 'conflict' | 'no-changes';
  /** Every resource applied, nothing failing or waiting. */
  converged: boolean;
}

export function recordOutcome(i: { plan: Pick<Plan, 'changes' | 'diagnostics'>; report: ApplyReport | undefined; exclude: Set<string>; backoff: Backoff; previous: Record<string, ResourceRun>; now: number }): Outcome {
  const { backoff, exclude, now } = i;
  const at = new Date(now).toISOString();
  const planErrors = new Map<string, string[]>();
  const globalErrors: string[] = [];
  for (const d of i.plan.diagnostics) {
    if (d.severity !== 'error') continue;
    if (d.address) planErrors.set(d.address, [...(planErrors.get(d.address) ?? []), d.summary]);
    else globalErrors.push(formatDiagnostic(d));
  }
  const reports = new Map((i.report?.resources ?? []).map((r) => [r.address, r] as const));
  const resources: Record<string, ResourceRun> = { ...i.previous };
  const failed: Outcome['failed'] = [];
  const skipped: Outcome['skipped'] = [];
  const conflicts: Outcome['conflicts'] = [];
  const inConflict = new Map(i.plan.changes.filter((c) => c.conflicts?.length).map((c) => [c.address, c.conflicts!] as const));
  const addresses = new Set([...i.plan.changes.map((c) => c.address), ...planErrors.keys()]);
  const fail = (a: string, error: string, result: 'error' | 'failed') => {
    const delay = backoff.fail(a, now, error);
    failed.push({ address: a, error, retry_in_ms: delay });
    resources[a] = { result, error, at, failures: backoff.get(a)!.failures, next_retry: new Date(now + delay).toISOString() };
  };
  for (const a of addresses) {
    const rep = reports.get(a);
    const prev = backoff.get(a);
    if (planErrors.has(a) && !exclude.has(a)) {
      fail(a, planErrors.get(a)!.join('; '), 'error');
    } else if (exclude.has(a)) {
      if (prev) resources[a] = { result: 'failed', error: prev.error, at: resources[a]?.at ?? at, failures: prev.failures, next_retry: new Date(prev.until).toISOString() };
    } else if (rep?.outcome === 'failed') {
      fail(a, rep.error ?? 'failed', 'failed');
    } else if (rep?.outcome === 'skipped') {
      if (rep.error === 'cancelled') continue;
      skipped.push({ address: a, error: rep.error ?? 'skipped' });
      resources[a] = { result: 'skipped', error: rep.error, at };
    } else {
      backoff.succeed(a);
      if (rep?.outcome === 'deleted') delete resources[a];
      else if (inConflict.has(a)) {
        conflicts.push({ address: a, conflicts: inConflict.get(a)! });
        resources[a] = { result: 'conflict', error: inConflict.get(a)!.join('; '), at };
      } else resources[a] = { result: 'ok', at };
    }
  }
  backoff.retain(addresses);
  for (const a of Object.keys(resources)) if (!addresses.has(a)) delete resources[a];
  const excluded = [...exclude];
  const r = i.report;
  return {
    resources,
    failed,
    skipped,
    conflicts,
    globalErrors,
    excluded,
    counts: { added: r?.added ?? 0, changed: r?.changed ?? 0, destroyed: r?.destroyed ?? 0 },
    result: failed.length || skipped.length || globalErrors.length || excluded.length ? 'failed' : conflicts.length ? 'conflict' : r?.resources.length ? 'ok' : 'no-changes',
    // a conflict is not converged: no new generation, no last success, until it is resolved
    converged: !failed.length && !skipped.length && !globalErrors.length && !conflicts.length && backoff.size === 0,
  };
}

/**
 * The `apply` line. `waiting` lists the resources left out of this run because their backoff is not
 * over, each with its last error and next try, so that a status never says only "in retry backoff".
 */
export function applyEvent(o: Outcome, ms: number, commit: string | null, backoff?: Pick<Backoff, 'get'>): WatchEvent {
  const c = o.counts;
  const failText = [
    ...o.failed.map((f) => `${f.address} (retry in ${secs(f.retry_in_ms)}): ${f.error}`),
    ...o.skipped.map((x) => `${x.address} skipped: ${x.error}`),
    ...o.conflicts.flatMap((x) => x.conflicts.map((why) => `${x.address} in conflict: ${why}`)),
    ...o.globalErrors,
  ];
  const waiting = o.excluded.map((address) => {
    const e = backoff?.get(address);
    return { address, error: e?.error ?? '', failures: e?.failures ?? 0, next_try: e ? new Date(e.until).toISOString() : null };
  });
  const waitText = waiting.map((w) => `${w.address} still in backoff${w.next_try ? ` (next try ${w.next_try.slice(11, 19)})` : ''}${w.error ? `: ${w.error.split('\n')[0]}` : ''}`);
  const message =
    o.result === 'ok'
      ? `converged in ${secs(ms)}: ${c.added} added, ${c.changed} changed, ${c.destroyed} destroyed`
      : o.result === 'no-changes'
        ? `in sync (${secs(ms)})`
        : `not converged (${secs(ms)}): ${c.added} added, ${c.changed} changed, ${c.destroyed} destroyed${failText.length ? `\n  ${failText.join('\n  ')}` : ''}${waitText.length ? `\n  ${waitText.join('\n  ')}` : ''}`;
  return { event: 'apply', message, result: o.result, ...c, failed: o.failed, skipped: o.skipped, conflicts: o.conflicts, errors: o.globalErrors, excluded: o.excluded, waiting, ms, commit };
}

/** A new desired state waiting to converge since `since` (for --rollback-on-failure). */
export interface Converging {
  digest: string;
  since: number;
}

export type GenerationStep =
  | { kind: 'keep-held' }
  | { kind: 'record' }
  | { kind: 'unchanged' }
  | { kind: 'rollback' }
  | { kind: 'warn-no-generation' }
  | { kind: 'wait' };

export function nextGeneration(i: {
  converged: boolean;
  held: boolean;
  /** The generation in force. */
  generation: { resources_digest: string; commit?: string | null } | null;
  digest: string;
  commit: string | null;
  converging: Converging | null;
  now: number;
  rollbackOnFailure: boolean;
  convergeTimeoutMs: number;
  warnedNoGeneration: boolean;
}): { step: GenerationStep; converging: Converging | null } {
  if (i.converged) {
    if (i.held) return { step: { kind: 'keep-held' }, converging: null };
    const same = i.generation && i.generation.resources_digest === i.digest && (i.generation.commit ?? null) === i.commit;
    return { step: { kind: same ? 'unchanged' : 'record' }, converging: null };
  }
  const converging = i.converging?.digest === i.digest ? i.converging : { digest: i.digest, since: i.now };
  const overdue = i.now - converging.since >= i.convergeTimeoutMs;
  if (i.rollbackOnFailure && !i.held && overdue) {
    if (i.generation && i.generation.resources_digest !== i.digest) return { step: { kind: 'rollback' }, converging };
    if (!i.generation && !i.warnedNoGeneration) return { step: { kind: 'warn-no-generation' }, converging };
  }
  return { step: { kind: 'wait' }, converging };
}
