// Applying models.<name>: download and verify a model file, or pull / load / unload / delete an Ollama
// model through its REST API, with progress lines.
import type { RunContext, Target } from '../../core/kind.js';
import { ownedAfter } from '../../core/ownership.js';
import type { ApplyResult, PlanResult } from '../../core/types.js';
import { digestMatches } from '../../providers/models/digest.js';
import type { FileModelState } from '../../providers/models/model-file.js';
import { formatBytes } from '../../providers/models/transfer-progress.js';
import { digestOk } from './plan.js';
import { shortDigest, type FileModelSpec, type ModelActual, type ModelSpec, type OllamaModelSpec, type OllamaModelState } from './spec.js';

export async function applyModel(ctx: RunContext, t: Target<ModelSpec>, actual: ModelActual, planned: PlanResult): Promise<ApplyResult> {
  const { Progress } = await import('../../providers/models/transfer-progress.js');
  const log = (line: string) => ctx.log(t.address, line);
  if (actual.provider === 'file') {
    const { downloadFile, removeModelFile } = await import('../../providers/models/model-file.js');
    if (planned.action === 'delete') {
      await removeModelFile(actual.path, (t.prior?.data as FileModelState | undefined)?.sha256);
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
        owned: ownedAfter(t.prior, planned.action === 'create'),
        digest: ctx.digest(`${spec.path}\n${spec.sha256}`),
        data: { provider: 'file', path: spec.path, url: spec.url, sha256: spec.sha256, size: r.size, mtimeMs: r.mtimeMs } satisfies FileModelState,
      },
    };
  }

  const { OllamaClient, sameModel } = await import('../../providers/models/ollama.js');
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
    if (spec.digest && !digestMatches(now.digest, spec.digest)) {
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
      owned: ownedAfter(t.prior, planned.action === 'create' && pulled),
      digest: ctx.digest(`${spec.model}\n${digest ?? ''}`),
      data: { provider: 'ollama', model: spec.model, host: actual.host, digest } satisfies OllamaModelState,
    },
  };
}
