// src/engine/ — one command's session (manifest, state, lock, audit) and the flows over it: plan, apply,
// status.
// The flows commands share: refresh → plan, and lock → refresh → plan → confirm → apply.
// `apply`, `bring-up`, `models pull`, `mcp setup` and `watch` all go through applyOnce.
import { OperationError, printable, UserError } from '../core/errors.js';
import { readFileOrNull, writeFileAtomic } from '../core/fs.js';
import type { Diagnostic, Resource } from '../core/types.js';
import { canonical, computePlan, digestOf, type Plan } from '../planner/plan.js';
import { refresh, type ReadOutcome } from '../planner/refresh.js';
import { planToJson } from '../planner/render-json.js';
import { applyPlan, type ApplyReport } from './apply.js';
import { acquireLock } from './lock.js';
import { openSession, type Session, type SessionOptions } from './session.js';
import { saveState } from './state.js';

export interface FlowOptions extends SessionOptions {
  parallelism?: number;
  readTimeoutMs?: number;
}

export interface Planned {
  session: Session;
  plan: Plan;
  reads: Map<string, ReadOutcome>;
  /** Removals an error stops (apply went ahead without them): the command reports them and fails. */
  stuckRemovals?: Diagnostic[];
}

export async function planOnce(opts: FlowOptions): Promise<Planned> {
  const session = await openSession(opts);
  return planWith(session, opts);
}

export async function planWith(session: Session, opts: FlowOptions): Promise<Planned> {
  const reads = await refresh(session.targets, session.kindOf, session.run, {
    parallelism: opts.parallelism ?? 8,
    timeoutMs: opts.readTimeoutMs ?? 60_000,
  });
  const plan = computePlan({
    targets: session.targets,
    reads,
    kindOf: session.kindOf,
    ctx: session.planCtx,
    manifestDigest: session.manifestDigest,
    actualDigest: () => digestOf(session.run.digest, session.targets, reads),
    notes: session.notes,
  });
  plan.diagnostics.unshift(...session.diagnostics);
  return { session, plan, reads };
}

export interface ApplyFlowOptions extends FlowOptions {
  lockTimeoutMs?: number;
  command: string;
  /** Shown the plan; resolves true to go on. Absent = no confirmation. */
  confirm?: (p: Planned) => Promise<boolean>;
  /** Called with the plan before confirmation (to print it). */
  onPlan?: (p: Planned) => void;
  progress: (line: string) => void;
  /** A saved plan: apply only if the actual state still has this digest. */
  expectDigest?: string;
  /** Apply what can be applied even if some resources have plan errors (watch mode). */
  partial?: boolean;
  auditExtra?: Record<string, unknown>;
  /** Addresses to leave alone in this apply, with their dependents (watch mode: resources in retry backoff). */
  exclude?: Iterable<string>;
  /** Recorded as `source` in state.json (watch mode: the git commit being applied). */
  stateSource?: Record<string, unknown>;
}

export interface ApplyFlowResult extends Planned {
  report?: ApplyReport;
  cancelled?: boolean;
}

export async function applyOnce(opts: ApplyFlowOptions): Promise<ApplyFlowResult> {
  const session = await openSession(opts);
  const lock = await acquireLock(session.home, opts.command, opts.lockTimeoutMs ?? 0);
  try {
    const planned = await planWith(session, opts);
    const { plan } = planned;
    if (opts.expectDigest !== undefined && opts.expectDigest !== plan.actualDigest) {
      throw new OperationError('saved plan is stale: the actual state (or the state file) changed since the plan was made. Run `pmoves mini plan --out FILE` again.');
    }
    opts.onPlan?.(planned);
    const errored = new Set(plan.diagnostics.filter((d) => d.severity === 'error' && d.address).map((d) => d.address!));
    for (const a of opts.exclude ?? []) errored.add(a);
    // An error on a removal (a resource only the state remembers) stops that removal only: the others,
    // and the rest of the plan, still go ahead. Any other error cancels the apply (Terraform's rule).
    const removals = new Set(session.targets.filter((t) => !t.desired).map((t) => t.address));
    const blocking = plan.diagnostics.filter((d) => d.severity === 'error' && !(d.address && removals.has(d.address)));
    const stuckRemovals = plan.diagnostics.filter((d) => d.severity === 'error' && d.address && removals.has(d.address));
    if (blocking.length && !opts.partial) return { ...planned, cancelled: true };
    if (stuckRemovals.length) planned.stuckRemovals = stuckRemovals;
    const sourceChanged = opts.stateSource !== undefined && canonical(session.state.source ?? null) !== canonical(opts.stateSource);
    if (sourceChanged) session.state.source = opts.stateSource;
    const changing = plan.changes.some((c) => c.action !== 'no-op') || session.targets.some((t) => !t.desired);
    if (!changing) {
      if (sourceChanged) await saveState(session.home, session.state);
      return { ...planned, report: { resources: [], added: 0, changed: 0, destroyed: 0, failed: [], skipped: [] } };
    }
    if (opts.confirm && !(await opts.confirm(planned))) return { ...planned, cancelled: true };
    const report = await applyPlan(session, plan, {
      parallelism: opts.parallelism ?? 8,
      readTimeoutMs: opts.readTimeoutMs ?? 60_000,
      progress: (line) => opts.progress(printable(line)),
      exclude: errored,
      auditExtra: opts.auditExtra,
    });
    if (sourceChanged) await saveState(session.home, session.state);
    return { ...planned, report };
  } finally {
    await lock.release();
  }
}

// ---- saved plans ---------------------------------------------------------------------------------

export const SAVED_PLAN_FORMAT = 'pmoves-mini-saved-plan';

export interface SavedPlan {
  format: typeof SAVED_PLAN_FORMAT;
  format_version: '1.0';
  created_at: string;
  manifest_path: string;
  manifest_digest: string;
  actual_digest: string;
  targets: string[];
  /** The desired state the plan was computed from (may hold values expanded from ${VAR}: the file is 0600). */
  resources: Resource[];
  plan: Record<string, unknown>;
}

export async function savePlan(file: string, p: Planned, targets: string[]): Promise<void> {
  const saved: SavedPlan = {
    format: SAVED_PLAN_FORMAT,
    format_version: '1.0',
    created_at: new Date().toISOString(),
    manifest_path: p.session.manifest?.path ?? '',
    manifest_digest: p.plan.manifestDigest,
    actual_digest: p.plan.actualDigest,
    targets,
    resources: p.session.resources,
    plan: planToJson(p.plan),
  };
  await writeFileAtomic(file, JSON.stringify(saved, null, 2) + '\n', { mode: 0o600 });
}

export async function loadSavedPlan(file: string): Promise<SavedPlan> {
  const text = await readFileOrNull(file);
  if (text === null) throw new UserError(`${file}: no such file (expected a plan saved with \`pmoves mini plan --out FILE\`)`);
  let saved: SavedPlan;
  try {
    saved = JSON.parse(text) as SavedPlan;
  } catch {
    throw new UserError(`${file}: not a saved plan (invalid JSON)`);
  }
  if (saved?.format !== SAVED_PLAN_FORMAT) throw new UserError(`${file}: not a saved plan (expected "format": "${SAVED_PLAN_FORMAT}")`);
  if (saved.format_version !== '1.0') throw new UserError(`${file}: saved plan format ${String(saved.format_version)} is not supported (expected 1.0)`);
  return saved;
}
