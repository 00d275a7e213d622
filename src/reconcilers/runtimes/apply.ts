// Applying a runtime: the stacks machinery brings its compose project up or down; a model file replaced
// under a running server restarts it; then apply waits until the runtime's own API answers with the
// model (whisper.cpp: /health, then one /inference), up to ready_timeout.
import type { RunContext, Target } from '../../core/kind.js';
import type { ApplyResult, PlanResult } from '../../core/types.js';
import type { Readiness } from '../../providers/models/runtime-api.js';
import { applyStack } from '../stacks/apply.js';
import { dataOf, type StackData } from '../stacks/types.js';
import { fileIdentity, readiness, removeCompose, writeCompose } from './read.js';
import { SERVICE, stackTarget, type RuntimeActual, type RuntimeData, type RuntimeSpec } from './spec.js';

async function waitReady(ctx: RunContext, t: Target<RuntimeSpec>, s: RuntimeSpec): Promise<void> {
  const { projectContainers } = await import('../../providers/docker/engine.js');
  const { runtimeDef } = await import('../../providers/models/runtime-table.js');
  const { readinessWords, whisperTranscribes } = await import('../../providers/models/runtime-api.js');
  const end = Date.now() + s.ready_timeout * 1000;
  let last = '';
  for (;;) {
    let r: Readiness = await readiness(ctx, s);
    if (r.state === 'ready' && runtimeDef(s.runtime).api === 'whisper') r = await whisperTranscribes(s.port, ctx.signal);
    if (r.state === 'ready') {
      ctx.log(t.address, `ready: 127.0.0.1:${s.port} answers with ${s.served_name}`);
      return;
    }
    const cs = await projectContainers(ctx.env, s.project);
    const dead = cs.find((c) => c.state !== 'running' && c.state !== 'restarting');
    if (dead || !cs.length) throw new Error(`failed: the ${s.runtime} server ${dead ? `is ${dead.state}${dead.exit_code !== null ? ` (exit ${dead.exit_code})` : ''}` : 'has no container'} (docker logs ${dead?.name ?? s.project})`);
    const words = readinessWords(r);
    if (words !== last) ctx.log(t.address, r.state === 'starting' ? `starting (${r.reason})` : words);
    last = words;
    if (r.state === 'failed' || Date.now() > end) throw new Error(r.state === 'failed' ? `failed: ${r.reason}` : `failed: not ready after ${s.ready_timeout}s: ${r.reason}`);
    if (ctx.signal.aborted) throw new Error('cancelled');
    await new Promise((res) => setTimeout(res, 500));
  }
}

export async function applyRuntime(ctx: RunContext, t: Target<RuntimeSpec>, actual: RuntimeActual, planned: PlanResult): Promise<ApplyResult> {
  const st = stackTarget(t);
  const prior = t.prior?.data as RuntimeData | undefined;
  const spec = t.desired?.spec;
  if (!spec) {
    await applyStack(ctx, st, actual.stack, planned);
    // The generated compose file and its folder are the tool's own: nothing is left behind.
    if (prior) await removeCompose(prior.stack.files[0]!);
    return { outcome: 'deleted', state: null };
  }
  const record = (stack: StackData, file: RuntimeData['file'], owned: boolean) => ({
    section: 'runtimes',
    owned,
    digest: ctx.digest(`${spec.image}\n${spec.port}\n${spec.sha256}`),
    data: { runtime: spec.runtime, image: spec.image, port: spec.port, served_name: spec.served_name, stack, file } satisfies RuntimeData,
  });
  if (spec.state === 'down') {
    const r = await applyStack(ctx, st, actual.stack, planned);
    const stack = (r.state?.data as StackData | undefined) ?? dataOf(st)!;
    return { outcome: 'deleted', state: record(stack, null, r.state?.owned ?? Boolean(t.prior?.owned)) };
  }
  await writeCompose(spec);
  const restart = (planned.parts ?? []).some((p) => p.cause === 'model-changed');
  let stack: StackData = prior?.stack ?? dataOf(st)!;
  let owned = Boolean(t.prior?.owned);
  if (!restart) {
    const r = await applyStack(ctx, st, actual.stack, planned);
    stack = r.state!.data as StackData;
    owned = r.state!.owned;
  } else {
    const { findCompose, runCompose, composeMessage } = await import('../../providers/docker/compose.js');
    const tool = findCompose(ctx.env, spec.compose_command);
    if ('error' in tool) throw new Error(tool.error);
    // A bind mount keeps the file it was started with: a restart mounts the new one.
    const r = await runCompose(tool, stack, ['restart', SERVICE], { env: ctx.env, signal: ctx.signal, onLine: (l) => ctx.log(t.address, l) });
    if (r.exitCode !== 0) throw new Error(`compose restart failed: ${composeMessage(r).split('\n').slice(-3).join(' | ')}`);
  }
  const file = await fileIdentity(spec.file);
  await waitReady(ctx, t, spec);
  return { outcome: planned.action === 'create' ? 'created' : 'updated', state: record(stack, file, owned) };
}
