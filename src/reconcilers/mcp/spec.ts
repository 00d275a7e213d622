// The shapes of mcp.<name>: its spec (normalized from the manifest), the actual state read from each
// agent's config file, what state keeps, and the entry pmoves' own registry holds.
import path from 'node:path';
import type { LoadContext } from '../../core/kind.js';
import { CLAUDE_SCOPES, CLIENT_IDS, CLIENTS, claudeScopeLocation, type ClaudeScope, type ClientId, type ScopeLocation, type ServerEntrySpec } from '../../providers/mcp/clients.js';
import type { ProbeResult } from '../../providers/mcp/probe.js';

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
  /** Claude Code's scope: project (PROJECT/.mcp.json, the default), user or local (~/.claude.json). */
  scope: ClaudeScope;
  /** Where the servers' map sits in a client's file when not at its usual key (Claude Code, local scope). */
  at: Partial<Record<ClientId, string[]>>;
  /** Claude Code's other two scopes: a same-named entry there is a conflict. */
  other_scopes: ScopeLocation[];
  required_commands: string[];
  setup_instructions: string[];
}

export interface McpState {
  /** client → config file holding an entry this tool wrote. */
  clients: Partial<Record<ClientId, string>>;
  /** client → the map in that file, when not the client's usual key (Claude Code, local scope). */
  at?: Partial<Record<ClientId, string[]>>;
  registry: string;
}

export interface FileRead {
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
  /** Files named in state but no longer where the spec points (path changed / client dropped / scope changed). */
  stale: Partial<Record<ClientId, FileRead & { at?: string[] }>>;
  /** Claude Code: a same-named server in another of its scopes, not written by pmoves. */
  shadows: (ScopeLocation & { entry: unknown })[];
  registry: FileRead;
  missing: string[];
  /** Secret labels not set in this environment (names only). */
  unset: string[];
  /** Readiness is health, not state (the Kind contract's `volatile`): not in a saved plan's digest. */
  volatile: { probe: ProbeResult | null };
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

export function normalizeSpec(spec: Record<string, unknown>, name: string, ctx: LoadContext): McpSpec {
  const url = (spec.url as string | undefined) ?? null;
  const transport = (spec.transport as McpSpec['transport'] | undefined) ?? (url ? 'http' : 'stdio');
  const overrides = (spec.config_paths as Record<string, string> | undefined) ?? {};
  const paths = {} as Record<ClientId, string>;
  for (const c of CLIENT_IDS) paths[c] = overrides[c] ? ctx.resolvePath(overrides[c]) : CLIENTS[c].defaultPath(ctx.env, ctx.manifestDir);
  const scope = (spec.scope as ClaudeScope | undefined) ?? 'project';
  const chosen = claudeScopeLocation(scope, ctx.env, ctx.manifestDir);
  if (!overrides['claude-code']) paths['claude-code'] = chosen.path;
  const at: McpSpec['at'] = chosen.at ? { 'claude-code': chosen.at } : {};
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
    scope,
    at,
    other_scopes: CLAUDE_SCOPES.filter((x) => x !== scope).map((x) => claudeScopeLocation(x, ctx.env, ctx.manifestDir)),
    enabled_tools: (spec.enabled_tools as string[] | undefined) ?? null,
    disabled_tools: (spec.disabled_tools as string[] | undefined) ?? [],
    timeout: (spec.timeout as number | undefined) ?? 10,
    required_commands: (spec.required_commands as string[] | undefined) ?? [],
    env_from_secrets: (spec.env_from_secrets as string[] | undefined) ?? [],
    setup_instructions: (spec.setup_instructions as string[] | undefined) ?? [],
  };
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

/** Two places in a file are the same map (undefined: the client's usual key). */
export function sameAt(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return (a ?? []).join('\0') === (b ?? []).join('\0');
}
