// mcp.<name>: one MCP server, registered with each listed local agent in that agent's own config file
// (plus pmoves' registry), and proven ready by a real MCP handshake. Desired state = registrations;
// readiness is a health diagnostic on the plan, never a change.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Kind, LoadContext, PlanContext, RunContext, Target } from '../core/kind.js';
import { writeFileAtomic } from '../core/fs.js';
import type { Change, Diagnostic, PlanResult, StateEntry } from '../core/types.js';
import type { Expander } from '../manifest/load.js';
import { Mutex } from '../planner/concurrency.js';
import { catalogEntry, catalogIds, catalogSpec } from '../providers/mcp/catalog.js';
import { CLIENT_IDS, CLIENTS, type ClientId, type ServerEntrySpec } from '../providers/mcp/clients.js';
import { ConfigSyntaxError, editJsonEntry, readJsonEntry, sameJson } from '../providers/mcp/json-edit.js';
import { missingCommands, probe, type ProbeResult, type ProbeTarget } from '../providers/mcp/probe.js';

export interface McpSpec extends ServerEntrySpec {
  /** Display name (upstream's `name`). */
  name: string;
  /** Catalog id this came from (or will be resolved from by the expander). */
  from: string | null;
  /** The keys the manifest gave, kept to re-merge over the catalog. */
  given: Record<string, unknown> | null;
  /** null: the manifest's mcp_clients, else every agent whose config folder exists. */
  clients: ClientId[] | null;
  /** Config file of every client (defaults by each client's rules, or config_paths). */
  paths: Record<ClientId, string>;
  required_commands: string[];
  setup_instructions: string[];
}

interface McpState {
  /** client → config file holding an entry this tool wrote. */
  clients: Partial<Record<ClientId, string>>;
  registry: string;
}

interface FileRead {
  path: string;
  text: string | null;
  mode: number | null;
  entry: unknown;
  error?: { message: string; line: number; column: number };
  /** The entry exists in a form this tool does not edit (TOML inline table). */
  inline?: boolean;
}

export interface McpActual {
  /** Clients the resource resolves to on this machine (spec.clients or detected). */
  clients: ClientId[];
  files: Partial<Record<ClientId, FileRead>>;
  /** Files named in state but no longer where the spec points (path changed / client dropped). */
  stale: Partial<Record<ClientId, FileRead>>;
  registry: FileRead;
  missing: string[];
  /** Secret labels not set in this environment (names only). */
  unset: string[];
  probe: ProbeResult | null;
  /** HOME where it was read (paths under it are shown as ~/…). */
  home: string | null;
}

export const REGISTRY_KEY = 'servers';

/** Longest handshake the plan waits for (the engine's default read deadline is 60 s). */
export const PROBE_CAP_S = 55;

export function registryPath(root: string): string {
  return path.join(root, 'mcp', 'registry.json');
}

function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries((v as Record<string, unknown> | undefined) ?? {})) out[k] = String(x);
  return out;
}

// ---- normalize / expand ------------------------------------------------------------------------

function normalizeSpec(spec: Record<string, unknown>, name: string, ctx: LoadContext): McpSpec {
  const url = (spec.url as string | undefined) ?? null;
  const transport = (spec.transport as McpSpec['transport'] | undefined) ?? (url ? 'http' : 'stdio');
  const overrides = (spec.config_paths as Record<string, string> | undefined) ?? {};
  const paths = {} as Record<ClientId, string>;
  for (const c of CLIENT_IDS) paths[c] = overrides[c] ? ctx.resolvePath(overrides[c]) : CLIENTS[c].defaultPath(ctx.env, ctx.manifestDir);
  const args = ((spec.args as string[] | undefined) ?? []).map((a) => (a === '~' || a.startsWith('~/') ? ctx.resolvePath(a) : a));
  return {
    name: (spec.name as string | undefined) ?? name,
    from: (spec.from as string | undefined) ?? null,
    given: null,
    transport,
    command: (spec.command as string | undefined) ?? null,
    args,
    env: strMap(spec.env),
    cwd: spec.cwd ? ctx.resolvePath(spec.cwd as string) : null,
    url,
    headers: strMap(spec.headers),
    headers_from_secrets: strMap(spec.headers_from_secrets),
    clients: (spec.clients as ClientId[] | undefined) ?? null,
    paths,
    enabled_tools: (spec.enabled_tools as string[] | undefined) ?? null,
    disabled_tools: (spec.disabled_tools as string[] | undefined) ?? [],
    timeout: (spec.timeout as number | undefined) ?? 10,
    required_commands: (spec.required_commands as string[] | undefined) ?? [],
    env_from_secrets: (spec.env_from_secrets as string[] | undefined) ?? [],
    setup_instructions: (spec.setup_instructions as string[] | undefined) ?? [],
  };
}

/**
 * After the manifest's own resources (and a profile's): resolve `from:` (or a bare name that is a catalog
 * id) against the catalog, and fill `clients` from the manifest's top-level `mcp_clients`.
 */
export const mcpExpander: Expander = async (m, ctx) => {
  const diagnostics: Diagnostic[] = [];
  const defaults = (m.data.mcp_clients as ClientId[] | undefined) ?? null;
  const section = (m.data.mcp ?? {}) as Record<string, Record<string, unknown>>;
  for (const r of m.resources) {
    if (r.section !== 'mcp') continue;
    const spec = r.spec as McpSpec;
    const given = r.origin ? null : section[r.name];
    if (given && !spec.given) {
      const { depends_on: _d, requires: _r, ...rest } = given;
      const wantsCatalog = spec.from !== null || (spec.command === null && spec.url === null);
      if (wantsCatalog) {
        const id = spec.from ?? r.name;
        const entry = await catalogEntry(id);
        if (!entry) {
          if (spec.from !== null) {
            diagnostics.push({ severity: 'error', address: r.address, summary: `${r.address}.from: no MCP server "${id}" in the catalog (known: ${(await catalogIds()).join(', ')})`, location: ctx.locate(r.address, ['from']) });
          }
        } else {
          r.spec = { ...normalizeSpec(catalogSpec(entry, rest), r.name, ctx), given: rest };
        }
      }
    }
    const s = r.spec as McpSpec;
    if (s.clients === null && defaults) s.clients = [...defaults];
  }
  diagnostics.push(...(await labelsInBundles(m.resources, ctx)));
  return diagnostics;
};

/**
 * env_from_secrets / headers_from_secrets name CHIT labels: when the manifest renders CHIT bundles
 * (secrets.<name>.bundle), a label that none of them holds is probably a typo. Only labels are read here;
 * values never leave the bundle reader.
 */
async function labelsInBundles(resources: import('../core/types.js').Resource[], ctx: LoadContext): Promise<Diagnostic[]> {
  const bundles = [...new Set(resources.filter((r) => r.section === 'secrets').map((r) => (r.spec as { bundle?: string }).bundle).filter((b): b is string => typeof b === 'string'))];
  const servers = resources.filter((r) => r.section === 'mcp' && ((r.spec as McpSpec).env_from_secrets.length || Object.keys((r.spec as McpSpec).headers_from_secrets).length));
  if (!bundles.length || !servers.length) return [];
  const known = new Set<string>();
  const { readBundle, decodeBundle } = await import('../providers/chit/bundle.js');
  for (const b of bundles) {
    try {
      for (const label of decodeBundle(await readBundle(b), b).keys()) known.add(label);
    } catch {
      return []; // the secrets kind reports a bad bundle itself
    }
  }
  const out: Diagnostic[] = [];
  for (const r of servers) {
    const s = r.spec as McpSpec;
    const check = (label: string, at: (string | number)[]) => {
      if (!known.has(label)) {
        out.push({ severity: 'warning', address: r.address, summary: `${r.address}: CHIT label ${label} is in none of this manifest's bundles (${bundles.map((b) => path.basename(b)).join(', ')})`, location: r.origin ? undefined : ctx.locate(r.address, at) });
      }
    };
    s.env_from_secrets.forEach((l, i) => check(l, ['env_from_secrets', i]));
    for (const [h, l] of Object.entries(s.headers_from_secrets)) check(l, ['headers_from_secrets', h]);
  }
  return out;
}

// ---- per-client intents (pure; shared by plan and apply) ---------------------------------------

type Intent =
  | { client: ClientId; path: string; kind: 'write'; entry: Record<string, unknown>; owned: boolean; notes: string[] }
  /** `stale`: the file is one state remembers but the spec no longer points at (read into actual.stale). */
  | { client: ClientId; path: string; kind: 'remove'; stale: boolean; why: string }
  | { client: ClientId; path: string; kind: 'conflict'; entry: Record<string, unknown> }
  | { client: ClientId; path: string; kind: 'adopted' }
  | { client: ClientId; path: string; kind: 'unsupported'; why: string }
  | { client: ClientId; path: string; kind: 'broken'; error: NonNullable<FileRead['error']> | { message: string; line: number; column: number } };

function stateOf(t: Target<McpSpec>): McpState | undefined {
  return t.prior?.data as McpState | undefined;
}

export function registryEntry(spec: McpSpec, clients: ClientId[]): Record<string, unknown> {
  const e: Record<string, unknown> = { name: spec.name, transport: spec.transport };
  if (spec.transport === 'stdio') Object.assign(e, { command: spec.command, args: spec.args });
  else e.url = spec.url;
  if (Object.keys(spec.env).length) e.env_keys = Object.keys(spec.env).sort();
  if (spec.env_from_secrets.length) e.env_from_secrets = spec.env_from_secrets;
  if (Object.keys(spec.headers_from_secrets).length) e.headers_from_secrets = spec.headers_from_secrets;
  if (spec.from) e.from = spec.from;
  e.clients = clients;
  e.timeout = spec.timeout;
  return e;
}

function intentsOf(t: Target<McpSpec>, actual: McpActual, force: boolean): Intent[] {
  const prior = stateOf(t);
  const out: Intent[] = [];
  const spec = t.desired?.spec;
  if (spec) {
    for (const c of actual.clients) {
      const file = actual.files[c]!;
      if (file.error) {
        out.push({ client: c, path: file.path, kind: 'broken', error: file.error });
        continue;
      }
      const r = CLIENTS[c].entry(spec);
      const owned = prior?.clients[c] === file.path;
      if ('unsupported' in r) {
        out.push({ client: c, path: file.path, kind: 'unsupported', why: r.unsupported });
        // the entry pmoves wrote before (when the client could hold the server) goes
        if (owned && file.entry !== undefined) out.push({ client: c, path: file.path, kind: 'remove', stale: false, why: `${c} cannot hold this server any more: the entry pmoves wrote is removed` });
        continue;
      }
      if (file.entry !== undefined && !owned) {
        if (sameJson(file.entry, r.entry)) {
          // After an apply that failed half-way (state still says pending), an identical entry is the one
          // that apply wrote: take ownership back. Otherwise it is the user's and stays theirs.
          if (t.prior?.pending) out.push({ client: c, path: file.path, kind: 'write', entry: r.entry, owned: true, notes: r.notes });
          else out.push({ client: c, path: file.path, kind: 'adopted' });
          continue;
        }
        if (!force || file.inline) {
          out.push({ client: c, path: file.path, kind: 'conflict', entry: r.entry });
          continue;
        }
      }
      out.push({ client: c, path: file.path, kind: 'write', entry: r.entry, owned, notes: r.notes });
    }
  }
  for (const [c, file] of Object.entries(actual.stale) as [ClientId, FileRead][]) {
    if (file.entry === undefined || file.error) continue;
    const why = !spec
      ? 'the entry pmoves wrote is removed'
      : `${c} ${spec.clients?.includes(c) || actual.clients.includes(c) ? 'config moved' : 'is no longer listed'}: the entry pmoves wrote is removed`;
    out.push({ client: c, path: file.path, kind: 'remove', stale: true, why });
  }
  return out;
}

function newText(i: Intent, text: string | null, name: string): string | null {
  if (i.kind === 'write') return CLIENTS[i.client].edit(text, name, i.entry);
  if (i.kind === 'remove') return CLIENTS[i.client].edit(text, name, undefined);
  return null;
}

function registryText(t: Target<McpSpec>, actual: McpActual): string {
  const spec = t.desired?.spec;
  return editJsonEntry(actual.registry.text, REGISTRY_KEY, t.name, spec ? registryEntry(spec, actual.clients) : undefined);
}

function tilde(p: string, home: string | undefined): string {
  return home && p.startsWith(home + path.sep) ? `~${p.slice(home.length)}` : p;
}

// ---- the kind ----------------------------------------------------------------------------------

const locks = new Map<string, Mutex>();
function lockFor(file: string): Mutex {
  let m = locks.get(file);
  if (!m) locks.set(file, (m = new Mutex()));
  return m;
}

async function readFile(file: string, read: (text: string | null) => { entry: unknown; inline?: boolean }): Promise<FileRead> {
  let text: string | null = null;
  let mode: number | null = null;
  try {
    const [t, st] = await Promise.all([fsp.readFile(file, 'utf8'), fsp.stat(file)]);
    text = t;
    mode = st.mode & 0o777;
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

async function isDir(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Agents whose config folder exists here (the default when neither clients nor mcp_clients is given). */
export async function detectClients(spec: McpSpec, env: NodeJS.ProcessEnv): Promise<ClientId[]> {
  const found: ClientId[] = [];
  for (const c of CLIENT_IDS) {
    // Claude Code's project file sits beside the manifest: the user-level ~/.claude says it is installed.
    const marker = c === 'claude-code' ? path.join(env.HOME ?? '', '.claude') : path.dirname(spec.paths[c]);
    if (await isDir(marker)) found.push(c);
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

async function readOne(ctx: RunContext, t: Target<McpSpec>): Promise<McpActual> {
  const spec = t.desired?.spec;
  const prior = stateOf(t);
  const clients = spec ? (spec.clients ?? (await detectClients(spec, ctx.env))) : [];
  const files: McpActual['files'] = {};
  const stale: McpActual['stale'] = {};
  const reads: Promise<void>[] = [];
  for (const c of clients) reads.push(readFile(spec!.paths[c], (text) => CLIENTS[c].read(text, t.name)).then((f) => void (files[c] = f)));
  for (const [c, file] of Object.entries(prior?.clients ?? {}) as [ClientId, string][]) {
    if (clients.includes(c) && spec!.paths[c] === file) continue;
    reads.push(readFile(file, (text) => CLIENTS[c].read(text, t.name)).then((f) => void (stale[c] = f)));
  }
  const regFile = prior?.registry ?? registryPath(ctx.home.root);
  let registry!: FileRead;
  reads.push(readFile(regFile, (text) => readJsonEntry(text, REGISTRY_KEY, t.name)).then((f) => void (registry = f)));
  const missing = spec ? missingCommands(spec.required_commands, ctx.env) : [];
  const unset = spec ? [...spec.env_from_secrets, ...Object.values(spec.headers_from_secrets)].filter((l) => !ctx.env[l]) : [];
  const probing = spec && ctx.flags.probe !== false && !missing.length ? probeOnce(ctx, spec).then((r) => redacted(r, spec, ctx.env)) : Promise.resolve(null);
  const [probed] = await Promise.all([probing, ...reads]);
  const actual = { clients, files, stale, registry, missing, unset, home: ctx.env.HOME ?? null } as McpActual;
  // Readiness is health, not state: kept out of the actual-state digest (not enumerable), so a saved
  // plan does not go stale because a handshake took 12 ms longer or a server logged another line.
  Object.defineProperty(actual, 'probe', { value: probed, enumerable: false });
  return actual;
}

function readinessDiagnostics(t: Target<McpSpec>, actual: McpActual, registered: boolean): Diagnostic[] {
  const spec = t.desired?.spec;
  if (!spec) return [];
  const prefix = registered ? 'registered, not ready' : 'not ready';
  const out: Diagnostic[] = [];
  if (actual.missing.length) {
    out.push({ severity: 'warning', address: t.address, summary: `${prefix}: missing commands: ${actual.missing.join(', ')}`, ...(spec.setup_instructions.length ? { detail: spec.setup_instructions.map((s) => `- ${s}`).join('\n') } : {}) });
  } else if (actual.probe && !actual.probe.ok) {
    const lines = actual.probe.stderr ? actual.probe.stderr.split('\n').slice(-5) : [];
    out.push({ severity: 'warning', address: t.address, summary: `${prefix}: ${actual.probe.error}`, ...(lines.length ? { detail: `stderr: ${lines.join('\n')}` } : {}) });
  } else if (actual.probe?.ok && spec.enabled_tools) {
    const unknown = spec.enabled_tools.filter((x) => !(actual.probe as { tools: string[] }).tools.includes(x));
    if (unknown.length) out.push({ severity: 'warning', address: t.address, summary: `enabled_tools names tools the server does not offer: ${unknown.join(', ')}` });
  }
  if (actual.unset.length) {
    out.push({ severity: 'warning', address: t.address, summary: `${actual.unset.join(', ')} ${actual.unset.length > 1 ? 'are' : 'is'} not set in this environment; agents started from it will not have ${actual.unset.length > 1 ? 'them' : 'it'} (load the CHIT env file, e.g. env.shared)` });
  }
  return out;
}

export const mcpKind: Kind<McpSpec, McpActual> = {
  section: 'mcp',
  order: 40,
  schema: 'mcp.schema.json',

  normalize: (spec, name, ctx) => normalizeSpec(spec as Record<string, unknown>, name, ctx),

  async check(r, ctx) {
    const s = r.spec;
    const out: Diagnostic[] = [];
    const at = (p: (string | number)[]) => ctx.locate(r.address, p);
    if (s.command === null && s.url === null) {
      out.push({ severity: 'error', address: r.address, summary: `${r.address}: expected command (stdio), url (remote) or from (a catalog id: ${(await catalogIds()).join(', ')})`, location: at([]) });
    } else if (s.command !== null && s.url !== null) {
      out.push({ severity: 'error', address: r.address, summary: `${r.address}: give either command (stdio) or url (remote), not both`, location: at(['url']) });
    } else if (s.transport === 'stdio' && s.url !== null) {
      out.push({ severity: 'error', address: r.address, summary: `${r.address}.transport: stdio needs command, not url (use http or sse)`, location: at(['transport']) });
    } else if (s.transport !== 'stdio' && s.command !== null) {
      out.push({ severity: 'error', address: r.address, summary: `${r.address}.transport: ${s.transport} needs url, not command`, location: at(['transport']) });
    }
    return out;
  },

  read: (ctx, t) => readOne(ctx, t),

  async readAll(ctx, targets) {
    // Every server's handshake at once, each under its own deadline: the plan waits for the slowest.
    const out = new Map<string, McpActual | Error>();
    await Promise.all(
      targets.map((t) =>
        readOne(ctx, t).then(
          (a) => void out.set(t.address, a),
          (e: unknown) => void out.set(t.address, e instanceof Error ? e : new Error(String(e))),
        ),
      ),
    );
    return out;
  },

  plan(t, actual, ctx: PlanContext): PlanResult {
    const spec = t.desired?.spec;
    const home = actual.home ?? undefined;
    const intents = intentsOf(t, actual, Boolean(ctx.flags.force));
    const parts: Change[] = [];
    const diagnostics: Diagnostic[] = [];
    const warnings: string[] = [];
    for (const i of intents) {
      const file = i.kind === 'remove' && i.stale ? actual.stale[i.client]! : actual.files[i.client]!;
      const shown = tilde(i.path, home);
      switch (i.kind) {
        case 'broken':
          diagnostics.push({ severity: 'error', address: t.address, summary: `${CLIENTS[i.client].label} config: ${i.error.message}; nothing will be written to it`, location: `${i.path}:${i.error.line}:${i.error.column}` });
          break;
        case 'unsupported':
          diagnostics.push({ severity: 'warning', address: t.address, summary: `not registered with ${i.client}: ${i.why}` });
          break;
        case 'conflict':
          diagnostics.push({
            severity: 'warning',
            address: t.address,
            summary: `conflict: ${shown} already has a server "${t.name}" that pmoves did not write; apply leaves it alone${file.inline ? ' (it is written as inline keys; edit it by hand)' : ' (use apply --force to overwrite it)'}`,
          });
          break;
        case 'adopted':
          break;
        case 'write':
        case 'remove': {
          if (i.kind === 'write') for (const n of i.notes) warnings.push(n);
          const after = newText(i, file.text, t.name)!;
          if (after === (file.text ?? '')) {
            if (file.text !== null) parts.push(part(t, i.client, 'no-op', 'in sync', { [shown]: file.text }, { [shown]: after }));
            break;
          }
          const creating = file.text === null;
          const reason =
            i.kind === 'remove'
              ? i.why
              : file.entry === undefined
                ? `"${t.name}" is not registered with ${i.client}`
                : i.owned
                  ? `the entry in ${shown} differs from the manifest`
                  : `--force: the hand-written entry is overwritten`;
          parts.push(part(t, i.client, creating ? 'create' : 'update', reason, creating ? null : { [shown]: file.text }, { [shown]: after }));
          break;
        }
        default: {
          const never: never = i;
          throw new Error(`unknown intent ${JSON.stringify(never)}`);
        }
      }
    }
    const regAfter = registryText(t, actual);
    const regChanged = regAfter !== (actual.registry.text ?? '');
    const changing = parts.some((p) => p.action !== 'no-op') || (regChanged && (spec !== undefined || actual.registry.entry !== undefined));
    const before = actual.registry.entry ?? null;
    const registeredEverywhere = !changing && intents.every((i) => i.kind === 'write' || i.kind === 'adopted');
    diagnostics.push(...readinessDiagnostics(t, actual, registeredEverywhere));

    if (!spec) {
      if (!changing || !t.prior?.owned) return { action: 'no-op', reason: 'not declared any more', before, after: before, parts, diagnostics };
      return { action: 'delete', reason: 'it is no longer in the manifest; only the entries pmoves wrote are removed', before, after: null, parts, diagnostics, verb: 'unregistered' };
    }
    const after = registryEntry(spec, actual.clients);
    if (!changing) return { action: 'no-op', reason: 'registered', before, after: before ?? after, parts, diagnostics, ...(warnings.length ? { warnings } : {}) };
    const fresh = (!t.prior || t.prior.pending === 'create') && actual.registry.entry === undefined;
    const targets = parts.filter((p) => p.action !== 'no-op').map((p) => p.name.split('.').pop());
    return {
      action: fresh ? 'create' : 'update',
      reason: fresh ? `not registered yet${targets.length ? ` (${targets.join(', ')})` : ''}` : `registration differs${targets.length ? ` (${targets.join(', ')})` : ' (registry)'}`,
      before: fresh ? null : before,
      after,
      parts,
      diagnostics,
      ...(warnings.length ? { warnings: [...new Set(warnings)] } : {}),
      verb: fresh ? 'registered' : undefined,
    };
  },

  async apply(ctx, t, actual, planned) {
    const intents = intentsOf(t, actual, Boolean(ctx.flags.force));
    const prior = stateOf(t);
    const owned: Partial<Record<ClientId, string>> = {};
    // A file we could not parse this time keeps the ownership it had; conflicts never become ours.
    for (const i of intents) if (i.kind === 'broken' && prior?.clients[i.client] === i.path) owned[i.client] = i.path;
    const messages: string[] = [];
    for (const i of intents) {
      if (i.kind !== 'write' && i.kind !== 'remove') continue;
      await lockFor(i.path).run(async () => {
        // Another mcp resource may have written this file since we read it: edit the fresh text.
        const fresh = await readFile(i.path, (text) => CLIENTS[i.client].read(text, t.name));
        if (fresh.error) throw new Error(`${i.path}:${fresh.error.line}:${fresh.error.column}: ${fresh.error.message}`);
        if (i.kind === 'write' && fresh.entry !== undefined && !i.owned && !ctx.flags.force && !sameJson(fresh.entry, i.entry)) {
          throw new Error(`${i.path} got a hand-written "${t.name}" since the plan; not overwritten`);
        }
        const text = newText(i, fresh.text, t.name)!;
        if (text !== (fresh.text ?? '')) {
          const project = i.client === 'claude-code' || i.client === 'vscode';
          await writeFileAtomic(i.path, text, { mode: fresh.mode ?? (project ? 0o644 : 0o600) });
          messages.push(`${i.kind === 'write' ? 'registered in' : 'removed from'} ${i.path}`);
        }
      });
      if (i.kind === 'write') owned[i.client] = i.path;
    }
    const reg = prior?.registry ?? registryPath(ctx.home.root);
    await lockFor(reg).run(async () => {
      const fresh = await readFile(reg, (text) => readJsonEntry(text, REGISTRY_KEY, t.name));
      const text = editJsonEntry(fresh.text, REGISTRY_KEY, t.name, t.desired ? registryEntry(t.desired.spec, actual.clients) : undefined);
      if (text !== (fresh.text ?? '')) await writeFileAtomic(reg, text, { mode: 0o600 });
    });
    if (planned.action === 'delete') return { outcome: 'deleted', state: null, messages };
    const state: StateEntry = {
      section: 'mcp',
      owned: true,
      digest: ctx.digest(JSON.stringify(registryEntry(t.desired!.spec, actual.clients))),
      data: { clients: owned, registry: reg } satisfies McpState,
    };
    return { outcome: planned.action === 'create' ? 'created' : 'updated', state, messages };
  },

  describe(_t, actual) {
    const out: string[] = [];
    if (actual.missing.length) out.push(`missing commands: ${actual.missing.join(', ')}`);
    else if (actual.probe?.ok) out.push(`ready, ${actual.probe.tools.length} tools`);
    else if (actual.probe) out.push(`not ready: ${actual.probe.error}`);
    const have = actual.clients.filter((c) => actual.files[c]?.entry !== undefined);
    if (have.length) out.push(`clients: ${have.join(', ')}`);
    return out;
  },
};

function part(t: Target<McpSpec>, client: ClientId, action: Change['action'], reason: string, before: unknown, after: unknown): Change {
  return { address: `${t.address}.${client}`, section: 'mcp', name: `${t.name}.${client}`, action, reason, before, after };
}
