// Apply: dependency order, independent resources concurrently, a failure stops only its dependents.
// Every change re-reads and re-plans first, so a retried apply is a no-op; ownership is written to state
// (pending) before the change is made, so a crash half-way never loses track of what this tool made.
import type { Kind, Target } from '../core/kind.js';
import { describeError, printable } from '../core/errors.js';
import { ownedAfter } from '../core/ownership.js';
import type { Action, Outcome, PlanResult } from '../core/types.js';
import { buildGraph } from '../manifest/graph.js';
import { formatSeconds, withTimeout } from '../planner/concurrency.js';
import type { Plan } from '../planner/plan.js';
import { audit } from './audit.js';
import type { Session } from './session.js';
import { StateWriter } from './state.js';

export interface ApplyOptions {
  parallelism: number;
  readTimeoutMs: number;
  /** Progress lines (address-prefixed by the caller's log). */
  progress(line: string): void;
  /** Addresses to leave alone (e.g. errored or unsatisfiable ones); their dependents are skipped too. */
  exclude?: Set<string>;
  /** Recorded in the audit log (e.g. the git commit watch mode applies). */
  auditExtra?: Record<string, unknown>;
}

export interface ResourceReport {
  address: string;
  action: Action;
  outcome: Outcome | 'failed' | 'skipped';
  error?: string;
  ms: number;
}

export interface ApplyReport {
  resources: ResourceReport[];
  added: number;
  changed: number;
  destroyed: number;
  failed: ResourceReport[];
  skipped: ResourceReport[];
}

const ING: Record<Action, string> = { create: 'Creating...', update: 'Modifying...', replace: 'Replacing...', delete: 'Destroying...', 'no-op': '' };
const DONE: Record<Action, string> = { create: 'Creation complete', update: 'Modifications complete', replace: 'Replacement complete', delete: 'Destruction complete', 'no-op': 'Unchanged' };

export async function applyPlan(session: Session, plan: Plan, opts: ApplyOptions): Promise<ApplyReport> {
  const { kindOf, state, home } = session;
  const byAddress = new Map(session.targets.map((t) => [t.address, t] as const));
  const changing = plan.changes.filter((c) => c.action !== 'no-op' || needsStateCleanup(byAddress.get(c.address)));
  // Changes flow within one apply: a resource planned as no-op that depends (transitively) on one that
  // changes is visited too, after it, and re-read there (a stack whose env file a secrets resource
  // rewrites converges in this apply, not the next one). Re-read, it is usually still a no-op.
  const revisit = dependentsOf(new Set(changing.map((c) => c.address)), plan.changes.filter((c) => c.action === 'no-op'), byAddress);
  const planned = [...changing, ...plan.changes.filter((c) => revisit.has(c.address))];
  const plannedByAddress = new Map(planned.map((c) => [c.address, c] as const));
  const order = new Map(session.kinds.map((k) => [k.section, k.order] as const));
  // Destruction runs in reverse dependency order: a resource being destroyed waits for the destruction of
  // those that depend on it (monitoring's network in use by core's…), and not the other way round.
  const deleting = new Set(planned.filter((c) => c.action === 'delete').map((c) => c.address));
  const dependents = new Map<string, string[]>();
  for (const c of planned) {
    if (!deleting.has(c.address)) continue;
    for (const d of byAddress.get(c.address)?.desired?.dependsOn ?? []) if (deleting.has(d)) dependents.set(d, [...(dependents.get(d) ?? []), c.address]);
  }
  const graph = buildGraph(
    planned.map((c) => ({
      address: c.address,
      dependsOn: deleting.has(c.address) ? (dependents.get(c.address) ?? []) : (byAddress.get(c.address)?.desired?.dependsOn ?? []),
      order: c.action === 'delete' ? 1000 - (order.get(c.section) ?? 0) : (order.get(c.section) ?? 0),
    })),
  );
  // State writes are coalesced: a change waits for a write that starts after it; concurrent changes share one.
  const writer = new StateWriter(home, state);
  const persist = (address: string): Promise<void> => writer.record(address);
  const reports = new Map<string, ResourceReport>();
  const done = new Map<string, Promise<ResourceReport>>();
  let running = 0;
  const waiting: (() => void)[] = [];
  const slot = async () => {
    if (running >= opts.parallelism) await new Promise<void>((r) => waiting.push(r));
    running++;
  };
  const free = () => {
    running--;
    waiting.shift()?.();
  };

  // explicit dependencies transitively failed → skip
  const failedOrSkipped = (a: string) => {
    const r = reports.get(a);
    return r?.outcome === 'failed' || r?.outcome === 'skipped';
  };

  const one = async (address: string): Promise<ResourceReport> => {
    // Let the loop below register every change first: a delete waits for changes planned after it
    // (deletes run in reverse kind order), whose promises do not exist yet when it is called.
    await null;
    const waits = [...(graph.waitsFor.get(address) ?? [])];
    await Promise.all(waits.map((w) => done.get(w)));
    const change = plannedByAddress.get(address)!;
    const t = byAddress.get(address)!;
    const kind = kindOf.get(change.section)!;
    const blockedBy = (graph.deps.get(address) ?? []).filter(failedOrSkipped);
    if (revisit.has(address) && (blockedBy.length || opts.exclude?.has(address))) {
      return { address, action: 'no-op', outcome: 'unchanged', ms: 0 }; // nothing was planned for it
    }
    if (opts.exclude?.has(address) || blockedBy.length) {
      const r: ResourceReport = {
        address,
        action: change.action,
        outcome: 'skipped',
        error: blockedBy.length ? `depends on ${blockedBy.join(', ')}, which did not apply` : 'excluded from this apply',
        ms: 0,
      };
      if (blockedBy.length) opts.progress(`${address}: Skipped (${r.error})`);
      return r;
    }
    await slot();
    if (session.run.signal.aborted) {
      // Cancelled (SIGTERM in watch mode): start nothing new; what is in flight finishes or honours the signal.
      free();
      return { address, action: change.action, outcome: 'skipped', error: 'cancelled', ms: 0 };
    }
    const start = Date.now();
    try {
      return await applyOne(session, kind, t, change.action, opts, persist, start);
    } finally {
      free();
    }
  };

  for (const c of planned) {
    const p = one(c.address).then((r) => {
      reports.set(c.address, r);
      return r;
    });
    done.set(c.address, p);
  }
  const all = await Promise.all(done.values());
  await writer.close();
  const count = (o: Outcome) => all.filter((r) => r.outcome === o).length;
  return {
    resources: all,
    added: count('created') + count('replaced'),
    changed: count('updated'),
    destroyed: count('deleted') + count('replaced'),
    failed: all.filter((r) => r.outcome === 'failed'),
    skipped: all.filter((r) => r.outcome === 'skipped' && r.error !== 'excluded from this apply'),
  };
}

/** Of `candidates`, those that depend on an address in `changed`, directly or through each other (one walk). */
function dependentsOf(changed: Set<string>, candidates: { address: string }[], byAddress: Map<string, Target<unknown>>): Set<string> {
  const dependents = new Map<string, string[]>();
  for (const c of candidates) {
    for (const d of byAddress.get(c.address)?.desired?.dependsOn ?? []) {
      const list = dependents.get(d);
      if (list) list.push(c.address);
      else dependents.set(d, [c.address]);
    }
  }
  const out = new Set<string>();
  const queue = [...changed];
  while (queue.length) {
    for (const a of dependents.get(queue.pop()!) ?? []) {
      if (out.has(a)) continue;
      out.add(a);
      queue.push(a);
    }
  }
  return out;
}

function needsStateCleanup(t: Target<unknown> | undefined): boolean {
  return Boolean(t && !t.desired && t.prior);
}

async function applyOne(
  session: Session,
  kind: Kind,
  t: Target<unknown>,
  plannedAction: Action,
  opts: ApplyOptions,
  persist: (address: string) => Promise<void>,
  start: number,
): Promise<ResourceReport> {
  const { run, state, home } = session;
  const address = t.address;
  let action: Action = plannedAction;
  try {
    // Level-based: look at the world again; the plan we showed only said which resources to visit.
    const prior = state.resources[address];
    const target: Target<unknown> = { ...t, prior };
    const actual = await withTimeout(kind.read(run, target), opts.readTimeoutMs, `reading ${address}`);
    const fresh: PlanResult = kind.plan(target, actual, session.planCtx);
    action = fresh.action;
    const errors = (fresh.diagnostics ?? []).filter((d) => d.severity === 'error');
    if (errors.length) throw new Error(errors.map((d) => d.summary).join('; '));
    if (action === 'no-op') {
      if (!t.desired && prior) {
        delete state.resources[address];
        await persist(address);
      }
      return { address, action, outcome: 'unchanged', ms: Date.now() - start };
    }
    opts.progress(`${address}: ${ING[action]}`);
    // Write-ahead: the state says we own what we are about to create, before it exists.
    const intent = kind.intent?.(target, actual);
    state.resources[address] = {
      ...(prior ?? { section: kind.section }),
      owned: ownedAfter(prior, action === 'create'),
      pending: action,
      ...(intent !== undefined ? { data: intent } : {}),
    };
    await persist(address);
    const result = await kind.apply(run, target, actual, fresh);
    if (result.state) state.resources[address] = { ...result.state, applied_at: new Date().toISOString() };
    else delete state.resources[address];
    await persist(address);
    const ms = Date.now() - start;
    for (const m of result.messages ?? []) opts.progress(`${address}: ${m}`);
    opts.progress(`${address}: ${DONE[action]} after ${formatSeconds(Math.round(ms / 100) * 100)}`);
    await audit(home, { address, action, outcome: result.outcome, manifest_digest: session.manifestDigest, ...opts.auditExtra });
    return { address, action, outcome: result.outcome, ms };
  } catch (err) {
    const msg = printable(describeError(err)); // a URL or path from the manifest may hold escape sequences
    opts.progress(`${address}: Failed: ${msg}`);
    await audit(home, { address, action, outcome: 'failed', manifest_digest: session.manifestDigest, error: msg, ...opts.auditExtra }).catch(() => {});
    return { address, action, outcome: 'failed', error: msg, ms: Date.now() - start };
  }
}
