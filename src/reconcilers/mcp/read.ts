// Reading mcp.<name>: each agent's config file, pmoves' registry, the commands it needs and one
// handshake with the server (its readiness).
import { MiB, pathKind, readRegularFileWithMode } from '../../core/fs.js';
import path from 'node:path';
import type { RunContext, Target } from '../../core/kind.js';
import { CLIENT_IDS, CLIENTS, type ClientId } from '../../providers/mcp/clients.js';
import { ConfigSyntaxError, readJsonEntry } from '../../providers/mcp/json-edit.js';
import { missingCommands, probe, type ProbeResult, type ProbeTarget } from '../../providers/mcp/probe.js';
import { stateOf } from './intents.js';
import { PROBE_CAP_S, REGISTRY_KEY, registryPath, sameAt, type FileRead, type McpActual, type McpSpec } from './spec.js';

export async function readFile(file: string, read: (text: string | null) => { entry: unknown; inline?: boolean }): Promise<FileRead> {
  let text: string | null = null;
  let mode: number | null = null;
  try {
    // an agent's config file: a regular file of at most 16 MiB (a FIFO or device is refused, never read)
    const r = await readRegularFileWithMode(file, 16 * MiB);
    text = r.text;
    mode = r.mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    const r = read(text);
    return { path: file, text, mode, entry: r.entry, ...(r.inline ? { inline: true } : {}) };
  } catch (err) {
    if (err instanceof ConfigSyntaxError) return { path: file, text, mode, entry: undefined, error: { message: err.message, line: err.line, column: err.column } };
    throw err;
  }
}

/** Agents whose config folder exists here (the default when neither clients nor mcp_clients is given). */
export async function detectClients(spec: McpSpec, env: NodeJS.ProcessEnv): Promise<ClientId[]> {
  const found: ClientId[] = [];
  for (const c of CLIENT_IDS) {
    // Claude Code's project file sits beside the manifest: the user-level ~/.claude says it is installed.
    const marker = c === 'claude-code' ? path.join(env.HOME ?? '', '.claude') : path.dirname(spec.paths[c]);
    if ((await pathKind(marker)) === 'dir') found.push(c);
  }
  return found;
}

const probeCache = new WeakMap<object, Map<string, Promise<ProbeResult>>>();

export function probeTargetOf(spec: McpSpec, env: NodeJS.ProcessEnv): ProbeTarget {
  const headers = { ...spec.headers };
  for (const [h, label] of Object.entries(spec.headers_from_secrets)) if (env[label] !== undefined) headers[h] = env[label]!;
  // All handshakes run inside one read of the kind, which the engine bounds (--refresh-timeout, default
  // 60 s): a probe never waits longer than PROBE_CAP_S, so one slow server cannot fail every other's read.
  const timeout = Math.min(spec.timeout, PROBE_CAP_S);
  return { transport: spec.transport, command: spec.command, args: spec.args, env: spec.env, cwd: spec.cwd, url: spec.url, headers, timeout, env_from_secrets: spec.env_from_secrets };
}

/** One handshake per server per run (apply re-reads every resource; the answer does not change). */
function probeOnce(ctx: RunContext, spec: McpSpec): Promise<ProbeResult> {
  let m = probeCache.get(ctx);
  if (!m) probeCache.set(ctx, (m = new Map()));
  const target = probeTargetOf(spec, ctx.env);
  const key = JSON.stringify({ ...target, headers: Object.keys(target.headers) });
  let p = m.get(key);
  if (!p) m.set(key, (p = probe(target, ctx.env)));
  return p;
}

/** A failed server's stderr and error may echo its credentials: never let those values through. */
function redacted(r: ProbeResult, spec: McpSpec, env: NodeJS.ProcessEnv): ProbeResult {
  if (r.ok) return r;
  const values = [...spec.env_from_secrets, ...Object.values(spec.headers_from_secrets)]
    .map((l) => env[l])
    .filter((v): v is string => typeof v === 'string' && v.length >= 4)
    .sort((a, b) => b.length - a.length);
  if (!values.length) return r;
  const hide = (text: string) => values.reduce((t, v) => t.split(v).join('(sensitive value)'), text);
  return { ...r, error: hide(r.error), stderr: hide(r.stderr) };
}

export async function readOne(ctx: RunContext, t: Target<McpSpec>): Promise<McpActual> {
  const spec = t.desired?.spec;
  const prior = stateOf(t);
  const clients = spec ? (spec.clients ?? (await detectClients(spec, ctx.env))) : [];
  const files: McpActual['files'] = {};
  const stale: McpActual['stale'] = {};
  const reads: Promise<void>[] = [];
  for (const c of clients) reads.push(readFile(spec!.paths[c], (text) => CLIENTS[c].read(text, t.name, spec!.at[c])).then((f) => void (files[c] = f)));
  for (const [c, file] of Object.entries(prior?.clients ?? {}) as [ClientId, string][]) {
    const at = prior?.at?.[c];
    if (clients.includes(c) && spec!.paths[c] === file && sameAt(spec!.at[c], at)) continue;
    reads.push(readFile(file, (text) => CLIENTS[c].read(text, t.name, at)).then((f) => void (stale[c] = { ...f, ...(at ? { at } : {}) })));
  }
  // Claude Code: a same-named server in one of its other scopes (one it did not get from us) shadows ours or is shadowed
  const shadows: McpActual['shadows'] = [];
  if (clients.includes('claude-code')) {
    const ours = prior?.clients['claude-code'];
    for (const loc of spec!.other_scopes) {
      if (ours === loc.path && sameAt(prior?.at?.['claude-code'], loc.at)) continue;
      reads.push(
        readFile(loc.path, (text) => CLIENTS['claude-code'].read(text, t.name, loc.at))
          .catch(() => null)
          .then((f) => void (f?.entry !== undefined && shadows.push({ ...loc, entry: f.entry }))),
      );
    }
  }
  const regFile = prior?.registry ?? registryPath(ctx.home.root);
  let registry!: FileRead;
  reads.push(readFile(regFile, (text) => readJsonEntry(text, REGISTRY_KEY, t.name)).then((f) => void (registry = f)));
  const missing = spec ? missingCommands(spec.required_commands, ctx.env) : [];
  const unset = spec ? [...spec.env_from_secrets, ...Object.values(spec.headers_from_secrets)].filter((l) => !ctx.env[l]) : [];
  const probing = spec && ctx.flags.probe !== false && !missing.length ? probeOnce(ctx, spec).then((r) => redacted(r, spec, ctx.env)) : Promise.resolve(null);
  const [probed] = await Promise.all([probing, ...reads]);
  // Readiness is health, not state: `volatile`, out of the actual-state digest, so a saved plan does not
  // go stale because a handshake took 12 ms longer or a server logged another line.
  shadows.sort((a, b) => a.scope.localeCompare(b.scope));
  return { clients, files, stale, shadows, registry, missing, unset, volatile: { probe: probed }, home: ctx.env.HOME ?? null };
}
