// The graph `pmoves mini graph` draws and the page shows: resources and their explicit depends_on, each
// stack's compose services and their depends_on (GPU-gated services marked), every node with a state
// word (the plan's action with --plan, else the last known status). Pure: the caller reads the
// manifest, compose files, watch.json and state; renderers (graph-render.ts) only print.
import { gpuNeed } from '../providers/docker/gpu.js';

/** create/update/replace/delete/no-op: what the plan would do; ok/failed/error/skipped/conflict: the
 *  watcher's last run; applied: in state, no run seen; unknown: never applied. */
export type NodeState = 'create' | 'update' | 'replace' | 'delete' | 'no-op' | 'ok' | 'failed' | 'error' | 'skipped' | 'conflict' | 'applied' | 'unknown';

export interface GraphNode {
  id: string;
  label: string;
  type: 'resource' | 'service';
  /** For a service: the stack's address. */
  parent?: string;
  /** For a GPU-gated service: what asks for a GPU. */
  gpu?: string;
  state: NodeState;
  /** Why it has that state (the plan's reason or the last error), display only. */
  reason?: string;
}

export interface GraphEdge {
  /** `from` depends on `to` (as `terraform graph`: the arrow points at the dependency). */
  from: string;
  to: string;
}

export interface GraphModel {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One stack's compose services, merged across its files (later files override a service's keys). */
export function composeServices(docs: unknown[], o: { profiles: string[]; only: string[] | null }): Record<string, Obj> {
  const merged: Record<string, Obj> = {};
  for (const d of docs) {
    if (!isObj(d) || !isObj(d.services)) continue;
    for (const [name, svc] of Object.entries(d.services)) if (isObj(svc)) merged[name] = { ...(merged[name] ?? {}), ...svc };
  }
  const active = Object.entries(merged).filter(([name, s]) => {
    if (o.only) return o.only.includes(name);
    const p = Array.isArray(s.profiles) ? s.profiles.map(String) : [];
    return !p.length || p.some((x) => o.profiles.includes(x));
  });
  return Object.fromEntries(active);
}

function dependsOnOf(svc: Obj): string[] {
  const d = svc.depends_on;
  if (Array.isArray(d)) return d.map(String);
  if (isObj(d)) return Object.keys(d);
  return [];
}

export interface GraphInput {
  resources: { address: string; dependsOn: string[]; unsatisfied?: string }[];
  /** Stack address → its active compose services (from composeServices). */
  services: Map<string, Record<string, Obj>>;
  /** Address → state and reason (the plan, or the last known status). */
  states: Map<string, { state: NodeState; reason?: string }>;
}

export function buildGraphModel(i: GraphInput): GraphModel {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const present = new Set(i.resources.map((r) => r.address));
  for (const r of i.resources) {
    const s = i.states.get(r.address);
    nodes.push({ id: r.address, label: r.address, type: 'resource', state: s?.state ?? 'unknown', ...(s?.reason || r.unsatisfied ? { reason: s?.reason ?? r.unsatisfied } : {}) });
    for (const d of r.dependsOn) if (present.has(d)) edges.push({ from: r.address, to: d });
    const services = i.services.get(r.address);
    if (!services) continue;
    for (const [name, svc] of Object.entries(services)) {
      const id = `${r.address}/${name}`;
      const need = gpuNeed(svc);
      const ss = i.states.get(id) ?? s;
      nodes.push({ id, label: name, type: 'service', parent: r.address, state: ss?.state ?? 'unknown', ...(need ? { gpu: need.why } : {}) });
      for (const d of dependsOnOf(svc)) if (services[d]) edges.push({ from: id, to: `${r.address}/${d}` });
    }
  }
  return { nodes, edges };
}
