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
 * Which compose to run, decided from the file system only (no process spawned, so a cached no-op plan
 * stays fast). `override` is the manifest's `compose.command`; its version is asked when first run.
 */
export function findCompose(env: NodeJS.ProcessEnv, override: string[] | null): ComposeTool | { error: string } {
  if (override?.length) {
    const v1 = override.length === 1 && /(^|\/)docker-compose$/.test(override[0]!);
    const v2 = override.length === 2 && override[1] === 'compose';
    return { argv: override, version: v1 ? 1 : v2 ? 2 : 0, how: `compose.command: ${override.join(' ')}` };
  }
  const docker = onPath('docker', env);
  if (docker && pluginDirs(env).some((d) => existsSync(path.join(d, 'docker-compose')))) return { argv: [docker, 'compose'], version: 2, how: 'docker compose (v2 plugin)' };
  const v1 = onPath('docker-compose', env);
  if (v1) return { argv: [v1], version: 1, how: 'docker-compose (v1)' };
  return {
    error:
      'docker compose is not installed: tried `docker compose` (v2 plugin: no docker-compose in the docker CLI plugin folders' +
      `${docker ? '' : ', and no `docker` on PATH'}) and \`docker-compose\` (v1: not on PATH). ` +
      'Install one (e.g. `apt-get install docker-compose` or the docker-compose-plugin package), or set `compose.command` in the manifest.',
  };
}

/** Ask a `compose.command` which major version it is (`version --short`: "1.29.2", "2.29.1", "v2.x"). */
export async function probeVersion(tool: ComposeTool, env: NodeJS.ProcessEnv): Promise<1 | 2> {
  if (tool.version) return tool.version;
  const { execa } = await import('execa');
  const r = await execa(tool.argv[0]!, [...tool.argv.slice(1), 'version', '--short'], { env, reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) throw new OperationError(`${tool.argv.join(' ')} version --short failed (${tool.how}): ${String(r.stderr || r.stdout).trim() || `exit ${r.exitCode}`}`);
  tool.version = /^v?1\./.test(String(r.stdout).trim()) ? 1 : 2;
  return tool.version;
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
  const { execa } = await import('execa');
  let tmp: string | null = null;
  let envArgs: string[] = [];
  if (s.env_files.length && (tool.version === 2 || s.env_files.length === 1)) {
    envArgs = s.env_files.flatMap((f) => ['--env-file', f]);
  } else if (s.env_files.length) {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'pmoves-compose-env-'));
    const merged = path.join(tmp, 'env');
    const texts = await Promise.all(s.env_files.map((f) => fsp.readFile(f, 'utf8')));
    await fsp.writeFile(merged, texts.map((t) => (t.endsWith('\n') ? t : t + '\n')).join(''), { mode: 0o600 });
    envArgs = ['--env-file', merged];
  }
  try {
    const argv = baseArgs(tool, s, envArgs).concat(args);
    const child = execa(tool.argv[0]!, argv, {
      env: { ...opts.env, COMPOSE_ANSI: 'never', COMPOSE_PROGRESS: 'plain' },
      extendEnv: false,
      reject: false,
      cancelSignal: opts.signal,
      stdin: 'ignore',
      stripFinalNewline: false,
      ...(opts.onLine ? { lines: false } : {}),
    });
    if (opts.onLine) {
      const feed = (stream: NodeJS.ReadableStream | null) => {
        let buf = '';
        stream?.on('data', (c: Buffer) => {
          buf += c.toString('utf8');
          const parts = buf.split(/\r?\n|\r/);
          buf = parts.pop()!;
          for (const p of parts) if (p.trim()) opts.onLine!(p.trimEnd());
        });
        stream?.on('end', () => {
          if (buf.trim()) opts.onLine!(buf.trimEnd());
        });
      };
      feed(child.stdout);
      feed(child.stderr);
    }
    const r = await child;
    if ((r as { code?: string }).code === 'ENOENT' || (r.failed && r.exitCode === undefined && /ENOENT/.test(String(r.message)))) {
      throw new OperationError(`${tool.argv[0]}: not found (${tool.how})`);
    }
    return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? 1 };
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
}

export async function composeDesired(tool: ComposeTool, s: StackCall, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<ComposeDesired> {
  const [h, c] = await Promise.all([runCompose(tool, s, ['config', '--hash', '*'], { env, signal }), runCompose(tool, s, ['config'], { env, signal })]);
  if (c.exitCode !== 0) throw new ComposeError(composeMessage(c));
  if (h.exitCode !== 0) throw new ComposeError(composeMessage(h));
  const { parse } = await import('yaml');
  const doc = (parse(c.stdout) ?? {}) as { services?: Record<string, Record<string, unknown>> };
  return { hashes: parseHashes(h.stdout), services: doc.services ?? {} };
}

/** compose rejected the files (missing, invalid): its own words go under the address. */
export class ComposeError extends Error {
  override name = 'ComposeError';
}

// ---- the cache key -------------------------------------------------------------------------------

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
export function referencedFiles(doc: unknown, projectDir: string, required?: string[]): string[] {
  const out: string[] = [];
  const services = (doc as { services?: Record<string, Record<string, unknown>> } | null)?.services;
  if (!services || typeof services !== 'object') return out;
  const add = (p: unknown, must = true) => {
    if (typeof p === 'string' && p && !p.includes('$')) {
      out.push(path.resolve(projectDir, p));
      if (must) required?.push(path.resolve(projectDir, p));
    } else if (p && typeof p === 'object' && typeof (p as { path?: unknown }).path === 'string') add((p as { path: string }).path, (p as { required?: unknown }).required !== false);
  };
  for (const svc of Object.values(services)) {
    if (!svc || typeof svc !== 'object') continue;
    const ef = svc.env_file;
    if (Array.isArray(ef)) ef.forEach((e) => add(e));
    else add(ef);
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
 * Everything compose reads to answer `config --hash`: the tool, the call, every file's bytes (compose
 * files, env files, the project's .env, env_file/extends files the compose files name) and the
 * variables the files mention plus COMPOSE_* and DOCKER_*. The caller digests `key` with the state key.
 * `missing` lists env files compose needs that do not exist (yet: a dependency may write them).
 */
export async function cacheKeyInputs(tool: string, s: StackCall, env: NodeJS.ProcessEnv): Promise<{ key: string; missing: string[] }> {
  const { parse } = await import('yaml');
  const files: [string, string | null][] = [];
  const vars = new Set<string>();
  const extra = new Set<string>();
  const required: string[] = [];
  for (const f of s.files) {
    const text = await readOrNull(f);
    files.push([f, text]);
    if (text === null) continue;
    for (const v of referencedVariables(text)) vars.add(v);
    try {
      for (const r of referencedFiles(parse(text), s.project_directory, required)) extra.add(r);
    } catch {
      /* compose will say what is wrong */
    }
  }
  for (const f of [...s.env_files, path.join(s.project_directory, '.env'), ...extra]) files.push([f, await readOrNull(f)]);
  const environment: [string, string | null][] = [];
  for (const k of Object.keys(env).filter((k) => COMPOSE_ENV.test(k)).sort()) vars.add(k);
  for (const k of [...vars].sort()) environment.push([k, env[k] ?? null]);
  const absent = new Set(files.filter(([, t]) => t === null).map(([f]) => f));
  const missing = [...new Set([...s.env_files, ...required])].filter((f) => absent.has(f));
  return { key: JSON.stringify({ v: 1, tool, project: s.project, dir: s.project_directory, profiles: s.profiles, files, environment }), missing };
}
