// stacks.<name>: a docker compose project. Actual state from the Docker Engine API (one refresh for all
// stacks); desired per-service config hashes from compose itself (`config --hash '*'`), cached in state
// under a keyed digest of everything compose reads, so drift is judged exactly as compose judges it and
// a no-op plan spawns no compose process. Apply runs `compose up -d` / `compose down`.
import path from 'node:path';
import type { Kind, PlanContext, RunContext, Target } from '../core/kind.js';
import type { Action, Change, Diagnostic, PlanResult, StateEntry } from '../core/types.js';
import type { Expander } from '../manifest/load.js';
import type { ContainerInfo, EngineSnapshot } from '../providers/docker/engine.js';

export interface StackSpec {
  project: string;
  files: string[];
  project_directory: string;
  profiles: string[];
  env_files: string[];
  services: string[] | null;
  state: 'up' | 'down';
  wait: boolean;
  /** Seconds. */
  wait_timeout: number;
  remove_orphans: boolean;
  remove_volumes: boolean;
  /** The manifest's top-level `compose.command` (set by stacksExpander); null = find one. */
  compose_command: string[] | null;
}

/** A service's config as `compose config` prints it, with environment values and secret-looking keys masked. */
export type MaskedConfig = Record<string, unknown>;

export interface CachedService {
  hash: string;
  image: string | null;
  /** What `image` pointed to when the hash was computed (compose v1 hashes it in). */
  image_id: string | null;
}

/** What compose said a stack should be, and the key of everything it read to say it. */
export interface StackDesired {
  key: string;
  /** Active services (under the profiles) → hash. */
  services: Record<string, CachedService>;
  /** Every service in the files (orphans are containers of services not in this list). */
  all: string[];
  configs: Record<string, MaskedConfig>;
}

/** state.json data of a stack. Never a secret value: masked configs hold keyed digests. */
export interface StackData {
  project: string;
  project_directory: string;
  files: string[];
  profiles: string[];
  env_files: string[];
  compose_command: string[] | null;
  cache?: StackDesired;
  /** Last applied per-service config, for attribute-level reasons. */
  applied?: Record<string, { hash: string; config: MaskedConfig }>;
}

export interface StackActual {
  project: string;
  containers: ContainerInfo[];
  /** null when compose was not asked (state: down, not declared) or failed. */
  desired: StackDesired | null;
  /** True when `desired` came from the state's cache (no compose process). */
  cached: boolean;
  compose_error?: string;
  tool_error?: string;
  /** Env files compose needs that do not exist (yet): compose was not asked. */
  missing_inputs?: string[];
  /** `docker ps` status text by container id (only for `status`). */
  status_text?: Record<string, string>;
}

export const PROJECT_RULE = /^[a-z0-9][a-z0-9_-]*$/;

function seconds(v: unknown, dflt: number): number {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return dflt;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) return dflt;
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] ?? 's']!;
}

function dataOf(t: Target<StackSpec>): StackData | null {
  if (t.desired) {
    const s = t.desired.spec;
    return { project: s.project, project_directory: s.project_directory, files: s.files, profiles: s.profiles, env_files: s.env_files, compose_command: s.compose_command };
  }
  return (t.prior?.data as StackData | undefined) ?? null;
}

// ---- masking and config diffs (pure) -------------------------------------------------------------

const SECRET_KEY = /pass(word)?|secret|token|api[_-]?key|private|credential|auth/i;
const SECRET_FLAG = /^--?[A-Za-z0-9_-]*(pass(word)?|secret|token|api[_-]?key|credential)[A-Za-z0-9_-]*$/i;

/**
 * A port as compose's short syntax (`127.0.0.1:18000:80/tcp`), whichever form `config` printed: v1
 * keeps what the file says (`published: 8080` / `target: 8080` objects or strings), v2 always prints
 * the long form with `mode: ingress`. One form for both, so that a plan reads the same under both.
 */
export function portText(p: unknown): unknown {
  if (typeof p === 'string' || typeof p === 'number') return String(p);
  if (!p || typeof p !== 'object') return p;
  const o = p as { host_ip?: unknown; published?: unknown; target?: unknown; protocol?: unknown; mode?: unknown; app_protocol?: unknown; name?: unknown };
  if (o.target === undefined || o.app_protocol !== undefined || o.name !== undefined || (o.mode !== undefined && o.mode !== 'ingress')) return p;
  const host = [o.host_ip, o.published].filter((x) => x !== undefined && x !== '').map(String);
  return `${[...host, String(o.target)].join(':')}/${typeof o.protocol === 'string' ? o.protocol : 'tcp'}`;
}

/** Environment values and values under secret-looking keys become `{ $sensitive: digest }`. */
export function maskConfig(cfg: Record<string, unknown>, digest: (v: string) => string): MaskedConfig {
  const mask = (v: unknown): unknown => (v === null || v === undefined ? v : { $sensitive: digest(String(v)).slice(-16) });
  // A command with `--pass root`, `--password=x`, `--token t`… is masked as a whole (changes still show).
  const secretArgs = (v: unknown) => {
    const words = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(/\s+/) : [];
    return words.some((w) => SECRET_FLAG.test(w.split('=')[0]!));
  };
  const walk = (v: unknown, key: string, underEnv: boolean): unknown => {
    if (!underEnv && key === 'ports' && Array.isArray(v)) return v.map(portText);
    if (!underEnv && (key === 'command' || key === 'entrypoint')) {
      if (secretArgs(v)) return { $sensitive: digest(JSON.stringify(v)).slice(-16) };
    }
    if (Array.isArray(v)) return v.map((x) => (underEnv && typeof x === 'string' && x.includes('=') ? `${x.slice(0, x.indexOf('='))}=${JSON.stringify(mask(x.slice(x.indexOf('=') + 1)))}` : walk(x, key, false)));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (underEnv) out[k] = x && typeof x === 'object' ? walk(x, k, false) : mask(x);
        else out[k] = walk(x, k, k === 'environment');
      }
      return out;
    }
    if ((typeof v === 'string' || typeof v === 'number') && SECRET_KEY.test(key) && !['healthcheck'].includes(key)) return mask(v);
    return v;
  };
  return walk(cfg, '', false) as MaskedConfig;
}

const isPlain = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !('$sensitive' in v);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** "image postgres:15 -> postgres:16", "environment: LOG_LEVEL changed"… in key order. */
export function configChanges(before: MaskedConfig, after: MaskedConfig): string[] {
  const out: string[] = [];
  for (const k of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
    const b = before[k];
    const a = after[k];
    if (same(a, b)) continue;
    if (!(k in before)) out.push(`${k} added`);
    else if (!(k in after)) out.push(`${k} removed`);
    else if (isPlain(a) && isPlain(b)) out.push(`${k} ${show(b)} -> ${show(a)}`);
    else if (isObj(a) && isObj(b)) {
      const sub: string[] = [];
      for (const s of [...new Set([...Object.keys(b), ...Object.keys(a)])].sort()) {
        if (same(a[s], b[s])) continue;
        sub.push(!(s in b) ? `${s} added` : !(s in a) ? `${s} removed` : `${s} changed`);
      }
      out.push(`${k}: ${sub.join(', ')}`);
    } else out.push(`${k} changed`);
  }
  return out;
}

// ---- plan (pure) ---------------------------------------------------------------------------------

function part(t: Target<StackSpec>, service: string, action: Action, reason: string, before: unknown, after: unknown, verb?: string): Change {
  return { address: `${t.address}.${service}`, section: 'stacks', name: `${t.name}.${service}`, action, reason, before, after, ...(verb ? { verb } : {}) };
}

function stateWords(c: ContainerInfo): string {
  if (c.state === 'exited') return `exited (${c.exit_code ?? '?'})`;
  return c.state + (c.health ? ` (${c.health})` : '');
}

function servicePart(t: Target<StackSpec>, svc: string, desired: StackDesired, cs: ContainerInfo[], data: StackData | undefined, actual: StackActual): Change {
  const want = desired.services[svc]!;
  const config = desired.configs[svc] ?? {};
  if (!cs.length) return part(t, svc, 'create', 'it does not exist', null, config);
  const changed = cs.find((c) => c.config_hash !== want.hash);
  if (changed) {
    const applied = data?.applied?.[svc];
    if (want.image_id && changed.image_id !== want.image_id && (!applied || applied.hash === changed.config_hash) && same(applied?.config ?? config, config)) {
      return part(t, svc, 'replace', `its image ${want.image ?? ''} now points to a different image`, { image_id: changed.image_id.slice(0, 19) }, { image_id: want.image_id.slice(0, 19) }, 'recreated');
    }
    if (applied && applied.hash === changed.config_hash) {
      const why = configChanges(applied.config, config);
      return part(t, svc, 'replace', `its config changed: ${why.length ? why.join('; ') : 'compose computes a different config hash'}`, applied.config, config, 'recreated');
    }
    return part(t, svc, 'replace', "its config changed (compose's config hash differs from the container's)", { config_hash: changed.config_hash.slice(0, 12) }, { config_hash: want.hash.slice(0, 12) }, 'recreated');
  }
  const moved = want.image_id ? cs.find((c) => c.image_id !== want.image_id) : undefined;
  if (moved) {
    return part(t, svc, 'replace', `its image ${want.image ?? ''} now points to a different image`, { image_id: moved.image_id.slice(0, 19) }, { image_id: want.image_id!.slice(0, 19) }, 'recreated');
  }
  const stopped = cs.find((c) => c.state === 'exited' || c.state === 'created' || c.state === 'dead');
  if (stopped) return part(t, svc, 'update', `it is ${stateWords(stopped)}`, { state: stateWords(stopped) }, { state: 'running' }, 'started');
  const sick = cs.find((c) => c.health === 'unhealthy' || c.state === 'restarting');
  if (sick) {
    const why = sick.state === 'restarting' ? 'it keeps restarting' : 'it is unhealthy';
    return part(t, svc, 'replace', why, { state: stateWords(sick) }, { state: 'running' }, 'recreated');
  }
  const words = cs.map((c) => actual.status_text?.[c.id] ?? stateWords(c));
  return part(t, svc, 'no-op', [...new Set(words)].join(', '), null, null);
}

/** "db to be recreated, api to be started" for the stack's reason line. */
function countWords(parts: Change[], stack: string): string {
  const by = new Map<string, string[]>();
  for (const p of parts) {
    if (p.action === 'no-op') continue;
    const w = p.verb ?? (p.action === 'create' ? 'created' : p.action === 'delete' ? 'removed' : 'updated');
    by.set(w, [...(by.get(w) ?? []), p.name.slice(stack.length + 1)]);
  }
  return [...by].map(([w, names]) => `${names.join(', ')} to be ${w}`).join('; ');
}

function teardownParts(t: Target<StackSpec>, containers: ContainerInfo[], reason: string): Change[] {
  const byService = groupBy(containers);
  return [...byService].map(([svc, cs]) => part(t, svc, 'delete', reason, { containers: cs.map((c) => c.name), image: cs[0]!.image, state: stateWords(cs[0]!) }, null, 'removed'));
}

function groupBy(cs: ContainerInfo[]): Map<string, ContainerInfo[]> {
  const m = new Map<string, ContainerInfo[]>();
  for (const c of cs) m.set(c.service, [...(m.get(c.service) ?? []), c]);
  return m;
}

export function planStack(t: Target<StackSpec>, actual: StackActual, _ctx?: PlanContext): PlanResult {
  const data = t.prior?.data as StackData | undefined;
  const cs = actual.containers;
  const summary = (d: StackData | null) => (d ? { project: d.project, files: d.files, profiles: d.profiles } : null);

  if (!t.desired) {
    if (!t.prior?.owned || !cs.length) return { action: 'no-op', reason: 'not declared any more', before: null, after: null };
    const reason = 'it is no longer in the manifest and this tool created it';
    return { action: 'delete', reason, before: summary(data ?? null), after: null, parts: teardownParts(t, cs, reason), verb: 'torn down', warnings: ['its volumes are kept'] };
  }
  const spec = t.desired.spec;
  const display = { project: spec.project, files: spec.files, profiles: spec.profiles, state: spec.state };
  if (actual.tool_error) {
    return { action: cs.length ? 'update' : 'create', reason: 'compose is not installed (see the error below)', before: null, after: display, diagnostics: [{ severity: 'error', summary: actual.tool_error }] };
  }
  if (spec.state === 'down') {
    if (!cs.length) return { action: 'no-op', reason: 'state: down, and the project has no containers', before: null, after: null };
    const warnings = spec.remove_volumes ? [`volumes of project ${spec.project} will be removed (remove_volumes: true)`] : [];
    return { action: 'delete', reason: 'state: down', before: display, after: null, parts: teardownParts(t, cs, 'state: down'), verb: 'torn down', warnings };
  }
  if (actual.missing_inputs?.length) {
    const files = actual.missing_inputs.join(', ');
    // A dependency (e.g. secrets.env) may write them during this apply; apply re-reads before acting.
    if (t.desired.dependsOn.length) {
      return {
        action: cs.length ? 'update' : 'create',
        reason: `${files} ${actual.missing_inputs.length > 1 ? 'do' : 'does'} not exist yet; the services are planned after ${t.desired.dependsOn.join(', ')} apply`,
        before: null,
        after: display,
        warnings: [`services cannot be shown until ${files} exist${actual.missing_inputs.length > 1 ? '' : 's'}`],
      };
    }
    return { action: cs.length ? 'update' : 'create', reason: 'an env file is missing (see the error below)', before: null, after: display, diagnostics: [{ severity: 'error', summary: `env file${actual.missing_inputs.length > 1 ? 's' : ''} compose needs do${actual.missing_inputs.length > 1 ? '' : 'es'} not exist: ${files}`, detail: 'Write it first (e.g. a secrets resource, then depends_on: [secrets.NAME] on this stack).' }] };
  }
  if (actual.compose_error !== undefined || !actual.desired) {
    return {
      action: cs.length ? 'update' : 'create',
      reason: 'compose rejected its files (see the error below)',
      before: null,
      after: display,
      diagnostics: [{ severity: 'error', summary: `compose rejected the stack's files (${spec.files.join(', ')})`, detail: actual.compose_error ?? 'no answer from compose' }],
    };
  }
  const desired = actual.desired;
  const byService = groupBy(cs);
  const active = Object.keys(desired.services).filter((s) => !spec.services || spec.services.includes(s));
  const parts: Change[] = active.map((svc) => servicePart(t, svc, desired, byService.get(svc) ?? [], data, actual));
  const diagnostics: Diagnostic[] = [];
  for (const s of spec.services ?? []) {
    if (!desired.all.includes(s)) diagnostics.push({ severity: 'error', summary: `services: no service "${s}" in the compose files (they have: ${desired.all.join(', ') || 'none'})` });
  }
  const warnings: string[] = [];
  for (const [svc, list] of byService) {
    if (desired.all.includes(svc)) continue;
    if (spec.remove_orphans) parts.push(part(t, svc, 'delete', 'it is no longer in the compose files (orphan)', { containers: list.map((c) => c.name), image: list[0]!.image }, null, 'removed'));
    else warnings.push(`orphan container${list.length > 1 ? 's' : ''} ${list.map((c) => c.name).join(', ')} (service ${svc} is no longer in the compose files) left running: remove_orphans is false`);
  }
  const changing = parts.filter((p) => p.action !== 'no-op');
  if (!changing.length) {
    return { action: 'no-op', reason: 'in sync', before: null, after: null, parts, ...(warnings.length ? { warnings } : {}), ...(diagnostics.length ? { diagnostics } : {}) };
  }
  if (!cs.length) {
    return { action: 'create', reason: `project ${spec.project} has no containers`, before: null, after: { ...display, services: active }, parts, ...(warnings.length ? { warnings } : {}), ...(diagnostics.length ? { diagnostics } : {}) };
  }
  return { action: 'update', reason: countWords(parts, t.name), before: null, after: null, parts, ...(warnings.length ? { warnings } : {}), ...(diagnostics.length ? { diagnostics } : {}) };
}

// ---- read ----------------------------------------------------------------------------------------

async function readStacks(ctx: RunContext, targets: Target<StackSpec>[]): Promise<Map<string, StackActual | Error>> {
  const { snapshot } = await import('../providers/docker/engine.js');
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

async function readOne(ctx: RunContext, t: Target<StackSpec>, snap: EngineSnapshot): Promise<StackActual> {
  const { findCompose, cacheKeyInputs, composeDesired, ComposeError } = await import('../providers/docker/compose.js');
  const { normalizeRef } = await import('../providers/docker/engine.js');
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
  const inputs = await cacheKeyInputs(tool.argv.join(' '), call, ctx.env);
  if (inputs.missing.length) return { ...actual, missing_inputs: inputs.missing };
  const key = ctx.digest(inputs.key);
  const imageIdOf = (ref: string | null) => (ref ? (snap.images.get(normalizeRef(ref)) ?? null) : null);
  const cache = (t.prior?.data as StackData | undefined)?.cache;
  if (cache && cache.key === key && Object.values(cache.services).every((s) => imageIdOf(s.image) === s.image_id)) {
    return { ...actual, desired: cache, cached: true };
  }
  try {
    const got = await composeDesired(tool, call, ctx.env, ctx.signal);
    const services: Record<string, CachedService> = {};
    for (const [svc, hash] of Object.entries(got.hashes)) {
      const cfg = got.services[svc] ?? {};
      const image = typeof cfg.image === 'string' ? cfg.image : `${spec.project}${tool.version === 1 ? '_' : '-'}${svc}`;
      services[svc] = { hash, image, image_id: imageIdOf(image) };
    }
    const configs: Record<string, MaskedConfig> = {};
    for (const [svc, cfg] of Object.entries(got.services)) configs[svc] = maskConfig(cfg, ctx.digest);
    return { ...actual, desired: { key, services, all: Object.keys(got.services), configs } };
  } catch (err) {
    if (err instanceof ComposeError) return { ...actual, compose_error: err.message };
    throw err;
  }
}

// ---- apply ---------------------------------------------------------------------------------------

async function waitHealthy(ctx: RunContext, address: string, project: string, services: string[], timeoutS: number): Promise<void> {
  const { projectContainers } = await import('../providers/docker/engine.js');
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

async function teardown(ctx: RunContext, t: Target<StackSpec>, d: StackData, volumes: boolean): Promise<void> {
  const { findCompose, runCompose, composeMessage } = await import('../providers/docker/compose.js');
  const { projectContainers, removeProject } = await import('../providers/docker/engine.js');
  const { exists } = await import('../core/fs.js');
  const tool = findCompose(ctx.env, d.compose_command);
  const filesThere = (await Promise.all(d.files.map(exists))).every(Boolean) && (await Promise.all(d.env_files.map(exists))).every(Boolean);
  if (!('error' in tool) && filesThere) {
    const r = await runCompose(tool, d, ['down', '--remove-orphans', ...(volumes ? ['--volumes'] : [])], { env: ctx.env, signal: ctx.signal, onLine: (l) => ctx.log(t.address, l) });
    if (r.exitCode !== 0) throw new Error(`compose down failed: ${composeMessage(r).split('\n').slice(-3).join(' | ')}`);
  }
  // Whatever compose could not see (files gone, services of inactive profiles) goes through the API.
  if ((await projectContainers(ctx.env, d.project)).length || !filesThere || 'error' in tool) {
    await removeProject(ctx.env, d.project, { volumes, log: (l) => ctx.log(t.address, l) });
  }
}

async function applyStack(ctx: RunContext, t: Target<StackSpec>, actual: StackActual, planned: PlanResult) {
  const prior = t.prior?.data as StackData | undefined;
  if (!t.desired) {
    await teardown(ctx, t, prior!, false);
    return { outcome: 'deleted' as const, state: null };
  }
  const spec = t.desired.spec;
  const base = dataOf(t)!;
  const entry = (data: StackData): StateEntry => ({
    section: 'stacks',
    owned: t.prior?.owned ?? planned.action === 'create',
    ...(data.applied ? { digest: ctx.digest(JSON.stringify(Object.entries(data.applied).map(([k, v]) => [k, v.hash]))) } : {}),
    data,
  });
  if (spec.state === 'down') {
    await teardown(ctx, t, base, spec.remove_volumes);
    return { outcome: 'deleted' as const, state: entry({ ...base, ...(prior?.cache ? { cache: prior.cache } : {}) }), messages: spec.remove_volumes ? ['volumes removed'] : [] };
  }
  const { findCompose, runCompose, composeMessage, probeVersion } = await import('../providers/docker/compose.js');
  const tool = findCompose(ctx.env, spec.compose_command);
  if ('error' in tool) throw new Error(tool.error);
  await probeVersion(tool, ctx.env);
  const desired = actual.desired!;
  const active = Object.keys(desired.services).filter((s) => !spec.services || spec.services.includes(s));
  // Health is awaited by waitHealthy under both generations (not v2's `--wait`), so that the outcome and
  // its message are the same whichever compose runs.
  const up = ['up', '--detach', ...(spec.remove_orphans ? ['--remove-orphans'] : []), ...(spec.services ?? [])];
  const log = (l: string) => ctx.log(t.address, l);
  const r = await runCompose(tool, base, up, { env: ctx.env, signal: ctx.signal, onLine: log });
  if (r.exitCode !== 0) throw new Error(`compose up failed (exit ${r.exitCode}): ${composeMessage(r).split('\n').slice(-3).join(' | ')}`);
  // compose leaves unhealthy or crash-looping containers alone: recreate those the plan said so.
  const sick = (planned.parts ?? []).filter((p) => p.action === 'replace' && /unhealthy|restarting/.test(p.reason)).map((p) => p.name.slice(t.name.length + 1));
  if (sick.length) {
    const again = await runCompose(tool, base, ['up', '--detach', '--no-deps', '--force-recreate', ...sick], { env: ctx.env, signal: ctx.signal, onLine: log });
    if (again.exitCode !== 0) throw new Error(`compose up --force-recreate ${sick.join(' ')} failed: ${composeMessage(again).split('\n').slice(-3).join(' | ')}`);
  }
  if (spec.wait) await waitHealthy(ctx, t.address, spec.project, active, spec.wait_timeout);
  const applied: Record<string, { hash: string; config: MaskedConfig }> = { ...(prior?.applied ?? {}) };
  for (const s of Object.keys(applied)) if (!desired.all.includes(s)) delete applied[s];
  for (const s of active) applied[s] = { hash: desired.services[s]!.hash, config: desired.configs[s] ?? {} };
  const outcome = planned.action === 'create' ? ('created' as const) : ('updated' as const);
  return { outcome, state: entry({ ...base, cache: desired, applied }) };
}

// ---- the kind ------------------------------------------------------------------------------------

export const stacksKind: Kind<StackSpec, StackActual> = {
  section: 'stacks',
  order: 20,
  schema: 'stacks.schema.json',

  normalize(spec, name, ctx) {
    const files = (spec.files as string[]).map((f) => ctx.resolvePath(f));
    return {
      project: (spec.project as string | undefined) ?? `pmoves-${name.toLowerCase()}`,
      files,
      project_directory: spec.project_directory ? ctx.resolvePath(spec.project_directory) : path.dirname(files[0]!),
      profiles: spec.profiles ?? [],
      env_files: (spec.env_files ?? []).map((f: string) => ctx.resolvePath(f)),
      services: spec.services ?? null,
      state: spec.state ?? 'up',
      wait: spec.wait ?? true,
      wait_timeout: seconds(spec.wait_timeout, 120),
      remove_orphans: spec.remove_orphans ?? true,
      remove_volumes: spec.remove_volumes ?? false,
      compose_command: null,
    };
  },

  inputs: (r) => [...r.spec.files, ...r.spec.env_files],

  read(ctx, t) {
    return readStacks(ctx, [t]).then((m) => {
      const r = m.get(t.address)!;
      if (r instanceof Error) throw r;
      return r;
    });
  },

  readAll: readStacks,

  plan: planStack,

  apply: applyStack,

  finalize(planned) {
    // Two stacks with one compose project would undo each other on every apply.
    const byProject = new Map<string, string[]>();
    for (const { target } of planned) {
      if (!target.desired) continue;
      const p = target.desired.spec.project;
      byProject.set(p, [...(byProject.get(p) ?? []), target.address]);
    }
    const diagnostics: Diagnostic[] = [];
    for (const [p, addrs] of byProject) {
      if (addrs.length > 1) diagnostics.push({ severity: 'error', address: addrs[1], summary: `compose project "${p}" is also used by ${addrs[0]}: give each stack its own project` });
    }
    return { diagnostics };
  },

  describe(t, actual) {
    const out = [`project ${actual.project}`];
    const running = new Set(actual.containers.filter((c) => c.state === 'running').map((c) => c.service));
    const total = actual.desired ? Object.keys(actual.desired.services).filter((s) => !t.desired?.spec.services || t.desired.spec.services.includes(s)).length : new Set(actual.containers.map((c) => c.service)).size;
    out.push(`${running.size}/${total} services running`);
    if (actual.compose_error) out.push('compose rejected the files');
    return out;
  },
};

/**
 * Hands the manifest's top-level `compose.command` to every stack (also those other expanders add:
 * keep this expander last in the list).
 */
export const stacksExpander: Expander = async (m) => {
  const command = (m.data.compose as { command?: string[] } | undefined)?.command ?? null;
  for (const r of m.resources) if (r.section === 'stacks') (r.spec as StackSpec).compose_command = command;
  return [];
};
