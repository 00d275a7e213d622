// Planning a stack (pure): per service, what compose will do and why.
import type { PlanContext, Target } from '../../core/kind.js';
import type { Action, Change, Diagnostic, PlanResult } from '../../core/types.js';
import type { ContainerInfo } from '../../providers/docker/engine.js';
import { configChanges, isObj, same } from './mask.js';
import { upServices, type MaskedConfig, type StackActual, type StackData, type StackDesired, type StackSpec } from './types.js';

// ---- plan (pure) ---------------------------------------------------------------------------------

/** One service's change. `cause` is the machine word apply reads; `reason` is display only. */
function part(t: Target<StackSpec>, service: string, action: Action, cause: string, reason: string, before: unknown, after: unknown, verb?: string): Change {
  return { address: `${t.address}.${service}`, section: 'stacks', name: `${t.name}.${service}`, action, cause, reason, before, after, ...(verb ? { verb } : {}) };
}

type EnvSources = StackDesired['env_sources'];

const isSensitive = (v: unknown) => typeof v === 'object' && v !== null && '$sensitive' in v;

/**
 * For display: the environment values that come only from env files collapse into one line
 * (`(177 values from env.shared, env.shared.generated; sensitive)`); keys in `keep` (those that changed)
 * stay listed. Literal values written in the compose file are shown as masking left them.
 */
export function collapseEnv(cfg: MaskedConfig | null, svc: string, sources: EnvSources, keep: Set<string> = new Set()): MaskedConfig | null {
  const src = sources?.[svc];
  const env = cfg?.environment;
  if (!cfg || !src || !isObj(env)) return cfg;
  const fromFiles = src.keys.filter((k) => k in env && !keep.has(k));
  // The compose file's own entries that are masked anyway (they interpolate a masked variable) fold too.
  const fileKeys = new Set(fromFiles);
  const masked = Object.keys(env).filter((k) => !fileKeys.has(k) && !keep.has(k) && isSensitive(env[k]));
  const folded = [...fromFiles, ...masked];
  if (!folded.length) return cfg;
  const more = masked.length ? `, and ${masked.length} from the compose file` : '';
  const marker = { $sensitive: folded.map((k) => JSON.stringify(env[k])).join('|').length.toString(36) + ':' + folded.length, $summary: `${fromFiles.length} values from ${src.files.join(', ')}${more}; sensitive` };
  const rest = Object.entries(env).filter(([k]) => !folded.includes(k));
  // In a diff (keys kept) both sides keep the map form, so that a key that left one side still diffs
  // key by key rather than as a map against a marker.
  return { ...cfg, environment: rest.length || keep.size ? { ...Object.fromEntries(rest), '(from env files)': marker } : marker };
}

/** "it does not exist", and for a `build:` service whether `up` builds its image or finds it present. */
function missingWhy(config: MaskedConfig, want: { image: string | null; image_id: string | null } | undefined): string {
  if (config.build === undefined || !want?.image) return 'it does not exist';
  return want.image_id ? `it does not exist; its image ${want.image} is present (not rebuilt)` : `it does not exist; its image ${want.image} will be built`;
}

/** Environment keys whose (masked) value differs between two configs. */
function changedEnvKeys(a: MaskedConfig, b: MaskedConfig): Set<string> {
  const ea = isObj(a.environment) ? a.environment : {};
  const eb = isObj(b.environment) ? b.environment : {};
  return new Set([...new Set([...Object.keys(ea), ...Object.keys(eb)])].filter((k) => !same(ea[k], eb[k])));
}

/** Services a service depends on (`depends_on` as a list or a map), from its config. */
function dependsOn(cfg: Record<string, unknown> | undefined): string[] {
  const d = cfg?.depends_on;
  if (Array.isArray(d)) return d.map(String);
  if (d && typeof d === 'object') return Object.keys(d);
  return [];
}

/**
 * Under compose v2: the action is compose's own (`--dry-run up -d`); this only explains it. A recreate is
 * explained, in order, by the image tag now pointing elsewhere, the config fields that changed since the
 * last apply, a dependency being recreated, else compose's own judgement.
 */
function servicePartV2(t: Target<StackSpec>, svc: string, desired: StackDesired, cs: ContainerInfo[], data: StackData | undefined, actual: StackActual): Change {
  const act = desired.actions?.[svc];
  const config = desired.configs[svc] ?? {};
  const want = desired.services[svc];
  const src = desired.env_sources;
  if (act === 'create' || (!cs.length && act !== 'remove')) return part(t, svc, 'create', 'missing', missingWhy(config, want), null, collapseEnv(config, svc, src));
  if (act === 'recreate') {
    const applied = data?.applied?.[svc];
    const why = applied ? configChanges(applied.config, config) : [];
    if (why.length) {
      const keep = changedEnvKeys(applied!.config, config);
      return part(t, svc, 'replace', 'config-changed', `its config changed: ${why.join('; ')}`, collapseEnv(applied!.config, svc, src, keep), collapseEnv(config, svc, src, keep), 'recreated');
    }
    const moved = want?.image_id ? cs.find((c) => c.image_id !== want.image_id) : undefined;
    if (moved) return part(t, svc, 'replace', 'image-changed', `its image ${want!.image ?? ''} now points to a different image`, { image_id: moved.image_id.slice(0, 19) }, { image_id: want!.image_id!.slice(0, 19) }, 'recreated');
    const deps = dependsOn(config as Record<string, unknown>).filter((x) => desired.actions?.[x] === 'recreate' || desired.actions?.[x] === 'create').sort();
    if (deps.length) return part(t, svc, 'replace', 'dependency', `${deps.join(', ')} ${deps.length > 1 ? 'are' : 'is'} recreated and compose recreates the services that depend on ${deps.length > 1 ? 'them' : 'it'}`, null, null, 'recreated');
    return part(t, svc, 'replace', 'config-changed', "its config changed (compose's own judgement)", null, null, 'recreated');
  }
  if (act === 'start') {
    const stopped = cs.find((c) => c.state !== 'running') ?? cs[0]!;
    return part(t, svc, 'update', 'stopped', `it is ${stateWords(stopped)}`, { state: stateWords(stopped) }, { state: 'running' }, 'started');
  }
  return healthPart(t, svc, cs, actual);
}

/** Running containers: recreated when unhealthy or crash-looping (compose leaves these alone; apply runs
 * `up --no-deps --force-recreate`), else in sync. */
function healthPart(t: Target<StackSpec>, svc: string, cs: ContainerInfo[], actual: StackActual): Change {
  const sick = cs.find((c) => c.health === 'unhealthy' || c.state === 'restarting');
  if (sick) {
    const why = sick.state === 'restarting' ? 'it keeps restarting' : 'it is unhealthy';
    return part(t, svc, 'replace', 'unhealthy', why, { state: stateWords(sick) }, { state: 'running' }, 'recreated');
  }
  const words = cs.map((c) => actual.status_text?.[c.id] ?? stateWords(c));
  return part(t, svc, 'no-op', 'in-sync', [...new Set(words)].join(', '), null, null);
}

export function stateWords(c: ContainerInfo): string {
  if (c.state === 'exited') return `exited (${c.exit_code ?? '?'})`;
  return c.state + (c.health ? ` (${c.health})` : '');
}

function servicePart(t: Target<StackSpec>, svc: string, desired: StackDesired, cs: ContainerInfo[], data: StackData | undefined, actual: StackActual): Change {
  const want = desired.services[svc]!;
  const config = desired.configs[svc] ?? {};
  if (!cs.length) return part(t, svc, 'create', 'missing', missingWhy(config, want), null, collapseEnv(config, svc, desired.env_sources));
  const changed = cs.find((c) => c.config_hash !== want.hash);
  if (changed) {
    const applied = data?.applied?.[svc];
    if (want.image_id && changed.image_id !== want.image_id && (!applied || applied.hash === changed.config_hash) && same(applied?.config ?? config, config)) {
      return part(t, svc, 'replace', 'image-changed', `its image ${want.image ?? ''} now points to a different image`, { image_id: changed.image_id.slice(0, 19) }, { image_id: want.image_id.slice(0, 19) }, 'recreated');
    }
    if (applied && applied.hash === changed.config_hash) {
      const why = configChanges(applied.config, config);
      const keep = changedEnvKeys(applied.config, config);
      const src = desired.env_sources;
      return part(t, svc, 'replace', 'config-changed', `its config changed: ${why.length ? why.join('; ') : 'compose computes a different config hash'}`, collapseEnv(applied.config, svc, src, keep), collapseEnv(config, svc, src, keep), 'recreated');
    }
    return part(t, svc, 'replace', 'config-changed', "its config changed (compose's config hash differs from the container's)", { config_hash: changed.config_hash.slice(0, 12) }, { config_hash: want.hash.slice(0, 12) }, 'recreated');
  }
  const moved = want.image_id ? cs.find((c) => c.image_id !== want.image_id) : undefined;
  if (moved) {
    return part(t, svc, 'replace', 'image-changed', `its image ${want.image ?? ''} now points to a different image`, { image_id: moved.image_id.slice(0, 19) }, { image_id: want.image_id!.slice(0, 19) }, 'recreated');
  }
  const stopped = cs.find((c) => c.state === 'exited' || c.state === 'created' || c.state === 'dead');
  if (stopped) return part(t, svc, 'update', 'stopped', `it is ${stateWords(stopped)}`, { state: stateWords(stopped) }, { state: 'running' }, 'started');
  return healthPart(t, svc, cs, actual);
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

function teardownParts(t: Target<StackSpec>, containers: ContainerInfo[], reason: string, cause: string): Change[] {
  const byService = groupBy(containers);
  return [...byService].sort(([a], [b]) => a.localeCompare(b)).map(([svc, cs]) => part(t, svc, 'delete', cause, reason, { containers: cs.map((c) => c.name), image: cs[0]!.image, state: stateWords(cs[0]!) }, null, 'removed'));
}

export function groupBy(cs: ContainerInfo[]): Map<string, ContainerInfo[]> {
  const m = new Map<string, ContainerInfo[]>();
  for (const c of cs) m.set(c.service, [...(m.get(c.service) ?? []), c]);
  return m;
}

export function planStack(t: Target<StackSpec>, actual: StackActual, ctx?: PlanContext): PlanResult {
  const data = t.prior?.data as StackData | undefined;
  const cs = actual.containers;
  const summary = (d: StackData | null) => (d ? { project: d.project, files: d.files, profiles: d.profiles } : null);

  if (!t.desired) {
    if (!t.prior?.owned || !cs.length) return { action: 'no-op', reason: 'not declared any more', before: null, after: null };
    const reason = 'it is no longer in the manifest and this tool created it';
    return { action: 'delete', reason, before: summary(data ?? null), after: null, parts: teardownParts(t, cs, reason, 'not-declared'), verb: 'torn down', warnings: ['its volumes are kept'] };
  }
  const spec = t.desired.spec;
  const display = { project: spec.project, files: spec.files, profiles: spec.profiles, state: spec.state };
  if (actual.tool_error) {
    return { action: cs.length ? 'update' : 'create', reason: 'compose is not installed (see the error below)', before: null, after: display, diagnostics: [{ severity: 'error', summary: actual.tool_error }] };
  }
  if (spec.state === 'down') {
    if (!cs.length) return { action: 'no-op', reason: 'state: down, and the project has no containers', before: null, after: null };
    const vols = actual.volumes ?? [];
    const warnings = spec.remove_volumes
      ? [vols.length ? `volume${vols.length > 1 ? 's' : ''} ${vols.join(', ')} will be removed (remove_volumes: true)` : `project ${spec.project} has no volumes to remove`]
      : ['its volumes are kept (remove_volumes: false)'];
    return { action: 'delete', reason: 'state: down', before: display, after: null, parts: teardownParts(t, cs, 'state: down', 'state-down'), verb: 'torn down', warnings };
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
  // An external network or volume that a stack this one depends on creates: planned after it applies.
  const creators = t.desired.dependsOn.filter((d) => d.startsWith('stacks.'));
  if (!actual.desired && actual.missing_external?.length && actual.compose_error === undefined) {
    if (creators.length) {
      return { action: cs.length ? 'update' : 'create', reason: `${actual.missing_external.join(', ')} ${actual.missing_external.length > 1 ? 'do' : 'does'} not exist yet; the services are planned after ${creators.join(', ')} apply`, before: null, after: display, diagnostics: missingExternal(actual.missing_external, creators) };
    }
    return { action: cs.length ? 'update' : 'create', reason: 'an external network or volume is missing (see the error below)', before: null, after: display, diagnostics: missingExternal(actual.missing_external, []) };
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
  // --verbose: every environment key on its own line (no "(N values from env files)" collapse).
  const desired = ctx?.flags.verbose ? { ...actual.desired, env_sources: {} } : actual.desired;
  const byService = groupBy(cs);
  const v2 = desired.generation === 2;
  // Under v2, services compose will act on outside the subset (dependencies of the subset) are shown too.
  // Services this machine cannot run are never planned: an error each, or left out of `up` when skipped.
  const unsat = actual.unsatisfiable ?? {};
  const skip = Boolean(ctx?.flags.skipUnsatisfiable || spec.skip_unsatisfiable);
  const active = upServices(spec, desired).filter((s) => !(s in unsat)).sort();
  const parts: Change[] = active.map((svc) => (v2 ? servicePartV2 : servicePart)(t, svc, desired, byService.get(svc) ?? [], data, actual));
  const diagnostics: Diagnostic[] = Object.entries(unsat).sort(([a], [b]) => a.localeCompare(b)).map(([svc, why]) =>
    skip
      ? { severity: 'warning', summary: `service ${svc} cannot run here: ${why}; left out of up (${spec.skip_unsatisfiable ? 'skip_unsatisfiable: true' : '--skip-unsatisfiable'})` }
      : { severity: 'error', summary: `service ${svc} cannot run here: ${why}`, detail: 'Nothing is started. Plan and apply with --skip-unsatisfiable to bring up the other services without it, or leave it out with services:.' },
  );
  for (const s of spec.services ?? []) {
    if (!desired.all.includes(s)) diagnostics.push({ severity: 'error', summary: `services: no service "${s}" in the compose files (they have: ${desired.all.join(', ') || 'none'})` });
  }
  diagnostics.push(...missingExternal(actual.missing_external ?? [], creators));
  const warnings: string[] = [];
  for (const [svc, list] of [...byService].sort(([a], [b]) => a.localeCompare(b))) {
    // The declared set is the truth: containers of a service whose profile is no longer active are
    // removed (compose leaves them: they are not orphans to it, the service is still in the files).
    if (inactiveProfile(svc, desired, spec)) {
      parts.push(part(t, svc, 'delete', 'profile-inactive', 'its profile is no longer active', { containers: list.map((c) => c.name).sort(), image: list[0]!.image }, null, 'removed'));
      continue;
    }
    // v2: compose itself says which containers are orphans (services of inactive profiles are not).
    if (v2 ? desired.actions?.[svc] !== 'remove' && (spec.remove_orphans || desired.all.includes(svc)) : desired.all.includes(svc)) continue;
    if (spec.remove_orphans) parts.push(part(t, svc, 'delete', 'orphan', 'it is no longer in the compose files (orphan)', { containers: list.map((c) => c.name), image: list[0]!.image }, null, 'removed'));
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

/**
 * A service with containers that the manifest's profiles no longer activate. v1: in the files but not
 * active. v2 (whose `config` lists active services only): not active, and not an orphan compose removes.
 */
function inactiveProfile(svc: string, desired: StackDesired, spec: StackSpec): boolean {
  if (svc in desired.services) return false;
  if (desired.generation === 2) return spec.remove_orphans && !desired.all.includes(svc) && desired.actions?.[svc] !== 'remove';
  return desired.all.includes(svc);
}

/** One error per external network or volume the files name that the engine does not have. */
function missingExternal(missing: string[], creators: string[]): Diagnostic[] {
  return missing.map((x) => {
    const [what, name] = x.split(' ');
    if (creators.length) return { severity: 'warning', summary: `external ${x} does not exist yet: expected from ${creators.join(', ')} (applied first); apply checks it again before compose runs` };
    return { severity: 'error', summary: `external ${x} does not exist (compose would fail at up)`, detail: `Create it first (docker ${what} create ${name}), or let compose make it: remove external: true from the compose file.` };
  });
}
