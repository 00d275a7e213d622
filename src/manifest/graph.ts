// Apply order: explicit depends_on edges, plus the implicit order between kinds (secrets → stacks →
// models → mcp). Implicit order only schedules (a stack waits for the secrets to finish); a failure
// stops only the resources that depend on the failed one explicitly.
import type { Resource } from '../core/types.js';

export interface Graph {
  /** address → addresses it waits for (explicit ∪ implicit), all present in the graph. */
  waitsFor: Map<string, Set<string>>;
  /** address → explicit dependencies (direct). */
  deps: Map<string, string[]>;
}

/** Cycles in explicit depends_on, each as a list of addresses ending where it started. */
export function findCycles(resources: Resource[]): string[][] {
  const deps = new Map(resources.map((r) => [r.address, r.dependsOn] as const));
  const color = new Map<string, 0 | 1 | 2>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (a: string) => {
    color.set(a, 1);
    stack.push(a);
    for (const d of deps.get(a) ?? []) {
      if (!deps.has(d) || d === a) continue; // unknown and self references are reported on their own
      const c = color.get(d) ?? 0;
      if (c === 1) cycles.push([...stack.slice(stack.indexOf(d)), d]);
      else if (c === 0) visit(d);
    }
    stack.pop();
    color.set(a, 2);
  };
  for (const r of resources) if (!color.get(r.address)) visit(r.address);
  return cycles;
}

/** The addresses in `targets` plus everything they depend on, transitively. */
export function withDependencies(resources: Resource[], targets: string[]): Set<string> {
  const deps = new Map(resources.map((r) => [r.address, r.dependsOn] as const));
  const out = new Set<string>();
  const add = (a: string) => {
    if (out.has(a)) return;
    out.add(a);
    for (const d of deps.get(a) ?? []) add(d);
  };
  for (const t of targets) add(t);
  return out;
}

export function buildGraph(items: { address: string; dependsOn: string[]; order: number }[]): Graph {
  const present = new Set(items.map((i) => i.address));
  const deps = new Map(items.map((i) => [i.address, i.dependsOn.filter((d) => present.has(d))] as const));
  // transitive explicit dependencies, memoised (the explicit graph is acyclic once validated)
  const trans = new Map<string, Set<string>>();
  const closure = (a: string): Set<string> => {
    let s = trans.get(a);
    if (s) return s;
    s = new Set();
    trans.set(a, s);
    for (const d of deps.get(a) ?? []) {
      s.add(d);
      for (const x of closure(d)) s.add(x);
    }
    return s;
  };
  const byOrder = [...new Set(items.map((i) => i.order))].sort((a, b) => a - b);
  const waitsFor = new Map<string, Set<string>>();
  for (const it of items) {
    const w = new Set(deps.get(it.address));
    for (const o of byOrder) {
      if (o >= it.order) break;
      for (const other of items) {
        // wait for an earlier kind unless that resource (transitively) waits for this one
        if (other.order === o && !closure(other.address).has(it.address)) w.add(other.address);
      }
    }
    waitsFor.set(it.address, w);
  }
  return { waitsFor, deps };
}
