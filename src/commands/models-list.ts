// `models list`: one row per declared model — declared state vs what is present and loaded, with sizes.
import type { Planned } from '../engine/run.js';
import type { ModelActual, ModelSpec } from '../reconcilers/models/index.js';
import { formatBytes } from '../providers/models/transfer-progress.js';
import { readinessWords } from '../providers/models/runtime-api.js';
import type { RuntimeActual, RuntimeSpec } from '../reconcilers/runtimes/index.js';

export interface ModelRow {
  address: string;
  name: string;
  provider: 'ollama' | 'file';
  /** Ollama model name, or the file's path. */
  model: string;
  declared: string;
  present: boolean | null;
  loaded: boolean | null;
  /** Bytes on disk (actual), else the declared estimate, else null. */
  size_bytes: number | null;
  size_is_estimate: boolean;
  digest: string | null;
  origin: string | null;
  /** What the next apply would do (`no-op`, `create`, …). */
  action: string | null;
  error: string | null;
  /** What serves it: `ollama`, a runtime (whisper.cpp, llama.cpp, vllm, trt-llm), or null (a file only). */
  runtime: string | null;
  image: string | null;
  port: number | null;
  /** The runtime's API: `ready`, `starting`, `failed: <reason>`, `down`; null without a runtime. */
  ready: string | null;
}

/** The runtime columns of a model: from runtimes.<name> (its spec and the API's answer). */
function runtimeOf(p: Planned, name: string, provider: 'ollama' | 'file'): Pick<ModelRow, 'runtime' | 'image' | 'port' | 'ready'> {
  const t = p.session.targets.find((x) => x.address === `runtimes.${name}` && x.desired);
  if (!t) return { runtime: provider === 'ollama' ? 'ollama' : null, image: null, port: null, ready: null };
  const s = t.desired!.spec as RuntimeSpec;
  const read = p.reads.get(t.address);
  const a = read?.ok ? (read.actual as RuntimeActual) : null;
  const blocked = p.plan.diagnostics.find((d) => d.address === t.address && d.severity === 'error');
  return { runtime: s.runtime, image: s.image, port: s.port, ready: blocked ? `failed: ${blocked.summary}` : a ? readinessWords(a.volatile.readiness) : read ? `failed: ${read.ok ? '' : read.error}` : null };
}

export function modelRows(p: Planned): ModelRow[] {
  const rows: ModelRow[] = [];
  for (const t of p.session.targets) {
    if ((t.desired?.section ?? t.prior?.section) !== 'models' || !t.desired) continue;
    const spec = t.desired.spec as ModelSpec;
    const read = p.reads.get(t.address);
    const change = p.plan.changes.find((c) => c.address === t.address);
    const errors = p.plan.diagnostics.filter((d) => d.address === t.address && d.severity === 'error').map((d) => d.summary);
    const a = read?.ok ? (read.actual as ModelActual) : null;
    if (!read?.ok && !errors.length) errors.push(read ? read.error : 'not read');
    const base = { ...runtimeOf(p, t.name, spec.provider), address: t.address, name: t.name, declared: spec.state, origin: t.desired.origin ?? null, action: change?.action ?? null, error: errors.length ? errors.join('; ') : null };
    if (spec.provider === 'ollama') {
      const oa = a?.provider === 'ollama' && !a.error ? a : null;
      rows.push({
        ...base,
        provider: 'ollama',
        model: spec.model,
        present: oa ? Boolean(oa.present) : null,
        loaded: oa ? Boolean(oa.loaded) : null,
        size_bytes: oa?.present?.size ?? spec.size,
        size_is_estimate: !oa?.present && spec.size !== null,
        digest: oa?.present?.digest ?? null,
      });
    } else {
      const fa = a?.provider === 'file' ? a : null;
      const ok = fa ? fa.exists && fa.sha256 === spec.sha256 : null;
      rows.push({
        ...base,
        provider: 'file',
        model: spec.path,
        present: ok,
        loaded: null,
        size_bytes: fa?.exists ? fa.size : spec.size ?? fa?.remoteSize ?? null,
        size_is_estimate: !fa?.exists,
        digest: fa?.sha256 && !fa.sha256.startsWith('size-') ? fa.sha256 : null,
      });
    }
  }
  return rows;
}

function yn(v: boolean | null, none = '-'): string {
  return v === null ? none : v ? 'yes' : 'no';
}

export function renderModelRows(rows: ModelRow[]): string {
  if (!rows.length) return 'No models declared.\n';
  const table = [['NAME', 'PROVIDER', 'MODEL', 'DECLARED', 'PRESENT', 'LOADED', 'SIZE', 'RUNTIME', 'IMAGE', 'PORT', 'READY', 'FROM']];
  for (const r of rows) {
    table.push([
      r.name,
      r.provider,
      r.model,
      r.declared,
      r.error ? 'error' : yn(r.present, '?'),
      r.provider === 'file' ? '-' : r.error ? '?' : yn(r.loaded),
      r.size_bytes === null ? '?' : `${r.size_is_estimate ? '~' : ''}${formatBytes(r.size_bytes)}`,
      r.runtime ?? '-',
      r.image ?? '-',
      r.port === null ? '-' : String(r.port),
      r.ready === null ? '-' : r.ready.startsWith('failed') ? 'failed' : r.ready,
      r.origin ?? 'manifest',
    ]);
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const lines = table.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
  for (const r of rows) if (r.error) lines.push(`! ${r.address}: ${r.error}`);
  for (const r of rows) if (r.ready?.startsWith('failed')) lines.push(`! runtimes.${r.name}: ${r.ready}`);
  return lines.join('\n') + '\n';
}
