// Applying a stack: compose up / down, then the health wait.
import type { RunContext, Target } from '../../core/kind.js';
import { ownedAfter } from '../../core/ownership.js';
import type { PlanResult, StateEntry } from '../../core/types.js';
import { stateWords } from './plan.js';
import { dataOf, upServices, type MaskedConfig, type StackActual, type StackData, type StackSpec } from './types.js';

// ---- apply ---------------------------------------------------------------------------------------

async function waitHealthy(ctx: RunContext, address: string, project: string, services: string[], timeoutS: number): Promise<void> {
  const { projectContainers } = await import('../../providers/docker/engine.js');
  const end = Date.now() + timeoutS * 1000;
  let last = '';
  for (;;) {
    const cs = (await projectContainers(ctx.env, project)).filter((c) => services.includes(c.service));
    const pending = services.filter((s) => {
      const mine = cs.filter((c) => c.service === s);
      return !mine.length || mine.some((c) => c.state !== 'running' || (c.health !== null && c.health !== 'healthy'));
    });
    const dead = cs.filter((c) => c.state === 'exited' || c.state === 'dead');
    if (dead.length) throw new Error(`${dead.map((c) => `${c.service} ${stateWords(c)}`).join(', ')} while waiting for the stack to be healthy`);
    if (!pending.length) return;
    const words = pending.map((s) => `${s} (${cs.filter((c) => c.service === s).map(stateWords).join(', ') || 'missing'})`).join(', ');
    if (words !== last) ctx.log(address, `waiting for ${words}`);
    last = words;
    if (Date.now() > end) throw new Error(`not healthy after ${timeoutS}s: ${words}`);
    if (ctx.signal.aborted) throw new Error('cancelled');
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function teardown(ctx: RunContext, t: Target<StackSpec>, d: StackData, volumes: boolean, scrub: (l: string) => string = (l) => l): Promise<void> {
  const { findCompose, runCompose, composeMessage } = await import('../../providers/docker/compose.js');
  const { removeProject } = await import('../../providers/docker/engine.js');
  const { exists } = await import('../../core/fs.js');
  const tool = findCompose(ctx.env, d.compose_command);
  const filesThere = (await Promise.all(d.files.map(exists))).every(Boolean) && (await Promise.all(d.env_files.map(exists))).every(Boolean);
  if (!('error' in tool) && filesThere) {
    const r = await runCompose(tool, d, ['down', '--remove-orphans', ...(volumes ? ['--volumes'] : [])], { env: ctx.env, signal: ctx.signal, onLine: (l) => ctx.log(t.address, scrub(l)) });
    if (r.exitCode !== 0) throw new Error(scrub(`compose down failed: ${composeMessage(r).split('\n').slice(-3).join(' | ')}`));
  }
  // Whatever compose could not see (files gone, services of inactive profiles: their containers, and the
  // volumes and networks they made while active) goes through the API: nothing of the project is left.
  await removeProject(ctx.env, d.project, { volumes, log: (l) => ctx.log(t.address, l) });
}

export async function applyStack(ctx: RunContext, t: Target<StackSpec>, actual: StackActual, planned: PlanResult) {
  const prior = t.prior?.data as StackData | undefined;
  if (!t.desired) {
    await teardown(ctx, t, prior!, false, actual.scrub);
    return { outcome: 'deleted' as const, state: null };
  }
  const spec = t.desired.spec;
  const base = dataOf(t)!;
  const entry = (data: StackData): StateEntry => ({
    section: 'stacks',
    owned: ownedAfter(t.prior, planned.action === 'create'),
    ...(data.applied ? { digest: ctx.digest(JSON.stringify(Object.entries(data.applied).map(([k, v]) => [k, v.hash, v.config]))) } : {}),
    data,
  });
  if (spec.state === 'down') {
    await teardown(ctx, t, base, spec.remove_volumes, actual.scrub);
    return { outcome: 'deleted' as const, state: entry({ ...base, ...(prior?.cache ? { cache: prior.cache } : {}) }), messages: spec.remove_volumes ? ['volumes removed'] : [] };
  }
  const { findCompose, runCompose, composeMessage, probeVersion } = await import('../../providers/docker/compose.js');
  const tool = findCompose(ctx.env, spec.compose_command);
  if ('error' in tool) throw new Error(tool.error);
  await probeVersion(tool, ctx.env);
  const scrub = actual.scrub ?? ((l: string) => l);
  const desired = actual.desired!;
  // Services this machine cannot run (a GPU it lacks) are left out of `up` by name, with what depends on
  // them; the plan stopped the apply unless --skip-unsatisfiable said to go ahead without them.
  const unsat = Object.keys(actual.unsatisfiable ?? {});
  if (actual.missing_external?.length) throw new Error(`external ${actual.missing_external.join(', ')} does not exist (compose would fail at up); create it first, or apply the stack that creates it`);
  if (unsat.length && !ctx.flags.skipUnsatisfiable && !spec.skip_unsatisfiable) throw new Error(`services ${unsat.join(', ')} cannot run on this machine (see the plan); nothing was started`);
  const active = Object.keys(desired.services).filter((s) => (!spec.services || spec.services.includes(s)) && !unsat.includes(s));
  const named = unsat.length ? upServices(spec, desired).filter((s) => !unsat.includes(s)) : (spec.services ?? []);
  // Health is awaited by waitHealthy under both generations (not v2's `--wait`), so that the outcome and
  // its message are the same whichever compose runs.
  const up = ['up', '--detach', ...(spec.remove_orphans ? ['--remove-orphans'] : []), ...named];
  // Every line compose prints is scrubbed of the stack's values before it reaches the terminal or the log.
  const log = (l: string) => ctx.log(t.address, scrub(l));
  // (every service left out: there is nothing to bring up, and a bare `up` would start them all)
  const r = unsat.length && !named.length ? { exitCode: 0, stdout: '', stderr: '' } : await runCompose(tool, base, up, { env: ctx.env, signal: ctx.signal, onLine: log });
  if (r.exitCode !== 0) throw new Error(scrub(`compose up failed (exit ${r.exitCode}): ${composeMessage(r).split('\n').slice(-3).join(' | ')}`));
  // compose leaves unhealthy or crash-looping containers alone: recreate those the plan said so.
  const sick = (planned.parts ?? []).filter((p) => p.cause === 'unhealthy').map((p) => p.name.slice(t.name.length + 1));
  if (sick.length) {
    const again = await runCompose(tool, base, ['up', '--detach', '--no-deps', '--force-recreate', ...sick], { env: ctx.env, signal: ctx.signal, onLine: log });
    if (again.exitCode !== 0) throw new Error(scrub(`compose up --force-recreate ${sick.join(' ')} failed: ${composeMessage(again).split('\n').slice(-3).join(' | ')}`));
  }
  // Services whose profile is no longer active: compose cannot name them (not in its model), the API can.
  const dropped = (planned.parts ?? []).filter((p) => p.cause === 'profile-inactive').map((p) => p.name.slice(t.name.length + 1));
  if (dropped.length) {
    const { projectContainers, removeContainers } = await import('../../providers/docker/engine.js');
    const gone = (await projectContainers(ctx.env, spec.project)).filter((c) => dropped.includes(c.service) && !(c.service in desired.services));
    await removeContainers(ctx.env, gone, log);
  }
  if (spec.wait) await waitHealthy(ctx, t.address, spec.project, active, spec.wait_timeout);
  const applied: Record<string, { hash: string; config: MaskedConfig }> = { ...(prior?.applied ?? {}) };
  for (const s of Object.keys(applied)) if (!desired.all.includes(s)) delete applied[s];
  for (const s of active) applied[s] = { hash: desired.services[s]!.hash, config: desired.configs[s] ?? {} };
  const outcome = planned.action === 'create' ? ('created' as const) : ('updated' as const);
  let cache = desired;
  if (desired.generation === 2) {
    // v2's cached answer is keyed by the containers' state: ask compose again about the state just made,
    // so that the next plan of this unchanged stack spawns nothing.
    const { snapshot } = await import('../../providers/docker/engine.js');
    const { readOne } = await import('./read.js');
    const again = await readOne(ctx, t, await snapshot(ctx.env), { fresh: true }).catch(() => null);
    if (again?.desired) cache = again.desired;
  }
  return { outcome, state: entry({ ...base, cache, applied }) };
}

