// Reading stacks: one Engine snapshot for all, then compose's answer per stack (or the cache's).
// Under compose v2 the answer is compose's own `--dry-run up -d`; under v1, `config --hash '*'`.
import type { RunContext, Target } from '../../core/kind.js';
import type { ContainerInfo, EngineSnapshot } from '../../providers/docker/engine.js';
import { maskConfig, sensitivePaths, valuesAt } from './mask.js';
import type { GpuNeed } from '../../providers/docker/gpu.js';
import { dataOf, upServices, type CachedService, type MaskedConfig, type StackActual, type StackData, type StackSpec } from './types.js';

export async function readStacks(ctx: RunContext, targets: Target<StackSpec>[]): Promise<Map<string, StackActual | Error>> {
  const { snapshot } = await import('../../providers/docker/engine.js');
  const out = new Map<string, StackActual | Error>();
  let snap: EngineSnapshot;
  try {
    snap = await snapshot(ctx.env);
  } catch (err) {
    for (const t of targets) out.set(t.address, err as Error);
    return out;
  }
  await Promise.all(
    targets.map(async (t) => {
      try {
        out.set(t.address, await readOne(ctx, t, snap));
      } catch (err) {
        out.set(t.address, err as Error);
      }
    }),
  );
  return out;
}

/** Names of the volumes labelled with a compose project. */
async function projectVolumes(env: NodeJS.ProcessEnv, project: string): Promise<string[]> {
  const { engineGet, COMPOSE_PROJECT } = await import('../../providers/docker/engine.js');
  const filters = encodeURIComponent(JSON.stringify({ label: [`${COMPOSE_PROJECT}=${project}`] }));
  const r = await engineGet<{ Volumes: { Name: string }[] | null }>(env, `/volumes?filters=${filters}`);
  return (r.Volumes ?? []).map((v) => v.Name).sort();
}

/** The containers' own state as compose judges it (not health: compose leaves unhealthy ones alone). */
function containerKey(cs: ContainerInfo[]): string {
  return JSON.stringify(cs.map((c) => [c.name, c.service, c.number, c.state, c.config_hash, c.image_id]));
}

/** Values of the manifest's CHIT bundles and secrets (handed over by the engine when it has them). */
function bundleValues(ctx: RunContext): string[] {
  const v = ctx.flags.secretValues;
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * compose's answer for one stack (read below), and which of the services it would start this machine
 * cannot run (a GPU it does not have): those are planned as errors, or left out with --skip-unsatisfiable.
 */
export async function readOne(ctx: RunContext, t: Target<StackSpec>, snap: EngineSnapshot, opts: { fresh?: boolean } = {}): Promise<StackActual> {
  // Hardware detection (~0.15 s) runs beside compose when the files may reserve a GPU, not after it.
  const early = (await mayReserveGpu(t)) ? (async () => (await import('../../providers/docker/gpu.js')).machineGpus(ctx.env))() : null;
  early?.catch(() => undefined);
  let actual = await readDesired(ctx, t, snap, opts);
  const desired = actual.desired;
  const spec = t.desired?.spec;
  if (spec?.state === 'down' && spec.remove_volumes) actual = { ...actual, volumes: await projectVolumes(ctx.env, spec.project) };
  const ext = (desired?.top ?? actual.dry_run_top)?.external;
  if (ext && ext.networks.length + ext.volumes.length) {
    // compose v2 fails its dry run on a missing external network, v1 only at up: one check for both.
    const { engineGet } = await import('../../providers/docker/engine.js');
    const [nets, vols] = await Promise.all([
      ext.networks.length ? engineGet<{ Name: string }[]>(ctx.env, '/networks') : Promise.resolve([]),
      ext.volumes.length ? engineGet<{ Volumes: { Name: string }[] | null }>(ctx.env, '/volumes').then((r) => r.Volumes ?? []) : Promise.resolve([]),
    ]);
    const have = new Set([...nets.map((n) => `network ${n.Name}`), ...vols.map((v) => `volume ${v.Name}`)]);
    const missing = [...ext.networks.map((n) => `network ${n}`), ...ext.volumes.map((v) => `volume ${v}`)].filter((x) => !have.has(x));
    if (missing.length) actual = { ...actual, missing_external: missing };
    // compose's dry run failed for want of them: say that, not "compose rejected the files"
    if (missing.length && actual.dry_run_top) {
      const { compose_error: _, ...rest } = actual;
      actual = rest;
    }
  }
  if (!desired?.gpu || !spec || !Object.keys(desired.gpu).length) return actual;
  const { unsatisfiableServices, machineGpus } = await import('../../providers/docker/gpu.js');
  const names = upServices(spec, desired);
  const unsat = await unsatisfiableServices(desired.configs, names, () => early ?? machineGpus(ctx.env), (n) => desired.gpu?.[n] ?? null);
  return unsat.size ? { ...actual, unsatisfiable: Object.fromEntries(unsat) } : actual;
}

/** Whether a stack's compose files may reserve a GPU (a cheap look at their text, or the cached answer). */
async function mayReserveGpu(t: Target<StackSpec>): Promise<boolean> {
  const spec = t.desired?.spec;
  if (!spec || spec.state === 'down') return false;
  const cached = (t.prior?.data as StackData | undefined)?.cache?.gpu;
  if (cached && Object.keys(cached).length) return true;
  const { readFile } = await import('node:fs/promises');
  const texts = await Promise.all(spec.files.map((f) => readFile(f, 'utf8').catch(() => '')));
  return texts.some((x) => /nvidia|\bgpus\s*:|capabilities/i.test(x));
}

async function readDesired(ctx: RunContext, t: Target<StackSpec>, snap: EngineSnapshot, opts: { fresh?: boolean }): Promise<StackActual> {
  const { findCompose, composeVersion, composeDesired, composeDryRun, scrubber, ComposeError, DryRunError } = await import('../../providers/docker/compose.js');
  const { cacheKeyInputs } = await import('../../providers/docker/compose-inputs.js');
  const { normalizeRef } = await import('../../providers/docker/engine.js');
  const { gpuNeed } = await import('../../providers/docker/gpu.js');
  const path = await import('node:path');
  const d = dataOf(t);
  if (!d) throw new Error('no project name in the manifest or the state');
  const containers = snap.byProject.get(d.project) ?? [];
  const actual: StackActual = { project: d.project, containers, desired: null, cached: false };
  if (ctx.flags.status) actual.status_text = Object.fromEntries(containers.map((c) => [c.id, snap.statusText.get(c.id) ?? c.state]));
  const spec = t.desired?.spec;
  if (!spec || spec.state === 'down') return actual;
  const tool = findCompose(ctx.env, spec.compose_command);
  if ('error' in tool) return { ...actual, tool_error: tool.error };
  const call = { project: spec.project, project_directory: spec.project_directory, files: spec.files, profiles: spec.profiles, env_files: spec.env_files };
  // (the tool is in the key through its version text below, not its path: a wrapper on PATH that runs
  // the same compose finds the same cache)
  const inputs = await cacheKeyInputs('compose', call, ctx.env, path.join(ctx.home.root, 'cache'));
  // Text relayed from compose: scrubbed of every bundle value, every value under a secret-looking key,
  // and every other env value of 12 characters or more. Shorter values under plain keys (a database
  // name, a host, `true`, a port) are configuration, and are also words of compose's own messages
  // (`pmoves` in a path, `postgres` as a service name): replacing them made the messages unreadable.
  // Composed values that interpolate a masked variable (sensitivePaths, added as configs are masked below)
  // are replaced whole too, whatever the length of the secret inside them.
  const composed: string[] = [];
  let scrubList = -1;
  let scrubFn: (l: string) => string = (l) => l;
  const scrub = (l: string) => {
    if (scrubList !== composed.length) (scrubFn = scrubber([...inputs.secretKeyed, ...bundleValues(ctx), ...inputs.secrets.filter((v) => v.trim().length >= 12), ...composed])), (scrubList = composed.length);
    return scrubFn(l);
  };
  const bundleSet = new Set(bundleValues(ctx).map((v) => v.trim()));
  const maskedVars = new Set(inputs.maskedVars);
  const isMaskedVar = (v: string) => maskedVars.has(v) || (inputs.varValues[v] !== undefined && bundleSet.has(inputs.varValues[v]!.trim()));
  const secretScrub = scrubber([...inputs.secretKeyed, ...bundleValues(ctx)]);
  const known = new Set([...inputs.secrets, ...bundleValues(ctx)].map((v) => v.trim()).filter((v) => v.length >= 4));
  actual.scrub = scrub;
  if (inputs.missing.length) return { ...actual, missing_inputs: inputs.missing };
  let version: { version: 1 | 2; text: string };
  try {
    version = await composeVersion(tool, ctx.env, path.join(ctx.home.root, 'cache', 'compose-version.json'));
  } catch (err) {
    return { ...actual, tool_error: scrub((err as Error).message) };
  }
  const imageIdOf = (ref: string | null) => (ref ? (snap.images.get(normalizeRef(ref)) ?? null) : null);
  const cache = (t.prior?.data as StackData | undefined)?.cache;
  const v2 = version.version === 2;
  // v2's answer depends on the containers (their hashes, states, images) and the images' tags: all in the key.
  const keyOf = (images: (string | null)[]) =>
    ctx.digest(inputs.key + '\n' + version.text + (v2 ? '\n' + containerKey(containers) + '\n' + JSON.stringify(images.map((i) => [i, imageIdOf(i)])) + '\n' + JSON.stringify([spec.services, spec.remove_orphans]) : ''));
  if (!opts.fresh && cache && (cache.generation ?? 1) === version.version) {
    const images = Object.values(cache.services).map((s) => s.image);
    if (cache.key === keyOf(images) && Object.values(cache.services).every((s) => imageIdOf(s.image) === s.image_id)) {
      return { ...actual, desired: cache, cached: true };
    }
  }
  const env_sources: Record<string, { files: string[]; keys: string[] }> = {};
  const gpuOf = (raw: Record<string, Record<string, unknown>>) => {
    const out: Record<string, GpuNeed> = {};
    for (const [svc, cfg] of Object.entries(raw)) {
      const need = gpuNeed(cfg);
      if (need) out[svc] = need;
    }
    return out;
  };
  const maskOne = (svc: string, cfg: Record<string, unknown>): MaskedConfig => {
    const se = inputs.serviceEnv[svc];
    const literal = new Set(se?.literal ?? []);
    if (se?.files.length) {
      const keys = new Set(se.files.flatMap((f) => inputs.envFileKeys[f] ?? []));
      for (const k of literal) keys.delete(k);
      env_sources[svc] = { files: se.files.map((f) => path.basename(f)), keys: [...keys].sort() };
    }
    const sensitive = sensitivePaths(se?.interp, isMaskedVar);
    // Only the composed strings that hold a masked variable's value (not `ingress`, `tcp` beside a port).
    const inside = [...sensitive].flatMap((at) => (se?.interp?.[at] ?? []).filter(isMaskedVar).map((v) => inputs.varValues[v]?.trim() ?? '')).filter(Boolean);
    for (const v of valuesAt(cfg, sensitive)) if (v.trim().length >= 4 && inside.some((x) => v.includes(x))) composed.push(v);
    return maskConfig(cfg, ctx.digest, { literal, scrub: secretScrub, known, sensitive });
  };
  try {
    const services: Record<string, CachedService> = {};
    const configs: Record<string, MaskedConfig> = {};
    const imageOf = (svc: string, cfg: Record<string, unknown>) => (typeof cfg.image === 'string' ? cfg.image : `${spec.project}${v2 ? '-' : '_'}${svc}`);
    if (v2) {
      const up = [...(spec.remove_orphans ? ['--remove-orphans'] : []), ...(spec.services ?? [])];
      const got = await composeDryRun(tool, call, up, ctx.env, ctx.signal, { fresh: containers.length === 0, named: spec.services ?? [] });
      for (const svc of got.active) {
        const image = imageOf(svc, got.services[svc] ?? {});
        services[svc] = { hash: '', image, image_id: imageIdOf(image) };
      }
      for (const [svc, cfg] of Object.entries(got.services)) configs[svc] = maskOne(svc, cfg);
      const images = Object.values(services).map((s) => s.image);
      return { ...actual, desired: { key: keyOf(images), generation: 2, actions: got.actions, services, all: Object.keys(got.services), configs, env_sources, gpu: gpuOf(got.services), top: got.top } };
    }
    const got = await composeDesired(tool, call, ctx.env, ctx.signal);
    for (const [svc, hash] of Object.entries(got.hashes)) {
      const image = imageOf(svc, got.services[svc] ?? {});
      services[svc] = { hash, image, image_id: imageIdOf(image) };
    }
    for (const [svc, cfg] of Object.entries(got.services)) configs[svc] = maskOne(svc, cfg);
    return { ...actual, desired: { key: keyOf([]), generation: 1, services, all: Object.keys(got.services), configs, env_sources, gpu: gpuOf(got.services), top: got.top } };
  } catch (err) {
    if (err instanceof ComposeError) return { ...actual, compose_error: scrub(err.message), ...(err instanceof DryRunError ? { dry_run_top: err.top } : {}) };
    throw err;
  }
}
