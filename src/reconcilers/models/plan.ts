// Planning models.<name> (pure), per provider; the removal rule is shared by both.
import type { PlanContext, Target } from '../../core/kind.js';
import { isOwned } from '../../core/ownership.js';
import type { PlanResult } from '../../core/types.js';
import type { FileModelActual, FileModelState } from '../../providers/models/model-file.js';
import { digestMatches } from '../../providers/models/digest.js';
import { formatBytes } from '../../providers/models/transfer-progress.js';
import { shortDigest, type FileModelSpec, type ModelSpec, type OllamaModelActual, type OllamaModelSpec, type OllamaModelState } from './spec.js';

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
    if (w.present && isOwned(t.prior)) return remove(`it is no longer in the manifest and this tool ${w.fetched} it`);
    return { action: 'no-op', reason: 'not declared any more', before: w.before, after: w.before };
  }
  if (spec.state !== 'absent') return undefined;
  if (!w.present) return { action: 'no-op', reason: 'absent', before: null, after: null };
  if (isOwned(t.prior)) return remove(`the manifest says absent and this tool ${w.fetched} it`);
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

export function planOllama(t: Target<ModelSpec>, a: OllamaModelActual, ctx: PlanContext): PlanResult {
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
  // An apply killed mid-pull left only its write-ahead entry: Ollama may have finished the pull on its
  // own. Record it, so that removing it from the manifest still deletes it.
  if (t.prior?.pending) return { action: 'update', reason: 'an interrupted apply pulled it without recording it', before, after: before, verb: 'recorded' };
  return { action: 'no-op', reason: a.loaded ? 'present and loaded' : 'present', before, after: before };
}

export function digestOk(a: OllamaModelActual, spec: OllamaModelSpec): boolean {
  if (!spec.digest || !a.present) return true;
  return digestMatches(a.present.digest, spec.digest);
}

export function planFile(t: Target<ModelSpec>, a: FileModelActual, ctx: PlanContext): PlanResult {
  const spec = t.desired?.spec as FileModelSpec | undefined;
  const prior = t.prior?.data as FileModelState | undefined;
  const before = a.exists ? { provider: 'file', path: a.path, sha256: a.sha256 ? shortDigest(a.sha256) : null, size: formatBytes(a.size ?? 0) } : null;
  // A download killed mid-way left its `.partial` (the write-ahead entry names it): it goes with the resource.
  // (Pending without bytes: killed between creating the `.partial` and its first write; removing is harmless.)
  if (!spec && !a.exists && isOwned(t.prior) && (a.partial > 0 || t.prior?.pending)) {
    const partial = { provider: 'file', path: a.path, partial: formatBytes(a.partial) };
    const left = a.partial > 0 ? `left ${formatBytes(a.partial)} of it` : 'may have left its .partial';
    return { action: 'delete', reason: `it is no longer in the manifest and an interrupted download of this tool ${left}`, before: partial, after: null };
  }
  const removal = planRemoval(t, ctx, { present: a.exists, before, fetched: 'downloaded', what: a.path });
  if (removal || !spec) return removal!;
  const total = spec.size ?? a.remoteSize ?? (prior?.sha256 === spec.sha256 ? prior.size : null);
  const after = { provider: 'file', path: spec.path, sha256: shortDigest(spec.sha256), size: total !== null ? formatBytes(total) : '(unknown)', url: spec.url };
  const resume = a.partial > 0 ? `; resumes at ${formatBytes(a.partial)}${total ? ` of ${formatBytes(total)}` : ''}` : '';
  if (!a.exists) return { action: 'create', reason: `${spec.path} does not exist${resume}`, before: null, after, verb: 'downloaded' };
  if (a.sha256 !== spec.sha256) {
    const why = a.sha256?.startsWith('size-') ? `its size ${formatBytes(a.size ?? 0)} is not the declared ${formatBytes(spec.size ?? 0)}` : `sha256 ${shortDigest(a.sha256 ?? '')} on disk is not ${shortDigest(spec.sha256)}`;
    // The takeover rule: never over a file this tool did not write, unless --force.
    if (prior?.path !== spec.path) {
      if (!force(ctx)) {
        return {
          action: 'update',
          reason: 'blocked',
          before,
          after,
          diagnostics: [{ severity: 'error', address: t.address, summary: `will not replace ${spec.path}: pmoves did not download it (${why})`, detail: 'move it away or point path elsewhere; or take it over with --force (its content is replaced)' }],
        };
      }
    }
    const takeover = prior?.path !== spec.path ? { warnings: [`will take over ${spec.path} (not created by pmoves)`] } : {};
    return { action: 'update', reason: `${why}${resume}`, before, after: { ...after }, verb: 'downloaded again', ...takeover };
  }
  return { action: 'no-op', reason: 'present, sha256 verified', before, after: before };
}
