// `status`: one line per declared (or still owned) resource, from the same refresh → plan as `plan`.
import type { Style } from '../planner/render-text.js';
import { planOnce, type FlowOptions, type Planned } from './run.js';

export type ResourceStatus = 'in-sync' | 'drifted' | 'missing' | 'orphaned' | 'conflict' | 'error';

export interface StatusLine {
  address: string;
  status: ResourceStatus;
  reason: string;
  details: string[];
  origin?: string;
  parts?: StatusLine[];
}

export interface StatusReport {
  manifest: string | null;
  resources: StatusLine[];
  notes: string[];
  /** $PMOVES_HOME/watch.json and whether its watcher runs (set by the status command). */
  watch?: unknown;
}

export async function statusReport(opts: FlowOptions): Promise<StatusReport> {
  const planned = await planOnce(opts);
  return { manifest: planned.session.manifest?.path ?? null, resources: statusLines(planned), notes: planned.plan.notes };
}

/** One line per declared (or still owned) resource from a plan already made (the page reuses it). */
export function statusLines({ session, plan, reads }: Pick<Planned, 'session' | 'plan' | 'reads'>): StatusLine[] {
  const errors = new Map<string, string[]>();
  for (const d of plan.diagnostics) if (d.address && d.severity === 'error') errors.set(d.address, [...(errors.get(d.address) ?? []), d.summary]);
  const lines: StatusLine[] = [];
  for (const t of session.targets) {
    const c = plan.changes.find((x) => x.address === t.address);
    const kind = session.kindOf.get(t.desired?.section ?? t.prior!.section)!;
    const read = reads.get(t.address);
    const details = read?.ok && kind.describe ? kind.describe(t, read.actual) : [];
    const base = { address: t.address, details, ...(t.desired?.origin ? { origin: t.desired.origin } : {}) };
    if (errors.has(t.address)) lines.push({ ...base, status: 'error', reason: errors.get(t.address)!.join('; ') });
    else if (!c) lines.push({ ...base, status: 'error', reason: t.desired?.unsatisfied ? `cannot be applied here: ${t.desired.unsatisfied}` : 'not read' });
    else if (!t.desired) {
      if (c.action === 'delete') lines.push({ ...base, status: 'orphaned', reason: 'no longer declared; apply will remove it' });
      else continue;
    } else if (c.conflicts?.length) lines.push({ ...base, status: 'conflict', reason: `someone else's entry is in the way (${c.conflicts.length})` });
    else if (c.action === 'no-op') lines.push({ ...base, status: 'in-sync', reason: c.reason });
    else if (c.action === 'create') lines.push({ ...base, status: 'missing', reason: c.reason });
    else lines.push({ ...base, status: 'drifted', reason: c.reason });
    const parts = c?.parts?.map((p) => ({ address: p.address, status: (p.action === 'no-op' ? 'in-sync' : p.action === 'create' ? 'missing' : p.action === 'delete' ? 'orphaned' : 'drifted') as ResourceStatus, reason: p.reason, details: [] }));
    // one line per client in conflict (`mcp.memory.cursor  conflict  ~/.cursor/mcp.json already has …`)
    const all = [...(parts ?? []), ...(c?.conflicts ?? []).map((x) => ({ address: `${t.address}.${x.slice(0, x.indexOf(': '))}`, status: 'conflict' as ResourceStatus, reason: x.slice(x.indexOf(': ') + 2), details: [] }))];
    if (all.length && lines.length) lines[lines.length - 1]!.parts = all;
  }
  return lines;
}

export function renderStatus(r: StatusReport, s: Style): string {
  const width = Math.max(8, ...r.resources.flatMap((l) => [l.address.length, ...(l.parts ?? []).map((p) => p.address.length + 2)]));
  const color = (st: ResourceStatus) => (st === 'in-sync' ? s.green : st === 'error' ? s.red : s.yellow);
  const out: string[] = [...r.notes];
  for (const l of r.resources) {
    const extra = [l.reason, ...l.details].filter(Boolean).join('; ');
    out.push(`${l.address.padEnd(width)}  ${color(l.status)(l.status.padEnd(8))}  ${extra}${l.origin ? ` (from ${l.origin})` : ''}`);
    for (const p of l.parts ?? []) out.push(`  ${p.address.padEnd(width - 2)}  ${color(p.status)(p.status.padEnd(8))}  ${p.reason}`);
  }
  if (!r.resources.length) out.push('No resources declared.');
  return out.join('\n') + '\n';
}
