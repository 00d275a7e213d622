// The compose tool: which one (v2 plugin `docker compose`, else v1 `docker-compose`, or the manifest's
// `compose.command`), what it says a stack's services should be (`config --hash '*'`, `config`), and
// `up`/`down`. Spawning compose is the slow part (v1 takes ~0.45 s for `config --hash`), so the answer
// is cached in state under a keyed digest of everything compose reads: see cacheKeyInputs.
import { existsSync, promises as fsp, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OperationError } from '../../core/errors.js';

export interface ComposeTool {
  /** argv before the compose arguments: ['docker', 'compose'] or ['docker-compose']. */
  argv: string[];
  /** 2: the v2 plugin (has --wait); 1: Python docker-compose; 0: not known yet (see probeVersion). */
  version: 0 | 1 | 2;
  /** How it was chosen, for messages. */
  how: string;
}

export interface StackCall {
  project: string;
  project_directory: string;
  files: string[];
  profiles: string[];
  env_files: string[];
}

function onPath(cmd: string, env: NodeJS.ProcessEnv): string | null {
  if (cmd.includes('/')) return existsSync(cmd) ? cmd : null;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const full = path.join(dir, cmd);
    try {
      if (statSync(full).isFile()) return full;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** Where the docker CLI looks for plugins (docs: "Docker CLI plugins"). */
function pluginDirs(env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME || os.homedir();
  return [
    path.join(env.DOCKER_CONFIG || path.join(home, '.docker'), 'cli-plugins'),
    '/usr/local/lib/docker/cli-plugins',
    '/usr/local/libexec/docker/cli-plugins',
    '/usr/lib/docker/cli-plugins',
    '/usr/libexec/docker/cli-plugins',
  ];
}

/**
 * Which compose to run, decided from the file system only: the manifest's `compose.command`, else the
 * environment's `PMOVES_COMPOSE` (e.g. `docker-compose`, `docker compose`), else the v2 plugin, else
 * `docker-compose`. Its generation is not guessed from the name (a standalone v2 binary is also called
 * `docker-compose`): `composeVersion` asks the tool.
 */
export function findCompose(env: NodeJS.ProcessEnv, override: string[] | null): ComposeTool | { error: string } {
  if (override?.length) return { argv: override, version: 0, how: `compose.command: ${override.join(' ')}` };
  const fromEnv = (env.PMOVES_COMPOSE ?? '').trim();
  if (fromEnv) return { argv: fromEnv.split(/\s+/), version: 0, how: `PMOVES_COMPOSE=${fromEnv}` };
  const docker = onPath('docker', env);
  if (docker && pluginDirs(env).some((d) => existsSync(path.join(d, 'docker-compose')))) return { argv: [docker, 'compose'], version: 0, how: 'docker compose (v2 plugin)' };
  const v1 = onPath('docker-compose', env);
  if (v1) return { argv: [v1], version: 0, how: 'docker-compose' };
  return {
    error:
      'docker compose is not installed: tried `docker compose` (v2 plugin: no docker-compose in the docker CLI plugin folders' +
      `${docker ? '' : ', and no `docker` on PATH'}) and \`docker-compose\` (not on PATH). ` +
      'Install one (e.g. `apt-get install docker-compose` or the docker-compose-plugin package), or set `compose.command` in the manifest.',
  };
}

/** The file that identifies a tool's version: the plugin binary for `docker compose`, else argv[0]. */
function versionFile(tool: ComposeTool, env: NodeJS.ProcessEnv): string | null {
  if (tool.argv.length === 2 && tool.argv[1] === 'compose' && /(^|\/)docker$/.test(tool.argv[0]!)) {
    for (const d of pluginDirs(env)) if (existsSync(path.join(d, 'docker-compose'))) return path.join(d, 'docker-compose');
    return null;
  }
  return tool.argv.length === 1 ? onPath(tool.argv[0]!, env) : null;
}

const versionMemo = new Map<string, { version: 1 | 2; text: string }>();

/**
 * Ask compose which generation it is (`version --short`: "1.29.2", "2.26.1", "v2.x"). The answer is kept
 * in `cacheFile` (when given) under the binary's path, size and mtime, so a cached plan spawns nothing.
 */
export async function composeVersion(tool: ComposeTool, env: NodeJS.ProcessEnv, cacheFile?: string): Promise<{ version: 1 | 2; text: string }> {
  const bin = versionFile(tool, env);
  // The plugin binary identifies `docker compose` whichever `docker` runs it (a wrapper on PATH too).
  let id = bin && tool.argv[1] === 'compose' ? 'docker compose' : `${tool.argv.join(' ')}`;
  if (bin) {
    try {
      const st = statSync(bin);
      id += `|${bin}|${st.size}|${st.mtimeMs}`;
    } catch {
      /* asked below */
    }
  }
  const memo = versionMemo.get(id);
  if (memo) return (tool.version = memo.version), memo;
  // The docker CLI plugin is compose v2 by construction (v1 was never a plugin): no process to ask, the
  // binary's identity stands for its version text (a first plan spawns one compose process fewer).
  if (bin && tool.argv[1] === 'compose' && tool.argv.length === 2) {
    const got = { version: 2 as const, text: `plugin ${id}` };
    versionMemo.set(id, got);
    tool.version = 2;
    return got;
  }
  let cache: Record<string, { version: 1 | 2; text: string }> = {};
  if (cacheFile && bin) {
    try {
      cache = JSON.parse(await fsp.readFile(cacheFile, 'utf8'));
      if (cache[id]) {
        versionMemo.set(id, cache[id]!);
        tool.version = cache[id]!.version;
        return cache[id]!;
      }
    } catch {
      cache = {};
    }
  }
  const { runChild } = await import('../../core/child.js');
  const r = await runChild(tool.argv[0]!, [...tool.argv.slice(1), 'version', '--short'], { env: { ...process.env, ...env }, timeoutMs: 60_000 });
  if (r.spawnError?.code === 'ENOENT') throw new OperationError(`${tool.argv[0]}: not found (${tool.how})`);
  if (r.exitCode !== 0) throw new OperationError(`${tool.argv.join(' ')} version --short failed (${tool.how}): ${String(r.stderr || r.stdout).trim().split('\n')[0] || `exit ${r.exitCode}`}`);
  const text = String(r.stdout).trim();
  const got = { version: (/^v?1\./.test(text) ? 1 : 2) as 1 | 2, text };
  versionMemo.set(id, got);
  tool.version = got.version;
  if (cacheFile && bin) {
    const { writeFileAtomic } = await import('../../core/fs.js');
    await fsp.mkdir(path.dirname(cacheFile), { recursive: true });
    await writeFileAtomic(cacheFile, JSON.stringify({ ...cache, [id]: got }, null, 2) + '\n').catch(() => undefined);
  }
  return got;
}

/** Ask a tool its generation (kept for callers that need only the number). */
export async function probeVersion(tool: ComposeTool, env: NodeJS.ProcessEnv): Promise<1 | 2> {
  if (tool.version) return tool.version;
  return (await composeVersion(tool, env)).version;
}

/** The arguments every compose call of a stack starts with. v1 reads one --env-file: `envFile` is the merged one. */
export function baseArgs(tool: ComposeTool, s: StackCall, envFileArgs: string[]): string[] {
  return [
    ...tool.argv.slice(1),
    '--project-name',
    s.project,
    '--project-directory',
    s.project_directory,
    ...s.files.flatMap((f) => ['--file', f]),
    ...s.profiles.flatMap((p) => ['--profile', p]),
    ...envFileArgs,
  ];
}

export interface RunOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** How long compose may take to answer a question (config, a dry run): a plan never hangs on it. */
const COMPOSE_QUESTION_TIMEOUT_MS = 120_000;

/**
 * Run compose with the stack's arguments. v1 takes a single --env-file: several are merged (later
 * wins, as v2 does) into a private temp file that is removed afterwards. `onLine` streams output.
 */
export async function runCompose(
  tool: ComposeTool,
  s: StackCall,
  args: string[],
  opts: { env: NodeJS.ProcessEnv; signal?: AbortSignal; onLine?: (line: string) => void },
): Promise<RunOutput> {
  const { runChild } = await import('../../core/child.js');
  if (!tool.version) await composeVersion(tool, opts.env);
  let tmp: string | null = null;
  let envArgs: string[] = [];
  if (s.env_files.length && (tool.version === 2 || s.env_files.length === 1)) {
    envArgs = s.env_files.flatMap((f) => ['--env-file', f]);
  } else if (s.env_files.length) {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'pmoves-compose-env-'));
    const merged = path.join(tmp, 'env');
    const { readRegularFile } = await import('../../core/fs.js');
    const texts = await Promise.all(s.env_files.map((f) => readRegularFile(f, 16 * 1024 * 1024)));
    await fsp.writeFile(merged, texts.map((t) => (t.endsWith('\n') ? t : t + '\n')).join(''), { mode: 0o600 });
    envArgs = ['--env-file', merged];
  }
  try {
    const argv = baseArgs(tool, s, envArgs).concat(args);
    // Its own process group, killed with everything in it on a deadline, cancel, interrupt or exit
    // (core/child.ts). Questions (config, a dry run) get a deadline; changes (up, down) only the others.
    const asks = args[0] === 'config' || args.includes('--dry-run') || args[0] === 'ps';
    const r = await runChild(tool.argv[0]!, argv, {
      env: { ...opts.env, COMPOSE_ANSI: 'never', COMPOSE_PROGRESS: 'plain' },
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(asks ? { timeoutMs: COMPOSE_QUESTION_TIMEOUT_MS } : {}),
      ...(opts.onLine ? { onLine: opts.onLine } : {}),
    });
    if (r.spawnError?.code === 'ENOENT') throw new OperationError(`${tool.argv[0]}: not found (${tool.how})`);
    if (r.killed === 'timeout') return { stdout: r.stdout, stderr: `compose did not answer within ${COMPOSE_QUESTION_TIMEOUT_MS / 1000}s and was stopped`, exitCode: 1 };
    if (r.killed === 'output') return { stdout: '', stderr: 'compose wrote more than 64 MiB and was stopped', exitCode: 1 };
    // stopped by us (watch's SIGTERM, a cancelled apply): not compose's verdict on the files
    if (r.killed === 'cancelled') throw Object.assign(new Error('compose was cancelled (the command is stopping)'), { name: 'AbortError' });
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
  } finally {
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  }
}

/** compose's own complaint, without its noise (WARNING lines about unset variables stay: they matter). */
export function composeMessage(r: RunOutput): string {
  const text = (r.stderr.trim() || r.stdout.trim() || `exited with code ${r.exitCode}`).split('\n').filter((l) => l.trim());
  return text.join('\n');
}

/** `config --hash '*'` output → service → hash (only the services active under the profiles). */
export function parseHashes(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^(\S+)\s+([0-9a-f]{64})\s*$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** What compose says one stack should be: per-service hashes and normalised configs (plain YAML data). */
export interface ComposeDesired {
  hashes: Record<string, string>;
  /** Every service in the files (also those whose profile is not active): `config` output. */
  services: Record<string, Record<string, unknown>>;
  /** The project's networks and volumes (`config` output's top-level keys). */
  top: ProjectTop;
}

/** Top-level networks and volumes of a project: names as the engine knows them. */
export interface ProjectTop {
  /** external: true ones, which compose expects to exist. */
  external: { networks: string[]; volumes: string[] };
  /** Named volumes compose creates for the project (`down --volumes` removes them). */
  volumes: string[];
}

function topOf(doc: { name?: string; networks?: Record<string, unknown>; volumes?: Record<string, unknown> }, project: string): ProjectTop {
  const names = (m: Record<string, unknown> | undefined, external: boolean) =>
    Object.entries(m ?? {})
      .filter(([, v]) => Boolean((v as { external?: unknown } | null)?.external) === external)
      .map(([k, v]) => {
        const o = (v ?? {}) as { name?: unknown; external?: unknown };
        const ext = o.external as { name?: unknown } | boolean | undefined;
        if (typeof o.name === 'string') return o.name;
        if (ext && typeof ext === 'object' && typeof ext.name === 'string') return ext.name;
        return external ? k : `${project}_${k}`;
      });
  return { external: { networks: names(doc.networks, true), volumes: names(doc.volumes, true) }, volumes: names(doc.volumes, false) };
}

export async function composeDesired(tool: ComposeTool, s: StackCall, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<ComposeDesired> {
  const [h, c] = await Promise.all([runCompose(tool, s, ['config', '--hash', '*'], { env, signal }), runCompose(tool, s, ['config'], { env, signal })]);
  if (c.exitCode !== 0) throw new ComposeError(composeMessage(c));
  if (h.exitCode !== 0) throw new ComposeError(composeMessage(h));
  const { parse } = await import('yaml');
  const doc = (parse(c.stdout) ?? {}) as { services?: Record<string, Record<string, unknown>> };
  return { hashes: parseHashes(h.stdout), services: doc.services ?? {}, top: topOf(doc as Parameters<typeof topOf>[0], s.project) };
}

/** What compose v2 says `up` would do to one service (`--dry-run up -d`). */
export type DryAction = 'create' | 'recreate' | 'start' | 'remove';

/**
 * `docker compose --dry-run up -d [--remove-orphans] [SERVICE…]`: compose's own word on what `up` would do,
 * per service. Container names are `<project>-<service>-<n>` (a recreated one is shown again under
 * `<id12>_<name>`); events: Creating/Created, Recreate/Recreated, Starting/Started, Removing/Removed,
 * Running (nothing to do). A stopped container shows Created then Starting: that is a start.
 */
export function parseDryRun(text: string, project: string, services: string[]): Record<string, DryAction> {
  const events = new Map<string, Set<string>>();
  const byName = [...services].sort((a, b) => b.length - a.length);
  for (const line of text.split('\n')) {
    const m = /DRY-RUN MODE -\s+Container\s+(\S+)\s+(\w+)/.exec(line);
    if (!m) continue;
    const name = m[1]!.replace(/^[0-9a-f]{12}_/, '');
    let svc: string | undefined;
    const bare = name.startsWith(`${project}-`) ? name.slice(project.length + 1).replace(/-\d+$/, '') : null;
    if (bare !== null && services.includes(bare)) svc = bare;
    else svc = byName.find((s) => name.includes(s)) ?? bare ?? name;
    events.set(svc, (events.get(svc) ?? new Set()).add(m[2]!));
  }
  const out: Record<string, DryAction> = {};
  for (const [svc, ev] of events) {
    if (ev.has('Removing') || ev.has('Removed')) out[svc] = 'remove';
    else if (ev.has('Recreate') || ev.has('Recreated')) out[svc] = 'recreate';
    else if (ev.has('Creating')) out[svc] = 'create';
    else if (ev.has('Starting') || ev.has('Started') || ev.has('Created')) out[svc] = 'start';
  }
  return out;
}

/** Services `up SERVICE…` acts on: those and what they depend on (`depends_on`, transitively). */
function withDependencies(services: Record<string, Record<string, unknown>>, named: string[]): string[] {
  const out = new Set<string>();
  const visit = (s: string) => {
    if (out.has(s) || !(s in services)) return;
    out.add(s);
    const d = services[s]!.depends_on;
    for (const x of Array.isArray(d) ? d.map(String) : d && typeof d === 'object' ? Object.keys(d) : []) visit(x);
  };
  for (const s of named) visit(s);
  return [...out];
}

/**
 * compose v2's answer for a stack: its normalised config (`config`, which under v2 lists the active
 * services only) and `--dry-run up -d` concurrently. When the project has no containers (`fresh`), `up`
 * can only create: every service it acts on is a `create`, and the dry run is not run (one process).
 */
export async function composeDryRun(
  tool: ComposeTool,
  s: StackCall,
  up: string[],
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
  opts: { fresh?: boolean; named?: string[] } = {},
): Promise<{ services: Record<string, Record<string, unknown>>; actions: Record<string, DryAction>; active: string[]; top: ProjectTop }> {
  // JSON, not YAML: parsing upstream's config as YAML was the largest cost of a first plan (~0.3 s).
  const [c, d] = await Promise.all([
    runCompose(tool, s, ['config', '--format', 'json'], { env, signal }),
    opts.fresh ? Promise.resolve(null) : runCompose(tool, s, ['--dry-run', 'up', '--detach', '--pull', 'never', ...up], { env, signal }),
  ]);
  if (c.exitCode !== 0) throw new ComposeError(composeMessage(c));
  let doc: { services?: Record<string, Record<string, unknown>> };
  try {
    doc = (JSON.parse(c.stdout) ?? {}) as typeof doc;
  } catch {
    // (its text holds the stack's values: never quoted)
    throw new ComposeError('compose config --format json printed something that is not JSON');
  }
  const top = topOf(doc as Parameters<typeof topOf>[0], s.project);
  if (d && d.exitCode !== 0) throw new DryRunError(composeMessage(d), top);
  // JSON spells out what YAML leaves out (`command: null`, `entrypoint: null`): drop a service's null fields.
  const services = Object.fromEntries(Object.entries(doc.services ?? {}).map(([k, v]) => [k, Object.fromEntries(Object.entries(v ?? {}).filter(([, x]) => x !== null))]));
  const active = Object.keys(services);
  if (!d) {
    const acted = opts.named?.length ? withDependencies(services, opts.named) : active;
    return { services, actions: Object.fromEntries(acted.map((x) => [x, 'create' as const])), active, top };
  }
  return { services, actions: parseDryRun(d.stdout + '\n' + d.stderr, s.project, Object.keys(services)), active, top };
}

/**
 * A function that replaces every value from `values` (env files, the interpolation environment, CHIT
 * bundles) in a line compose printed by `(sensitive value)`. Longest first, so a value that contains
 * another is replaced whole; values shorter than 4 characters are left (they would garble every line).
 */
export function scrubber(values: Iterable<string>): (line: string) => string {
  const list = [...new Set([...values].map((v) => v.trim()).filter((v) => v.length >= 4))].sort((a, b) => b.length - a.length);
  if (!list.length) return (l) => l;
  const re = new RegExp(list.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  return (l) => l.replace(re, '(sensitive value)');
}

/** `KEY=value` lines of an env file (compose's syntax: `#` comments, optional `export `, quotes). */
export function envFileValues(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([^=\s]+)\s*=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!.trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out.set(m[1]!, v);
  }
  return out;
}

/** compose rejected the files (missing, invalid): its own words go under the address. */
export class ComposeError extends Error {
  override name = 'ComposeError';
}

/**
 * The files are valid (`config` answered) but the dry run failed: most often an external network or
 * volume that does not exist yet. `top` lets the caller name such a cause instead of compose's words.
 */
export class DryRunError extends ComposeError {
  override name = 'DryRunError';
  constructor(
    message: string,
    readonly top: ProjectTop,
  ) {
    super(message);
  }
}
