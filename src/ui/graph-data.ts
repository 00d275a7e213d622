// What the graph is drawn from: the desired resources (a session), each stack's compose files (read
// here, never run), and a state per node: the plan's action when there is a plan, else the last known
// status (the watcher's last run in watch.json, else "applied" for what state.json holds).
import type { Resource } from '../core/types.js';
import type { Plan } from '../planner/plan.js';
import type { WatchFile } from '../watch/state-file.js';
import { buildGraphModel, composeServices, type GraphModel, type NodeState } from './graph-model.js';

type Obj = Record<string, unknown>;

async function stackServices(r: Resource): Promise<Record<string, Obj> | null> {
  const spec = r.spec as { files?: string[]; profiles?: string[]; services?: string[] | null };
  if (r.section !== 'stacks' || !Array.isArray(spec.files)) return null;
  const { readFileOrNull } = await import('../core/fs.js');
  const { parse } = await import('yaml');
  const docs: unknown[] = [];
  for (const f of spec.files) {
    const text = await readFileOrNull(f);
    if (text === null) continue;
    try {
      docs.push(parse(text, { merge: true, uniqueKeys: false }));
    } catch {
      // the plan reports a file compose rejects; the graph draws what it can
    }
  }
  return composeServices(docs, { profiles: spec.profiles ?? [], only: spec.services ?? null });
}

export interface StateSources {
  plan?: Plan;
  watch?: WatchFile | null;
  /** Addresses state.json holds. */
  applied?: Iterable<string>;
}

export function nodeStates(s: StateSources): Map<string, { state: NodeState; reason?: string }> {
  const out = new Map<string, { state: NodeState; reason?: string }>();
  for (const a of s.applied ?? []) out.set(a, { state: 'applied' });
  for (const [a, r] of Object.entries(s.watch?.resources ?? {})) out.set(a, { state: r.result, ...(r.error ? { reason: r.error } : {}) });
  for (const c of s.plan?.changes ?? []) {
    out.set(c.address, { state: c.action, reason: c.reason });
    for (const p of c.parts ?? []) out.set(p.address.replace(/^(stacks\.[^.]+)\./, '$1/'), { state: p.action, reason: p.reason });
  }
  for (const d of s.plan?.diagnostics ?? []) if (d.address && d.severity === 'error') out.set(d.address, { state: 'error', reason: d.summary });
  return out;
}

export async function graphOf(resources: Resource[], s: StateSources): Promise<GraphModel> {
  const services = new Map<string, Record<string, Obj>>();
  for (const r of resources) {
    const svc = await stackServices(r);
    if (svc) services.set(r.address, svc);
  }
  // a resource the plan removes is no longer declared: draw it too
  const all: { address: string; dependsOn: string[]; unsatisfied?: string }[] = [...resources];
  for (const c of s.plan?.changes ?? []) if (c.action === 'delete' && !all.some((r) => r.address === c.address)) all.push({ address: c.address, dependsOn: [] });
  return buildGraphModel({ resources: all, services, states: nodeStates(s) });
}
