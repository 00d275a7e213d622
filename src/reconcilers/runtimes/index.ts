// runtimes.<name>: the server of a model file (`runtime: whisper.cpp | llama.cpp | vllm | trt-llm` on
// models.<name>), run as a compose project the tool owns and reconciled through the stacks machinery;
// ready when its own API answers with the model. Resources come from the expander (expand.ts), never
// from a manifest section. Assembled from spec.ts, compose.ts (pure), read.ts, plan.ts (pure), apply.ts.
import type { Kind } from '../../core/kind.js';
import { readinessWords } from '../../providers/models/runtime-api.js';
import { runtimeBudget, type RuntimeNeeds } from '../models/budget.js';
import { applyRuntime } from './apply.js';
import { planRuntime } from './plan.js';
import { readRuntimes } from './read.js';
import { SERVICE, type RuntimeActual, type RuntimeSpec } from './spec.js';

export { runtimesExpander } from './expand.js';
export type { RuntimeActual, RuntimeSpec } from './spec.js';

export const runtimesKind: Kind<RuntimeSpec, RuntimeActual> = {
  section: 'runtimes',
  order: 35,
  schema: 'runtimes.schema.json',

  normalize: (spec) => spec as RuntimeSpec,

  inputs: (r) => [r.spec.file],

  readAll: readRuntimes,

  async read(ctx, t) {
    const r = (await readRuntimes(ctx, [t])).get(t.address);
    if (r instanceof Error) throw r;
    if (!r) throw new Error('no result');
    return r;
  },

  plan: planRuntime,

  apply: applyRuntime,

  finalize(planned) {
    const needs: RuntimeNeeds[] = planned
      .filter((p) => p.target.desired)
      .map(({ target, actual }) => {
        const s = target.desired!.spec;
        return {
          address: target.address,
          up: s.state === 'up',
          port: s.port,
          image: s.image,
          image_bytes: s.image_bytes,
          image_present: Boolean(actual.stack.desired?.services[SERVICE]?.image_id),
          vram_gb: s.vram_gb,
          vram_total_gb: s.vram_total_gb,
        };
      });
    const b = runtimeBudget(needs);
    return { summary: b.summary ? [b.summary] : [], diagnostics: b.diagnostics };
  },

  describe(t, a) {
    const s = t.desired?.spec;
    // The plan's reason already says `ready` / `starting` / `failed: …`; a stopped server says `down`.
    return [`${s?.runtime ?? 'runtime'} ${s?.image ?? ''}`.trim(), ...(a.volatile.readiness ? [] : [readinessWords(null)])];
  },
};
