// providers/mcp/ — MCP servers and the local agents that use them: the catalog, each agent's config file
// (clients, json-edit, toml-edit) and readiness by a real handshake (probe).
// The local agents an MCP server can be registered with: where each keeps its config (by its own rules),
// which map holds the servers, and how one server is written in its format. Pure, no I/O.
import os from 'node:os';
import path from 'node:path';
import { editJsonEntry, readJsonEntry, type MapKey } from './json-edit.js';
import { editTomlEntry, readTomlEntry } from './toml-edit.js';

export const CLIENT_IDS = ['crush', 'codex', 'claude-desktop', 'claude-code', 'cursor', 'vscode'] as const;
export type ClientId = (typeof CLIENT_IDS)[number];

/** What the client configs need to know about a server (a subset of the normalised spec). */
export interface ServerEntrySpec {
  transport: 'stdio' | 'http' | 'sse';
  command: string | null;
  args: string[];
  env: Record<string, string>;
  cwd: string | null;
  url: string | null;
  headers: Record<string, string>;
  enabled_tools: string[] | null;
  disabled_tools: string[];
  timeout: number;
  env_from_secrets: string[];
  /** header → secret label, written as references. */
  headers_from_secrets: Record<string, string>;
}

export type EntryResult = { entry: Record<string, unknown>; notes: string[] } | { unsupported: string };

export interface ClientDef {
  id: ClientId;
  label: string;
  /** Config file by the client's own rules. `projectDir` = the manifest's folder (project-scoped clients). */
  defaultPath(env: NodeJS.ProcessEnv, projectDir: string, platform?: NodeJS.Platform): string;
  /** The server as this client writes it. */
  entry(spec: ServerEntrySpec): EntryResult;
  /** `at`: where the servers' map sits when it is not the client's usual top-level key (Claude Code's local scope). */
  read(text: string | null, name: string, at?: MapKey): { entry: unknown; names: string[]; inline?: boolean };
  edit(text: string | null, name: string, entry: Record<string, unknown> | undefined, at?: MapKey): string;
}

function home(env: NodeJS.ProcessEnv): string {
  return env.HOME || os.homedir();
}

function xdgConfig(env: NodeJS.ProcessEnv): string {
  return env.XDG_CONFIG_HOME || path.join(home(env), '.config');
}

function omitEmpty(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v) && !v.length) continue;
    if (typeof v === 'object' && !Array.isArray(v) && !Object.keys(v as object).length) continue;
    out[k] = v;
  }
  return out;
}

/** env with each secret label written as the client's reference syntax. */
function envWithRefs(spec: ServerEntrySpec, ref: (label: string) => string): Record<string, string> {
  const env = { ...spec.env };
  for (const l of spec.env_from_secrets) env[l] = ref(l);
  return env;
}

const json = (key: string) => ({
  read: (text: string | null, name: string, at?: MapKey) => readJsonEntry(text, at ?? key, name),
  edit: (text: string | null, name: string, entry: Record<string, unknown> | undefined, at?: MapKey) => editJsonEntry(text, at ?? key, name, entry),
});

// ---- Claude Code's three scopes (as `claude mcp add --scope …` writes them, Claude Code 2.1) ----------
export const CLAUDE_SCOPES = ['project', 'user', 'local'] as const;
export type ClaudeScope = (typeof CLAUDE_SCOPES)[number];

/** Where one scope of Claude Code keeps its servers. */
export interface ScopeLocation {
  scope: ClaudeScope;
  path: string;
  /** The servers' map in that file (undefined: the top-level mcpServers). */
  at?: string[];
}

/** ~/.claude.json, or $CLAUDE_CONFIG_DIR/.claude.json as Claude Code reads it. */
function claudeJson(env: NodeJS.ProcessEnv): string {
  return path.join(env.CLAUDE_CONFIG_DIR || home(env), '.claude.json');
}

/**
 * project: PROJECT/.mcp.json (shared, checked in); user: ~/.claude.json mcpServers (every project);
 * local: ~/.claude.json projects[PROJECT].mcpServers (this project, private). When one name is in
 * several scopes Claude Code uses local, then project, then user.
 */
export function claudeScopeLocation(scope: ClaudeScope, env: NodeJS.ProcessEnv, projectDir: string): ScopeLocation {
  if (scope === 'project') return { scope, path: path.join(projectDir, '.mcp.json') };
  if (scope === 'user') return { scope, path: claudeJson(env) };
  return { scope, path: claudeJson(env), at: ['projects', projectDir, 'mcpServers'] };
}

function toolNotes(spec: ServerEntrySpec, label: string, allow: boolean, deny: boolean, cwd = true): string[] {
  const notes: string[] = [];
  if (spec.cwd && !cwd && spec.transport === 'stdio') notes.push(`${label} has no working-directory setting; cwd is not written there (the server starts where ${label} starts it)`);
  if (spec.enabled_tools && !allow) notes.push(`${label} has no allow-list of tools; enabled_tools is not written there`);
  if (spec.disabled_tools.length && !deny) notes.push(`${label} cannot hide tools; disabled_tools is not written there`);
  return notes;
}

export const CLIENTS: Record<ClientId, ClientDef> = {
  crush: {
    id: 'crush',
    label: 'Crush',
    defaultPath: (env) => path.join(env.CRUSH_GLOBAL_CONFIG || path.join(xdgConfig(env), 'crush'), 'crush.json'),
    entry(spec) {
      const notes = toolNotes(spec, 'Crush', true, true, false);
      // Crush's schema wants whole seconds: 2.5 would make it reject its whole config
      const timeout = Math.ceil(spec.timeout);
      const tools = { enabled_tools: spec.enabled_tools ?? undefined, disabled_tools: spec.disabled_tools };
      if (spec.transport === 'stdio') {
        return {
          entry: omitEmpty({ type: 'stdio', command: spec.command, args: spec.args, env: envWithRefs(spec, (l) => `$${l}`), timeout, ...tools }),
          notes,
        };
      }
      const headers = headersWithRefs(spec, (l) => `$${l}`);
      return { entry: omitEmpty({ type: spec.transport, url: spec.url, headers, timeout, ...tools }), notes: [...notes, ...secretHeaderNote(spec, 'Crush')] };
    },
    ...json('mcp'),
  },
  codex: {
    id: 'codex',
    label: 'Codex',
    defaultPath: (env) => path.join(env.CODEX_HOME || path.join(home(env), '.codex'), 'config.toml'),
    entry(spec) {
      if (spec.transport === 'sse') return { unsupported: 'Codex does not speak the SSE transport (only stdio and streamable HTTP)' };
      const tools = omitEmpty({ enabled_tools: spec.enabled_tools ?? undefined, disabled_tools: spec.disabled_tools });
      if (spec.transport === 'stdio') {
        return {
          entry: omitEmpty({
            command: spec.command,
            args: spec.args,
            cwd: spec.cwd,
            env: spec.env,
            // Codex forwards these variables from its own environment: a reference, never a value.
            env_vars: spec.env_from_secrets,
            startup_timeout_sec: spec.timeout,
            ...tools,
          }),
          notes: [],
        };
      }
      return { entry: omitEmpty({ url: spec.url, http_headers: spec.headers, env_http_headers: spec.headers_from_secrets, startup_timeout_sec: spec.timeout, ...tools }), notes: secretHeaderNote(spec, 'Codex') };
    },
    read: (text, name) => readTomlEntry(text, name),
    edit: (text, name, entry) => editTomlEntry(text, name, entry),
  },
  'claude-desktop': {
    id: 'claude-desktop',
    label: 'Claude Desktop',
    defaultPath: (env, _p, platform = process.platform) => path.join(claudeDesktopDir(env, platform), 'claude_desktop_config.json'),
    entry(spec) {
      if (spec.transport !== 'stdio') return { unsupported: 'Claude Desktop reads only stdio servers from its config file (add remote servers as connectors in the app)' };
      const notes = toolNotes(spec, 'Claude Desktop', false, false, false);
      if (spec.env_from_secrets.length) {
        notes.push(`Claude Desktop cannot read ${spec.env_from_secrets.join(', ')} from the environment and pmoves never writes secret values: set ${spec.env_from_secrets.length > 1 ? 'them' : 'it'} for the server yourself`);
      }
      return { entry: omitEmpty({ command: spec.command, args: spec.args, env: spec.env }), notes };
    },
    ...json('mcpServers'),
  },
  'claude-code': {
    id: 'claude-code',
    label: 'Claude Code',
    defaultPath: (_env, projectDir) => path.join(projectDir, '.mcp.json'),
    entry(spec) {
      const notes = toolNotes(spec, 'Claude Code', false, false, false);
      if (spec.transport === 'stdio') return { entry: omitEmpty({ type: 'stdio', command: spec.command, args: spec.args, env: envWithRefs(spec, (l) => `\${${l}}`) }), notes };
      return { entry: omitEmpty({ type: spec.transport, url: spec.url, headers: headersWithRefs(spec, (l) => `\${${l}}`) }), notes: [...notes, ...secretHeaderNote(spec, 'Claude Code')] };
    },
    ...json('mcpServers'),
  },
  cursor: {
    id: 'cursor',
    label: 'Cursor',
    defaultPath: (env) => path.join(home(env), '.cursor', 'mcp.json'),
    entry(spec) {
      const notes = toolNotes(spec, 'Cursor', false, false, false);
      if (spec.transport === 'stdio') return { entry: omitEmpty({ command: spec.command, args: spec.args, env: envWithRefs(spec, (l) => `\${env:${l}}`) }), notes };
      return { entry: omitEmpty({ url: spec.url, headers: headersWithRefs(spec, (l) => `\${env:${l}}`) }), notes: [...notes, ...secretHeaderNote(spec, 'Cursor')] };
    },
    ...json('mcpServers'),
  },
  vscode: {
    id: 'vscode',
    label: 'VS Code',
    defaultPath: (_env, projectDir) => path.join(projectDir, '.vscode', 'mcp.json'),
    entry(spec) {
      const notes = toolNotes(spec, 'VS Code', false, false);
      if (spec.transport === 'stdio') {
        return { entry: omitEmpty({ type: 'stdio', command: spec.command, args: spec.args, cwd: spec.cwd, env: envWithRefs(spec, (l) => `\${env:${l}}`) }), notes };
      }
      return { entry: omitEmpty({ type: spec.transport, url: spec.url, headers: headersWithRefs(spec, (l) => `\${env:${l}}`) }), notes: [...notes, ...secretHeaderNote(spec, 'VS Code')] };
    },
    ...json('servers'),
  },
};

function secretHeaderNote(spec: ServerEntrySpec, label: string): string[] {
  return spec.env_from_secrets.length ? [`${label}: env_from_secrets (${spec.env_from_secrets.join(', ')}) applies to stdio servers; use headers_from_secrets for remote ones`] : [];
}

/** headers with each secret label written as the client's reference syntax. */
function headersWithRefs(spec: ServerEntrySpec, ref: (label: string) => string): Record<string, string> {
  const h = { ...spec.headers };
  for (const [k, l] of Object.entries(spec.headers_from_secrets)) h[k] = ref(l);
  return h;
}

function claudeDesktopDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string {
  if (platform === 'darwin') return path.join(home(env), 'Library', 'Application Support', 'Claude');
  if (platform === 'win32') return path.join(env.APPDATA || path.join(home(env), 'AppData', 'Roaming'), 'Claude');
  return path.join(xdgConfig(env), 'Claude');
}
