// models.<name>: an Ollama model (pulled, loaded, unloaded, deleted through Ollama's REST API) or a model
// file (downloaded over HTTP(S), resumed, sha256 verified). The plan's summary line carries the download
// budget: what apply will fetch and the disk it needs against what is free (finalize).
import path from 'node:path';
import type { Kind, LoadContext, PlanContext, RunContext, Target } from '../core/kind.js';
import type { Diagnostic, PlanResult, Resource } from '../core/types.js';
import type { DiskInfo, FileModelActual, FileModelState } from '../providers/models/model-file.js';
import { formatBytes, parseSize } from '../providers/models/transfer-progress.js';

export type ModelState = 'present' | 'loaded' | 'absent' | 'unloaded';

export interface OllamaModelSpec {
  provider: 'ollama';
  model: string;
  /** Pinned digest (hex, possibly a prefix of at least 12), or null. */
  digest: string | null;
  /** `unloaded` is never written in a manifest: `models stop` sets it. */
  state: ModelState;
  keep_alive: string | number;
  /** Expected download size in bytes (an estimate for the budget), or null. */
  size: number | null;
  description?: string;
  /** The bundle file this resource came from (watch mode). */
  bundle_file?: string;
  /** Keys given that belong to the other provider (reported by check). */
  stray?: string[];
}

export interface FileModelSpec {
  provider: 'file';
  url: string;
  sha256: string;
  size: number | null;
  path: string;
  state: 'present' | 'absent';
  description?: string;
  bundle_file?: string;
  stray?: string[];
}

export type ModelSpec = OllamaModelSpec | FileModelSpec;

export interface OllamaModelActual {
  provider: 'ollama';
  host: string;
  /** Why Ollama could not be asked (not running, …); null when it answered. */
  error: string | null;
  present: { name: string; digest: string; size: number } | null;
  /** Loaded into memory (expires_at is left out: it moves on every use and would make saved plans stale). */
  loaded: { size_vram: number | null } | null;
  /** Free disk where a local Ollama keeps models, read only when a pull may be needed. */
  disk: DiskInfo | null;
}

export type ModelActual = OllamaModelActual | FileModelActual;

export interface OllamaModelState {
  provider: 'ollama';
  model: string;
  host: string;
  digest: string | null;
}

export type ModelStateData = OllamaModelState | FileModelState;

const OLLAMA_KEYS = ['model', 'digest', 'keep_alive'];
const FILE_KEYS = ['url', 'sha256', 'path'];

function defaultFileName(url: string, name: string): string {
  try {
    const base = path.posix.basename(new URL(url).pathname);
    return base && base !== '/' ? decodeURIComponent(base) : name;
  } catch {
    return name;
  }
}

export function normalizeModel(spec: Record<string, unknown>, name: string, ctx: LoadContext): ModelSpec {
  const size = spec.size === undefined ? null : (parseSize(spec.size) ?? null);
  const description = typeof spec.description === 'string' ? { description: spec.description } : {};
  if (spec.provider === 'file') {
    const stray = OLLAMA_KEYS.filter((k) => k in spec);
    const url = String(spec.url ?? '');
    return {
      provider: 'file',
      url,
      sha256: String(spec.sha256 ?? '').toLowerCase(),
      size,
      path: spec.path ? ctx.resolvePath(String(spec.path)) : path.join(ctx.home.root, 'models', defaultFileName(url, name)),
      state: spec.state === 'absent' ? 'absent' : 'present',
      ...description,
      ...(stray.length ? { stray } : {}),
    };
  }
  const stray = FILE_KEYS.filter((k) => k in spec);
  return {
    provider: 'ollama',
    model: String(spec.model ?? ''),
    digest: spec.digest ? String(spec.digest).toLowerCase().replace(/^sha256:/, '') : null,
    state: (spec.state as ModelState | undefined) ?? 'present',
    keep_alive: (spec.keep_alive as string | number | undefined) ?? -1,
    size,
    ...description,
    ...(stray.length ? { stray } : {}),
  };
}

export function shortDigest(d: string): string {
  const hex = d.replace(/^sha256:/, '');
  return hex.length > 12 ? `${hex.slice(0, 12)}…` : `${hex}…`;
}

// ---- plan (pure) ----------------------------------------------------------------------------------

function force(ctx: PlanContext): boolean {
  return Boolean(ctx.flags.force);
}

/**
 * The part of a model's plan that is the same for both providers: a model no longer declared, or
 * declared `absent`, is deleted only if this tool fetched it (or `--force`). Undefined when the model
 * is declared and wanted. `fetched` is the provider's word ("pulled", "downloaded"), `what` names it.
 */
function planRemoval(
  t: Target<ModelSpec>,
  ctx: PlanContext,
  w: { present: boolean; before: unknown; fetched: string; what: string; verb?: string },
): PlanResult | undefined {
  const spec = t.desired?.spec;
  const remove = (reason: string): PlanResult => ({ action: 'delete', reason, before: w.before, after: null, ...(w.verb ? { verb: w.verb } : {}) });
  if (!spec) {
    if (w.present && t.prior?.owned) return remove(`it is no longer in the manifest and this tool ${w.fetched} it`);
    return { action: 'no-op', reason: 'not declared any more', before: w.before, after: w.before };
  }
  if (spec.state !== 'absent') return undefined;
  if (!w.present) return { action: 'no-op', reason: 'absent', before: null, after: null };
  if (t.prior?.owned) return remove(`the manifest says absent and this tool ${w.fetched} it`);
  if (force(ctx)) return remove(`the manifest says absent (--force: it was not ${w.fetched} by this tool)`);
  return {
    action: 'no-op',
    reason: 'absent in the manifest, but left in place',
    before: w.before,
    after: w.before,
    // A no-op's warnings are not rendered: say it as a warning diagnostic (it does not block apply).
    diagnostics: [{ severity: 'warning', address: t.address, summary: `${w.what} is declared absent but was not ${w.fetched} by pmoves mini, so it is not deleted (apply --force deletes it)` }],
  };
}

function planOllama(t: Target<ModelSpec>, a: OllamaModelActual, ctx: PlanContext): PlanResult {
  const spec = t.desired?.spec as OllamaModelSpec | undefined;
  const prior = t.prior?.data as OllamaModelState | undefined;
  const model = spec?.model ?? prior?.model ?? t.name;
  const before = a.present
    ? { provider: 'ollama', model, state: a.loaded ? 'loaded' : 'present', digest: shortDigest(a.present.digest), size: formatBytes(a.present.size) }
    : null;
  if (a.error) {
    return {
      action: 'no-op',
      reason: 'Ollama is not reachable',
      before,
      after: before,
      diagnostics: [{ severity: 'error', address: t.address, summary: a.error, detail: `model ${model}: start Ollama (\`ollama serve\`) or point OLLAMA_HOST at it, then plan again` }],
    };
  }
  const removal = planRemoval(t, ctx, { present: Boolean(a.present), before, fetched: 'pulled', what: model, verb: 'deleted from Ollama' });
  if (removal || !spec) return removal!;
  if (spec.state === 'unloaded') {
    if (!a.present || !a.loaded) return { action: 'no-op', reason: a.present ? 'not loaded' : 'not pulled', before, after: before };
    return { action: 'update', reason: `${model} is loaded`, before, after: { ...before!, state: 'present' }, verb: 'unloaded' };
  }
  const wantState = spec.state === 'loaded' ? 'loaded' : a.loaded ? 'loaded' : 'present';
  const after = {
    provider: 'ollama',
    model: spec.model,
    state: wantState,
    digest: spec.digest ? shortDigest(spec.digest) : before?.digest ?? '(latest)',
    size: spec.size && (!before || !digestOk(a, spec)) ? `~${formatBytes(spec.size)}` : (before?.size ?? '(unknown)'),
  };
  if (!a.present) {
    return {
      action: 'create',
      reason: `${spec.model} is not in Ollama at ${a.host}`,
      before: null,
      after,
      verb: spec.state === 'loaded' ? 'pulled and loaded' : 'pulled',
    };
  }
  if (spec.digest && !digestOk(a, spec)) {
    return { action: 'update', reason: `digest ${shortDigest(a.present.digest)} -> ${shortDigest(spec.digest)}`, before, after, verb: 'pulled again' };
  }
  if (spec.state === 'loaded' && !a.loaded) return { action: 'update', reason: 'not loaded', before, after, verb: 'loaded' };
  return { action: 'no-op', reason: a.loaded ? 'present and loaded' : 'present', before, after: before };
}

function digestOk(a: OllamaModelActual, spec: OllamaModelSpec): boolean {
  if (!spec.digest || !a.present) return true;
  return a.present.digest.toLowerCase().replace(/^sha256:/, '').startsWith(spec.digest);
}

function planFile(t: Target<ModelSpec>, a: FileModelActual, ctx: PlanContext): PlanResult {
  const spec = t.desired?.spec as FileModelSpec | undefined;
  const prior = t.prior?.data as FileModelState | undefined;
  const before = a.exists ? { provider: 'file', path: a.path, sha256: a.sha256 ? shortDigest(a.sha256) : null, size: formatBytes(a.size ?? 0) } : null;
  const removal = planRemoval(t, ctx, { present: a.exists, before, fetched: 'downloaded', what: a.path });
  if (removal || !spec) return removal!;
  const total = spec.size ?? a.remoteSize ?? (prior?.sha256 === spec.sha256 ? prior.size : null);
  const after = { provider: 'file', path: spec.path, sha256: shortDigest(spec.sha256), size: total !== null ? formatBytes(total) : '(unknown)', url: spec.url };
  const resume = a.partial > 0 ? `; resumes at ${formatBytes(a.partial)}${total ? ` of ${formatBytes(total)}` : ''}` : '';
  if (!a.exists) return { action: 'create', reason: `${spec.path} does not exist${resume}`, before: null, after, verb: 'downloaded' };
  if (a.sha256 !== spec.sha256) {
    const why = a.sha256?.startsWith('size-') ? `its size ${formatBytes(a.size ?? 0)} is not the declared ${formatBytes(spec.size ?? 0)}` : `sha256 ${shortDigest(a.sha256 ?? '')} on disk is not ${shortDigest(spec.sha256)}`;
    return { action: 'update', reason: `${why}${resume}`, before, after: { ...after }, verb: 'downloaded again' };
  }
  return { action: 'no-op', reason: 'present, sha256 verified', before, after: before };
}

// ---- budget (pure) -------------------------------------------------------------------------------

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
    return { address: t.address, bytes: total === null ? null : Math.max(0, total - actual.partial), disk: actual.disk };
  }
  if (spec.provider === 'ollama' && actual.provider === 'ollama') {
    const pulls = !actual.present || !digestOk(actual, spec);
    if (!pulls || spec.state === 'unloaded') return null;
    return { address: t.address, bytes: spec.size, disk: actual.disk };
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

// ---- the kind --------------------------------------------------------------------------------------

async function readOne(ctx: RunContext, targets: Target<ModelSpec>[]): Promise<Map<string, ModelActual | Error>> {
  const { OllamaClient, ollamaBaseUrl, isLocalOllama, ollamaModelsDir, sameModel } = await import('../providers/models/ollama.js');
  const { readModelFile, diskFor } = await import('../providers/models/model-file.js');
  const out = new Map<string, ModelActual | Error>();
  const providerOf = (t: Target<ModelSpec>) => t.desired?.spec.provider ?? (t.prior?.data as ModelStateData | undefined)?.provider ?? 'ollama';
  const ollamaTargets = targets.filter((t) => providerOf(t) === 'ollama');
  const fileTargets = targets.filter((t) => providerOf(t) === 'file');
  const jobs: Promise<void>[] = [];
  if (ollamaTargets.length) {
    jobs.push(
      (async () => {
        const base = ollamaBaseUrl(ctx.env);
        const client = new OllamaClient(base, ctx.signal);
        let error: string | null = null;
        let tags: Awaited<ReturnType<typeof client.tags>> = [];
        let ps: Awaited<ReturnType<typeof client.ps>> = [];
        try {
          [tags, ps] = await Promise.all([client.tags(), client.ps()]);
        } catch (err) {
          error = (err as Error).message;
        }
        let disk: DiskInfo | null | undefined;
        for (const t of ollamaTargets) {
          const spec = t.desired?.spec as OllamaModelSpec | undefined;
          const model = spec?.model ?? (t.prior?.data as OllamaModelState | undefined)?.model ?? t.name;
          const p = tags.find((m) => sameModel(m.name, model) || (m.model !== undefined && sameModel(m.model, model)));
          const l = ps.find((m) => sameModel(m.name, model) || (m.model !== undefined && sameModel(m.model, model)));
          const present = p ? { name: p.name, digest: p.digest, size: p.size } : null;
          const mayPull = !error && spec && spec.state !== 'absent' && (!present || (spec.digest && !present.digest.toLowerCase().startsWith(spec.digest)));
          if (mayPull && disk === undefined) disk = isLocalOllama(base) ? await diskFor(ollamaModelsDir(ctx.env)) : null;
          out.set(t.address, {
            provider: 'ollama',
            host: base,
            error,
            present,
            loaded: l ? { size_vram: l.size_vram ?? null } : null,
            disk: mayPull ? (disk ?? null) : null,
          });
        }
      })(),
    );
  }
  for (const t of fileTargets) {
    jobs.push(
      (async () => {
        const spec = t.desired?.spec as FileModelSpec | undefined;
        const prior = t.prior?.data as FileModelState | undefined;
        try {
          out.set(
            t.address,
            await readModelFile({
              path: spec?.path ?? prior!.path,
              url: spec?.url ?? prior!.url,
              sha256: spec?.sha256 ?? prior!.sha256,
              size: spec ? spec.size : prior!.size,
              prior,
              signal: ctx.signal,
              cacheDir: path.join(ctx.home.root, 'cache', 'sha256'),
            }),
          );
        } catch (err) {
          out.set(t.address, err as Error);
        }
      })(),
    );
  }
  await Promise.all(jobs);
  return out;
}

export const modelsKind: Kind<ModelSpec, ModelActual> = {
  section: 'models',
  order: 30,
  schema: 'models.schema.json',

  normalize: (spec, name, ctx) => normalizeModel(spec as Record<string, unknown>, name, ctx),

  inputs: (r) => (r.spec.bundle_file ? [r.spec.bundle_file] : []),

  async check(r: Resource<ModelSpec>, ctx) {
    const out: Diagnostic[] = [];
    for (const k of r.spec.stray ?? []) {
      const other = r.spec.provider === 'file' ? 'ollama' : 'file';
      out.push({ severity: 'error', address: r.address, summary: `${r.address}.${k}: only for provider: ${other} (this model has provider: ${r.spec.provider})`, location: ctx.locate(r.address, [k]) });
    }
    if (r.spec.provider === 'file' && !/^https?:\/\//.test(r.spec.url)) {
      out.push({ severity: 'error', address: r.address, summary: `${r.address}.url: expected an http:// or https:// URL, got "${r.spec.url}"`, location: ctx.locate(r.address, ['url']) });
    }
    return out;
  },

  readAll: readOne,

  async read(ctx, t) {
    const r = (await readOne(ctx, [t])).get(t.address);
    if (r instanceof Error) throw r;
    if (!r) throw new Error('no result');
    return r;
  },

  plan(t, actual, ctx) {
    return actual.provider === 'ollama' ? planOllama(t, actual, ctx) : planFile(t, actual, ctx);
  },

  async apply(ctx, t, actual, planned) {
    const { Progress } = await import('../providers/models/transfer-progress.js');
    const log = (line: string) => ctx.log(t.address, line);
    if (actual.provider === 'file') {
      const { downloadFile, removeModelFile } = await import('../providers/models/model-file.js');
      if (planned.action === 'delete') {
        await removeModelFile(actual.path);
        return { outcome: 'deleted', state: null };
      }
      const spec = t.desired!.spec as FileModelSpec;
      log(`downloading ${spec.url} -> ${spec.path}`);
      const r = await downloadFile({
        url: spec.url,
        dest: spec.path,
        sha256: spec.sha256,
        size: spec.size ?? actual.remoteSize,
        signal: ctx.signal,
        progress: new Progress({ tty: ctx.tty, log }),
        note: log,
      });
      log(`sha256 verified (${shortDigest(spec.sha256)}), ${formatBytes(r.size)}${r.resumedFrom > 0 ? `, resumed from ${formatBytes(r.resumedFrom)}` : ''}`);
      return {
        outcome: planned.action === 'create' ? 'created' : 'updated',
        state: {
          section: 'models',
          owned: t.prior?.owned ?? planned.action === 'create',
          digest: ctx.digest(`${spec.path}\n${spec.sha256}`),
          data: { provider: 'file', path: spec.path, url: spec.url, sha256: spec.sha256, size: r.size, mtimeMs: r.mtimeMs } satisfies FileModelState,
        },
      };
    }

    const { OllamaClient, sameModel } = await import('../providers/models/ollama.js');
    const client = new OllamaClient(actual.host, ctx.signal);
    if (actual.error) throw new Error(actual.error);
    if (planned.action === 'delete') {
      const name = actual.present?.name ?? (t.prior?.data as OllamaModelState).model;
      if (actual.loaded) await client.generate(name, 0).catch(() => undefined);
      await client.delete(name);
      log(`deleted ${name}`);
      return { outcome: 'deleted', state: null };
    }
    const spec = t.desired!.spec as OllamaModelSpec;
    let digest = actual.present?.digest ?? null;
    let pulled = false;
    if (spec.state !== 'unloaded' && (!actual.present || !digestOk(actual, spec))) {
      log(`pulling ${spec.model} from ${actual.host}`);
      // One progress reporter per layer, as Ollama's own CLI shows them: `pulling 8934d96d3f08: 1.2 GB of 4.7 GB`.
      const layers = new Map<string, InstanceType<typeof Progress>>();
      let lastStatus = '';
      await client.pull(spec.model, (p) => {
        if (p.digest && p.total) {
          const short = p.digest.replace(/^sha256:/, '').slice(0, 12);
          let pr = layers.get(short);
          if (!pr) layers.set(short, (pr = new Progress({ tty: ctx.tty, log })));
          pr.update(p.completed ?? 0, p.total, `pulling ${short}`, p.completed === p.total);
        } else if (p.status && p.status !== lastStatus) {
          lastStatus = p.status;
          log(p.status);
        }
      });
      pulled = true;
      const now = (await client.tags()).find((m) => sameModel(m.name, spec.model));
      if (!now) throw new Error(`Ollama reported success, but ${spec.model} is not in /api/tags`);
      digest = now.digest;
      if (spec.digest && !now.digest.toLowerCase().startsWith(spec.digest)) {
        throw new Error(`pulled ${spec.model}, but its digest is ${shortDigest(now.digest)} and the manifest pins ${shortDigest(spec.digest)} (the registry's tag moved; pin the new digest or use a tag that has it)`);
      }
      log(`pulled ${spec.model} (digest ${shortDigest(now.digest)}, ${formatBytes(now.size)})`);
    }
    if (spec.state === 'loaded') {
      await client.generate(spec.model, spec.keep_alive);
      log(`loaded ${spec.model} (keep_alive ${JSON.stringify(spec.keep_alive)})`);
    } else if (spec.state === 'unloaded') {
      await client.generate(spec.model, 0);
      log(`unloaded ${spec.model}`);
    }
    return {
      outcome: planned.action === 'create' ? 'created' : 'updated',
      state: {
        section: 'models',
        owned: t.prior?.owned ?? (planned.action === 'create' && pulled),
        digest: ctx.digest(`${spec.model}\n${digest ?? ''}`),
        data: { provider: 'ollama', model: spec.model, host: actual.host, digest } satisfies OllamaModelState,
      },
    };
  },

  finalize(planned) {
    const downloads = planned.map((p) => downloadOf(p.target, p.actual, p.result)).filter((d): d is Download => d !== null);
    const b = budget(downloads);
    return { summary: b.summary ? [b.summary] : [], diagnostics: [...samePath(planned.map((p) => p.target)), ...b.diagnostics] };
  },

  describe(_t, a) {
    if (a.provider === 'ollama') {
      if (a.error) return ['Ollama not reachable'];
      if (!a.present) return ['not pulled'];
      const out = [`${a.present.name} ${formatBytes(a.present.size)}`];
      if (a.loaded) out.push(`loaded${a.loaded.size_vram ? ` (${formatBytes(a.loaded.size_vram)} VRAM)` : ''}`);
      return out;
    }
    return a.exists ? [`${formatBytes(a.size ?? 0)}`] : [];
  },
};
