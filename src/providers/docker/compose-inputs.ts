// What compose reads for one stack (files, env files, the variables the files name): the cache key in
// front of compose's own answer, so that a no-op plan of an unchanged stack spawns no compose.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { MiB, readRegularFile } from '../../core/fs.js';
import { envFileValues, type StackCall } from './compose.js';
/** Environment variables compose reads besides those the files name. */
const COMPOSE_ENV = /^(COMPOSE_|DOCKER_)/;

/** `$VAR`, `${VAR}`, `${VAR:-x}`… named in a compose file (not `$$`). */
export function referencedVariables(text: string): string[] {
  const out = new Set<string>();
  const re = /\$(\$)|\$\{([A-Za-z_][A-Za-z0-9_]*)|\$([A-Za-z_][A-Za-z0-9_]*)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[1]) continue;
    out.add((m[2] ?? m[3])!);
  }
  return [...out].sort();
}

/** Files a compose file makes compose read: services' env_file, and extends.file. */
export function referencedFiles(doc: unknown, projectDir: string, required?: string[], profiles?: string[]): string[] {
  const out: string[] = [];
  const services = (doc as { services?: Record<string, Record<string, unknown>> } | null)?.services;
  if (!services || typeof services !== 'object') return out;
  const add = (p: unknown, must = true) => {
    if (typeof p === 'string' && p && !p.includes('$')) {
      out.push(path.resolve(projectDir, p));
      if (must) required?.push(path.resolve(projectDir, p));
    } else if (p && typeof p === 'object' && typeof (p as { path?: unknown }).path === 'string') add((p as { path: string }).path, must && (p as { required?: unknown }).required !== false);
  };
  for (const svc of Object.values(services)) {
    if (!svc || typeof svc !== 'object') continue;
    // compose reads the env files of active services only (no `profiles:`, or one of them enabled).
    const own = Array.isArray(svc.profiles) ? svc.profiles.map(String) : [];
    const active = !profiles || !own.length || profiles.includes('*') || own.some((p) => profiles.includes(p));
    const ef = svc.env_file;
    if (Array.isArray(ef)) ef.forEach((e) => add(e, active));
    else add(ef, active);
    const ext = svc.extends as { file?: unknown } | undefined;
    if (ext && typeof ext === 'object') add(ext.file);
  }
  return out;
}

async function readOrNull(file: string): Promise<string | null> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch {
    return null;
  }
}

/**
 * A file compose will read (compose file, env file): null when it does not exist (yet); a FIFO, device
 * or folder, or a file over 16 MiB, is refused before anything is read (it could block or never end).
 */
async function readInput(file: string): Promise<string | null> {
  try {
    return await readRegularFile(file, 16 * MiB);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Everything compose reads to answer `config --hash`: the tool, the call, every file's bytes (compose
 * files, env files, the project's .env, env_file/extends files the compose files name) and the
 * variables the files mention plus COMPOSE_* and DOCKER_*. The caller digests `key` with the state key.
 * `missing` lists env files compose needs that do not exist (yet: a dependency may write them).
 */
/** Where a service's environment comes from: its env_file files (in order) and the keys its `environment:` writes. */
export interface ServiceEnv {
  files: string[];
  literal: string[];
  /**
   * Where the service's own values interpolate variables: `environment.KEY` / `labels.KEY` for one
   * entry, else the top-level field (`command`, `ports`, `healthcheck`…) → the variables named there.
   */
  interp?: Record<string, string[]>;
}

/** Every `${VAR}` a raw value names (strings anywhere inside it). */
function varsIn(v: unknown): string[] {
  if (typeof v === 'string') return referencedVariables(v);
  if (Array.isArray(v)) return [...new Set(v.flatMap(varsIn))];
  if (v && typeof v === 'object') return [...new Set(Object.values(v).flatMap(varsIn))];
  return [];
}

function interpolations(svc: Record<string, unknown>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const add = (at: string, vars: string[]) => {
    if (vars.length) out[at] = [...new Set([...(out[at] ?? []), ...vars])].sort();
  };
  for (const [k, v] of Object.entries(svc)) {
    if ((k === 'environment' || k === 'labels') && Array.isArray(v)) {
      for (const x of v) {
        const text = String(x);
        const eq = text.indexOf('=');
        if (eq > 0) add(`${k}.${text.slice(0, eq)}`, referencedVariables(text.slice(eq + 1)));
      }
    } else if ((k === 'environment' || k === 'labels') && v && typeof v === 'object') {
      for (const [kk, x] of Object.entries(v)) add(`${k}.${kk}`, varsIn(x));
    } else add(k, varsIn(v));
  }
  return out;
}

function serviceEnvOf(doc: unknown, projectDir: string, into: Record<string, ServiceEnv>): void {
  const services = (doc as { services?: Record<string, Record<string, unknown>> } | null)?.services;
  if (!services || typeof services !== 'object') return;
  for (const [name, svc] of Object.entries(services)) {
    if (!svc || typeof svc !== 'object') continue;
    const e = (into[name] ??= { files: [], literal: [] });
    const interp = interpolations(svc);
    if (Object.keys(interp).length) e.interp = { ...(e.interp ?? {}), ...interp };
    const ef = Array.isArray(svc.env_file) ? svc.env_file : svc.env_file ? [svc.env_file] : [];
    for (const f of ef) {
      const p = typeof f === 'string' ? f : f && typeof f === 'object' ? (f as { path?: unknown }).path : null;
      if (typeof p === 'string' && !e.files.includes(path.resolve(projectDir, p))) e.files.push(path.resolve(projectDir, p));
    }
    const env = svc.environment;
    if (Array.isArray(env)) for (const x of env) e.literal.push(String(x).split('=')[0]!);
    else if (env && typeof env === 'object') e.literal.push(...Object.keys(env));
  }
}

interface FileFacts {
  env: Record<string, ServiceEnv>;
  refs: string[];
  required: string[];
  /** Why compose must not be started on this file (an alias bomb: compose would take gigabytes). */
  refused?: string;
}

/** Bumped when FileFacts gains a field (the on-disk cache is keyed by it). */
const FACTS_FORMAT = 2;
const factsMemo = new Map<string, FileFacts | null>();

/**
 * What one compose file says about env files (its services' env_file and environment keys, the files it
 * makes compose read). Parsing YAML is the largest cost of a cached plan (about 0.2 s for upstream's
 * 48 KB file on a busy machine), so the answer is kept in memory and in `cacheDir`, keyed by the text,
 * the project directory and the enabled profiles. null: the file is not valid YAML.
 */
async function fileFacts(text: string, projectDir: string, enabled: string[], cacheDir?: string): Promise<FileFacts | null> {
  const { createHash } = await import('node:crypto');
  const id = createHash('sha256').update(JSON.stringify([FACTS_FORMAT, text, projectDir, enabled])).digest('hex');
  if (factsMemo.has(id)) return factsMemo.get(id)!;
  const file = cacheDir ? path.join(cacheDir, `compose-facts-${id.slice(0, 32)}.json`) : null;
  if (file) {
    const hit = await readOrNull(file);
    if (hit !== null) {
      try {
        const facts = JSON.parse(hit) as FileFacts | null;
        factsMemo.set(id, facts);
        return facts;
      } catch {
        /* rewritten below */
      }
    }
  }
  let facts: FileFacts | null;
  try {
    const { parse } = await import('yaml');
    // `<<: *common` in every service is normal; an alias bomb is millions of expansions
    const doc: unknown = parse(text, { maxAliasCount: 10_000 });
    const env: Record<string, ServiceEnv> = {};
    const required: string[] = [];
    serviceEnvOf(doc, projectDir, env);
    facts = { env, refs: referencedFiles(doc, projectDir, required, enabled), required };
  } catch (err) {
    // yaml stops at its alias budget; compose has none and would grow to gigabytes: refuse before it starts
    facts = /alias/i.test((err as Error).message) ? { env: {}, refs: [], required: [], refused: 'too many YAML aliases (an alias bomb?): compose is not started on it' } : null;
  }
  factsMemo.set(id, facts);
  if (file) {
    const { writeFileAtomic } = await import('../../core/fs.js');
    await fsp.mkdir(path.dirname(file), { recursive: true }).catch(() => undefined);
    await writeFileAtomic(file, JSON.stringify(facts), { mode: 0o600 }).catch(() => undefined);
  }
  return facts;
}

export async function cacheKeyInputs(
  tool: string,
  s: StackCall,
  env: NodeJS.ProcessEnv,
  cacheDir?: string,
): Promise<{
  key: string;
  missing: string[];
  secrets: string[];
  secretKeyed: string[];
  serviceEnv: Record<string, ServiceEnv>;
  envFileKeys: Record<string, string[]>;
  maskedVars: string[];
  varValues: Record<string, string>;
}> {
  const serviceEnv: Record<string, ServiceEnv> = {};
  const files: [string, string | null][] = [];
  const vars = new Set<string>();
  const extra = new Set<string>();
  const required: string[] = [];
  const enabled = [...s.profiles, ...(env.COMPOSE_PROFILES ?? '').split(',').map((x) => x.trim()).filter(Boolean)];
  for (const f of s.files) {
    const text = await readInput(f);
    files.push([f, text]);
    if (text === null) continue;
    for (const v of referencedVariables(text)) vars.add(v);
    const facts = await fileFacts(text, s.project_directory, enabled, cacheDir);
    if (!facts) continue; // compose will say what is wrong
    if (facts.refused) throw Object.assign(new Error(`${f}: ${facts.refused}`), { code: 'EALIASES' });
    for (const [svc, e] of Object.entries(facts.env)) {
      const into = (serviceEnv[svc] ??= { files: [], literal: [] });
      for (const f of e.files) if (!into.files.includes(f)) into.files.push(f);
      into.literal.push(...e.literal);
      // a later file's field replaces the earlier one's (compose merges overrides the same way)
      if (e.interp) into.interp = { ...(into.interp ?? {}), ...e.interp };
    }
    required.push(...facts.required);
    for (const r of facts.refs) extra.add(r);
  }
  for (const f of [...s.env_files, path.join(s.project_directory, '.env'), ...extra]) files.push([f, await readInput(f)]);
  const environment: [string, string | null][] = [];
  for (const k of Object.keys(env).filter((k) => COMPOSE_ENV.test(k)).sort()) vars.add(k);
  for (const k of [...vars].sort()) environment.push([k, env[k] ?? null]);
  const absent = new Set(files.filter(([, t]) => t === null).map(([f]) => f));
  const missing = [...new Set([...s.env_files, ...required])].filter((f) => absent.has(f));
  // Values compose may quote back (env files and the variables the files name): scrubbed from its output.
  const secrets: string[] = [];
  const envLike = new Set([...s.env_files, path.join(s.project_directory, '.env'), ...extra]);
  // Values under secret-looking keys: masked wherever they appear in a service's config.
  const secretKeyed: string[] = [];
  const SECRETISH = /pass(word)?|secret|token|api[_-]?key|private|credential|auth|_key$/i;
  const envFileKeys: Record<string, string[]> = {};
  for (const [f, text] of files) {
    if (text === null || !envLike.has(f)) continue;
    const vals = envFileValues(text);
    for (const [k, v] of vals) {
      secrets.push(v);
      if (SECRETISH.test(k)) secretKeyed.push(v);
    }
    envFileKeys[f] = [...vals.keys()];
  }
  for (const [k, v] of environment) {
    if (v === null || COMPOSE_ENV.test(k)) continue;
    secrets.push(v);
    if (SECRETISH.test(k)) secretKeyed.push(v);
  }
  // Variables whose value the plan masks somewhere: every key of an env file a service reads
  // (`env_file:` values are shown only as "sensitive") and every secret-looking name. A value that
  // interpolates one of them is masked whole wherever it appears (see sensitivePaths).
  const maskedVars = new Set<string>();
  const serviceFiles = new Set(Object.values(serviceEnv).flatMap((e) => e.files));
  for (const [f, keys] of Object.entries(envFileKeys)) for (const k of keys) if (serviceFiles.has(f) || SECRETISH.test(k)) maskedVars.add(k);
  for (const k of vars) if (SECRETISH.test(k)) maskedVars.add(k);
  // The value each variable the files name takes (the environment wins over env files, as in compose).
  const varValues: Record<string, string> = {};
  for (const [f, text] of files) if (text !== null && envLike.has(f)) for (const [k, v] of envFileValues(text)) if (vars.has(k)) varValues[k] ??= v;
  for (const [k, v] of environment) if (v !== null) varValues[k] = v;
  return {
    key: JSON.stringify({ v: 2, tool, project: s.project, dir: s.project_directory, profiles: s.profiles, files, environment }),
    missing,
    secrets,
    secretKeyed,
    serviceEnv,
    envFileKeys,
    maskedVars: [...maskedVars].sort(),
    varValues,
  };
}
