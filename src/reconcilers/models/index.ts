// models.<name>: an Ollama model (pulled, loaded, unloaded, deleted through Ollama's REST API) or a model
// file (downloaded over HTTP(S), resumed, sha256 verified). The plan's summary line carries the download
// budget: what apply will fetch and the disk it needs against what is free (finalize).
// The kind is assembled here from spec.ts (shapes, normalize), read.ts, plan.ts (pure), budget.ts
// (pure, finalize) and apply.ts.
import path from 'node:path';
import type { Kind } from '../../core/kind.js';
import { clip, notARegularFile } from '../../core/fs.js';
import { targetProblem } from '../../core/ownership.js';
import type { Diagnostic, Resource } from '../../core/types.js';
import { formatBytes } from '../../providers/models/transfer-progress.js';
import { applyModel } from './apply.js';
import { budget, downloadOf, samePath, type Download } from './budget.js';
import { planFile, planOllama } from './plan.js';
import { readOne } from './read.js';
import type { FileModelState } from '../../providers/models/model-file.js';
import { normalizeModel, SERVE_KEYS, type ModelActual, type ModelSpec, type OllamaModelState } from './spec.js';

export { budget, samePath } from './budget.js';
export type { FileModelSpec, ModelActual, ModelSpec, ModelState, OllamaModelActual } from './spec.js';

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
      const summary =
        k === 'runtime'
          ? r.spec.provider === 'file'
            ? `${r.address}.runtime: ollama serves only provider: ollama models; a model file is served by whisper.cpp, llama.cpp, vllm or trt-llm`
            : `${r.address}.runtime: an Ollama model is served by Ollama; whisper.cpp, llama.cpp, vllm and trt-llm serve a model file (provider: file with url and sha256)`
          : SERVE_KEYS.includes(k)
            ? `${r.address}.${k}: a runtime option: only with runtime: whisper.cpp | llama.cpp | vllm | trt-llm on a provider: file model`
            : `${r.address}.${k}: only for provider: ${other} (this model has provider: ${r.spec.provider})`;
      out.push({ severity: 'error', address: r.address, summary, location: ctx.locate(r.address, [k]) });
    }
    if (r.spec.provider === 'file') {
      // the one takeover rule: never inside $PMOVES_HOME (but its models/ folder, the default place)
      const problem = await targetProblem(ctx.home.root, r.spec.path, [path.join(ctx.home.root, 'models')]);
      const odd = problem ? null : await notARegularFile(r.spec.path);
      if (problem || odd) out.push({ severity: 'error', address: r.address, summary: `${r.address}.path: ${problem ?? `${clip(r.spec.path)} ${odd}`}`, location: ctx.locate(r.address, ['path']) });
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

  // Before apply touches anything: which provider and which file or model this resource is about to
  // make. A killed download then removes its own file and `.partial`, and never becomes an Ollama model.
  intent(t) {
    const s = t.desired?.spec;
    if (!s) return t.prior?.data;
    if (s.provider === 'file') return { provider: 'file', path: s.path, url: s.url, sha256: s.sha256, size: s.size ?? -1, mtimeMs: -1 } satisfies FileModelState;
    const prior = t.prior?.data as OllamaModelState | undefined;
    return { provider: 'ollama', model: s.model, host: prior?.host ?? '', digest: prior?.digest ?? null } satisfies OllamaModelState;
  },

  plan(t, actual, ctx) {
    // A write-ahead entry of an older version names nothing (no provider, no file, no model): what that
    // apply was making is unknown, so nothing outside is touched; the entry is dropped.
    if (!t.desired && t.prior?.pending && t.prior.data === undefined) {
      return { action: 'no-op', reason: 'an interrupted apply left no record of what it was making, so nothing is removed', before: null, after: null };
    }
    return actual.provider === 'ollama' ? planOllama(t, actual, ctx) : planFile(t, actual, ctx);
  },

  apply: (ctx, t, actual, planned) => applyModel(ctx, t, actual, planned),

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
