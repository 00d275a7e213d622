// The download budget (pure): what apply will fetch and the disk it needs against what is free; and two
// file models writing one path. Both feed the kind's finalize (the plan's summary line).
import type { Target } from '../../core/kind.js';
import type { Diagnostic, PlanResult } from '../../core/types.js';
import type { DiskInfo } from '../../providers/models/model-file.js';
import { formatBytes } from '../../providers/models/transfer-progress.js';
import { digestOk } from './plan.js';
import type { ModelActual, ModelSpec } from './spec.js';

export interface Download {
  address: string;
  /** Bytes to fetch, or null when unknown. */
  bytes: number | null;
  disk: DiskInfo | null;
}

/** What apply would download for one planned change. */
export function downloadOf(t: Target<ModelSpec>, actual: ModelActual, result: PlanResult): Download | null {
  if (result.action !== 'create' && result.action !== 'update') return null;
  if (result.diagnostics?.some((d) => d.severity === 'error')) return null;
  const spec = t.desired?.spec;
  if (!spec) return null;
  if (spec.provider === 'file' && actual.provider === 'file') {
    const total = spec.size ?? actual.remoteSize;
    return { address: t.address, bytes: total === null ? null : Math.max(0, total - actual.partial), disk: actual.volatile.disk };
  }
  if (spec.provider === 'ollama' && actual.provider === 'ollama') {
    const pulls = !actual.present || !digestOk(actual, spec);
    if (!pulls || spec.state === 'unloaded') return null;
    return { address: t.address, bytes: spec.size, disk: actual.volatile.disk };
  }
  return null;
}

/** Downloads + disk check, e.g. `Downloads: 19.8 GB; disk: needs 20.1 GB, 51.0 GB free`. Headroom: 1%. */
export function budget(downloads: Download[]): { summary?: string; diagnostics: Diagnostic[] } {
  if (!downloads.length) return { diagnostics: [] };
  const known = downloads.filter((d) => d.bytes !== null);
  const unknown = downloads.length - known.length;
  const total = known.reduce((s, d) => s + d.bytes!, 0);
  const parts = [`Downloads: ${known.length ? `${formatBytes(total)}${unknown ? ` (+ ${unknown} of unknown size)` : ''}` : `${unknown} of unknown size`}`];
  const byDev = new Map<number, { disk: DiskInfo; bytes: number; who: string[] }>();
  for (const d of known) {
    if (!d.disk) continue;
    const e = byDev.get(d.disk.dev) ?? { disk: d.disk, bytes: 0, who: [] };
    e.bytes += d.bytes!;
    e.who.push(`${d.address} ${formatBytes(d.bytes!)}`);
    byDev.set(d.disk.dev, e);
  }
  const diagnostics: Diagnostic[] = [];
  const many = byDev.size > 1;
  for (const e of byDev.values()) {
    const needs = Math.ceil(e.bytes * 1.01);
    parts.push(`disk: needs ${formatBytes(needs)}, ${formatBytes(e.disk.free)} free${many ? ` on ${e.disk.dir}` : ''}`);
    if (needs > e.disk.free) {
      diagnostics.push({
        severity: 'error',
        summary: `not enough disk space in ${e.disk.dir}: the downloads need ${formatBytes(needs)} (with 1% headroom), ${formatBytes(e.disk.free)} is free`,
        detail: `${e.who.join('\n')}\nFree some space, or put model files elsewhere (models.<name>.path / OLLAMA_MODELS).`,
      });
    }
  }
  return { summary: parts.join('; '), diagnostics };
}

/** Two file models writing one path would overwrite each other: an error on the later ones. */
export function samePath(targets: Target<ModelSpec>[]): Diagnostic[] {
  const first = new Map<string, string>();
  const out: Diagnostic[] = [];
  for (const t of targets) {
    const spec = t.desired?.spec;
    if (spec?.provider !== 'file' || spec.state === 'absent') continue;
    const prev = first.get(spec.path);
    if (prev) out.push({ severity: 'error', address: t.address, summary: `${t.address} and ${prev} both write ${spec.path}; give one of them another path` });
    else first.set(spec.path, t.address);
  }
  return out;
}
