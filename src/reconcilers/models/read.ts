// Reading models.<name>: one /api/tags + /api/ps for every Ollama model, one stat (and hash, when it
// changed) per model file; free disk only where a download may be needed.
import path from 'node:path';
import type { RunContext, Target } from '../../core/kind.js';
import { digestMatches } from '../../providers/models/digest.js';
import type { DiskInfo, FileModelState } from '../../providers/models/model-file.js';
import type { FileModelSpec, ModelActual, ModelSpec, ModelStateData, OllamaModelSpec, OllamaModelState } from './spec.js';

export async function readOne(ctx: RunContext, targets: Target<ModelSpec>[]): Promise<Map<string, ModelActual | Error>> {
  const { OllamaClient, ollamaBaseUrl, isLocalOllama, ollamaModelsDir, sameModel } = await import('../../providers/models/ollama.js');
  const { readModelFile, diskFor } = await import('../../providers/models/model-file.js');
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
          const mayPull = !error && spec && spec.state !== 'absent' && (!present || (spec.digest && !digestMatches(present.digest, spec.digest)));
          if (mayPull && disk === undefined) disk = isLocalOllama(base) ? await diskFor(ollamaModelsDir(ctx.env)) : null;
          out.set(t.address, {
            provider: 'ollama',
            host: base,
            error,
            present,
            loaded: l ? { size_vram: l.size_vram ?? null } : null,
            volatile: { disk: mayPull ? (disk ?? null) : null },
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
              size: spec ? spec.size : prior!.size >= 0 ? prior!.size : null,
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
