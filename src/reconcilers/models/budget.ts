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

/** What the runtime budget needs of one runtime (runtimes.<name>, src/reconcilers/runtimes/). */
export interface RuntimeNeeds {
  address: string;
  up: boolean;
  port: number;
  image: string | null;
  /** Approximate download size when the image is not on this machine yet and the table knows it. */
  image_bytes: number | null;
  image_present: boolean;
  vram_gb: number | null;
  vram_total_gb: number | null;
}

/**
 * The runtimes' budget: ports (two runtimes on one port is an error), images to pull (sizes where
 * known), VRAM of the GPU runtimes against the detected GPU memory (more than fits is an error).
 * E.g. `Runtimes: 2 on 127.0.0.1:18431, 18432; images: ~2.6 GB to pull; VRAM: 6.1 GB of 24 GB`.
 */
export function runtimeBudget(rs: RuntimeNeeds[]): { summary?: string; diagnostics: Diagnostic[] } {
  const up = rs.filter((r) => r.up);
  if (!up.length) return { diagnostics: [] };
  const diagnostics: Diagnostic[] = [];
  const byPort = new Map<number, string>();
  for (const r of up) {
    const prev = byPort.get(r.port);
    if (prev) diagnostics.push({ severity: 'error', address: r.address, summary: `port 127.0.0.1:${r.port} is also ${prev}'s: two runtimes cannot listen on one port; give one of them another port (models.<name>.port)` });
    else byPort.set(r.port, r.address);
  }
  const parts = [`Runtimes: ${up.length} on 127.0.0.1:${[...byPort.keys()].sort((a, b) => a - b).join(', ')}`];
  const pulls = up.filter((r) => r.image && !r.image_present);
  if (pulls.length) {
    const known = pulls.filter((r) => r.image_bytes !== null).reduce((s, r) => s + r.image_bytes!, 0);
    const unknown = pulls.filter((r) => r.image_bytes === null).length;
    parts.push(`images: ${known ? `~${formatBytes(known)} to pull` : ''}${known && unknown ? ' + ' : ''}${unknown ? `${unknown} of unknown size` : ''}`);
  }
  const gpu = up.filter((r) => r.vram_gb !== null);
  if (gpu.length) {
    const need = Math.round(gpu.reduce((s, r) => s + r.vram_gb!, 0) * 10) / 10;
    const t0 = gpu[0]!.vram_total_gb;
    const total = t0 === null ? null : Math.round(t0 * 10) / 10;
    parts.push(`VRAM: ${need} GB${total !== null ? ` of ${total} GB` : ' (GPU memory unknown)'}`);
    if (total !== null && need > total) {
      diagnostics.push({
        severity: 'error',
        summary: `the runtimes need ${need} GB of VRAM together, the GPU has ${total} GB`,
        detail: `${gpu.map((r) => `${r.address} ${r.vram_gb} GB`).join('\n')}\nServe fewer models at once (models stop NAME), pick smaller files, or set vram: where the estimate is high.`,
      });
    }
  }
  return { summary: parts.join('; '), diagnostics };
}
