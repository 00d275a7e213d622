// Printing a GraphModel: Graphviz DOT, Mermaid, JSON, and SVG (DOT laid out in-process by
// @viz-js/viz, Graphviz compiled to WebAssembly: no system Graphviz). A node's fill colour is its state.
import type { GraphModel, NodeState } from './graph-model.js';

/** Fill colour per state; the page and the legend use the same words. */
export const STATE_COLOURS: Record<NodeState, string> = {
  create: '#c8f0c8',
  update: '#ffe8a3',
  replace: '#ffd08a',
  delete: '#f7b9b9',
  'no-op': '#e6f2e6',
  ok: '#bfe3bf',
  applied: '#e6f2e6',
  failed: '#f28b8b',
  error: '#f28b8b',
  skipped: '#f2c4a0',
  conflict: '#f5b26b',
  unknown: '#e2e2e2',
};

const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, ' ')}"`;

export function toDot(g: GraphModel): string {
  const out = ['digraph pmoves {', '  rankdir=LR;', '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];', '  edge [color="#555555"];'];
  const line = (n: GraphModel['nodes'][number], indent: string) => {
    const label = `${n.label}${n.gpu ? ' [GPU]' : ''}\\n${n.state}`;
    const attrs = [`label=${q(label).replace(/\\\\n/g, '\\n')}`, `fillcolor=${q(STATE_COLOURS[n.state])}`, `tooltip=${q(n.reason ? `${n.id}: ${n.reason}` : n.id)}`];
    if (n.gpu) attrs.push('penwidth=2', 'color="#6a3d9a"');
    return `${indent}${q(n.id)} [${attrs.join(', ')}];`;
  };
  const children = new Map<string, GraphModel['nodes']>();
  for (const n of g.nodes) if (n.parent) children.set(n.parent, [...(children.get(n.parent) ?? []), n]);
  let cluster = 0;
  for (const n of g.nodes) {
    if (n.parent) continue;
    const kids = children.get(n.id);
    if (!kids) {
      out.push(line(n, '  '));
      continue;
    }
    out.push(`  subgraph cluster_${cluster++} {`, `    label=${q(n.id)};`, '    style="rounded,dashed";', line(n, '    '));
    for (const k of kids) out.push(line(k, '    '));
    out.push('  }');
  }
  for (const e of g.edges) out.push(`  ${q(e.from)} -> ${q(e.to)};`);
  out.push('}');
  return out.join('\n') + '\n';
}

export function toMermaid(g: GraphModel): string {
  const ids = new Map(g.nodes.map((n, i) => [n.id, `n${i}`] as const));
  const text = (s: string) => s.replace(/"/g, '#quot;');
  const out = ['flowchart LR'];
  const node = (n: GraphModel['nodes'][number]) => `${ids.get(n.id)}["${text(n.label)}${n.gpu ? ' [GPU]' : ''}<br/>${n.state}"]:::${n.state.replace('-', '')}`;
  for (const n of g.nodes) {
    if (n.parent) continue;
    const kids = g.nodes.filter((k) => k.parent === n.id);
    if (!kids.length) {
      out.push(`  ${node(n)}`);
      continue;
    }
    out.push(`  subgraph ${ids.get(n.id)}_group["${text(n.id)}"]`, `    ${node(n)}`, ...kids.map((k) => `    ${node(k)}`), '  end');
  }
  for (const e of g.edges) out.push(`  ${ids.get(e.from)} --> ${ids.get(e.to)}`);
  for (const [state, colour] of Object.entries(STATE_COLOURS)) out.push(`  classDef ${state.replace('-', '')} fill:${colour},stroke:#555`);
  return out.join('\n') + '\n';
}

export function toJson(g: GraphModel): string {
  return JSON.stringify({ format_version: '1.0', nodes: g.nodes, edges: g.edges }, null, 2) + '\n';
}

/** The same, in a child process that exits after it (a daemon keeps none of Graphviz's memory). The
 *  worker is its own file in dist/src/ui/ in both builds (tsc's and the bundle's). */
export async function toSvgInWorker(g: GraphModel): Promise<string> {
  const { runChild } = await import('../core/child.js');
  const { fileURLToPath } = await import('node:url');
  const r = await runChild(process.execPath, [fileURLToPath(new URL('../ui/svg-worker.js', import.meta.url))], { input: toDot(g), timeoutMs: 60_000 });
  if (r.exitCode !== 0) throw new Error(`graph layout failed (${r.killed ?? r.spawnError?.code ?? r.exitCode}): ${r.stderr.trim().split('\n').pop() ?? ''}`);
  return r.stdout;
}

/** SVG of the DOT text, laid out by Graphviz (WebAssembly) in this process. */
export async function toSvg(g: GraphModel): Promise<string> {
  const { instance } = await import('@viz-js/viz');
  const viz = await instance();
  return viz.renderString(toDot(g), { format: 'svg', engine: 'dot' });
}
