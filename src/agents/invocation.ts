// The exact command line (and generated config files) for each agent CLI. Pure: no process, no file
// is touched here, so `agents exec --dry-run` prints exactly what a run would start.
//
// The prompt goes on stdin (`codex exec … -`, `claude -p`, `crush run`), so the command line stays short
// and shows every flag. MCP servers are handed over in each tool's own way; credentials only as
// references to CHIT labels (the value stays in the environment the agent inherits).
import path from 'node:path';
import type { AgentServer } from './prompt.js';
import type { PermissionLevel } from './tasks.js';

export type AgentTool = 'codex' | 'claude' | 'crush';

export interface InvocationInput {
  tool: AgentTool;
  permission: PermissionLevel;
  servers: AgentServer[];
  /** The task's commands (workspace level: the only shell commands allowed without asking). */
  commands: string[];
  /** Working folder of the agent (the manifest's folder). */
  workdir: string;
  /** Private folder for generated config (under $PMOVES_HOME/agents/runs/<id>). */
  runDir: string;
  /** $PMOVES_HOME, its real path: kept out of the agent's reach below `privileged` (homeReach). */
  home: string;
  /** The executable (default: the tool's name, found on PATH). */
  bin?: string;
  model?: string;
}

export interface Invocation {
  argv: string[];
  /** Variables set for the agent on top of the inherited environment (never a credential). */
  env: Record<string, string>;
  files: { path: string; text: string; mode: number }[];
  /** What the permission level became in this tool's own flags, in words. */
  permissionNote: string;
  /** Output format: JSON lines (codex, claude) or plain text (crush). */
  jsonLines: boolean;
  /**
   * A command run before the agent, under the agent's own sandbox, that must exit 0: it tries to write
   * into $PMOVES_HOME and exits 3 if it could (run-agent.ts: probeSandbox). Codex below privileged.
   */
  probe?: string[];
}

const toml = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(toml).join(', ')}]`;
  if (v && typeof v === 'object') return `{ ${Object.entries(v).map(([k, x]) => `${/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k)} = ${toml(x)}`).join(', ')} }`;
  return String(v);
};

export function buildInvocation(i: InvocationInput): Invocation {
  switch (i.tool) {
    case 'codex':
      return codex(i);
    case 'claude':
      return claude(i);
    case 'crush':
      return crush(i);
    default: {
      const never: never = i.tool;
      throw new Error(`unknown agent tool ${String(never)}`);
    }
  }
}

/**
 * Codex's own permission profile (0.171: `default_permissions` and `[permissions.<name>.filesystem]`,
 * enforced by its Linux sandbox): read everything but $PMOVES_HOME, which is neither readable nor
 * writable; at `workspace` also write the working folder (`:project_roots`) — not /tmp, not $TMPDIR,
 * no other writable root. Network stays off, as in its built-in sandbox modes.
 */
const codexProfile = (level: 'read-only' | 'workspace', home: string) => [
  '-c',
  'default_permissions="pmoves"',
  '-c',
  `permissions.pmoves.filesystem=${toml({ ':root': 'read', ...(level === 'workspace' ? { ':project_roots': 'write' } : {}), [home]: 'none' })}`,
];

/** sh -c: exit 3 when a file can be created in $1 (removing it again), 4 when $1 can be listed, else 0. */
const HOME_PROBE = 'f="$1/.pmoves-sandbox-probe"; if ( : > "$f" ) 2>/dev/null; then rm -f "$f"; exit 3; fi; if ls "$1" >/dev/null 2>&1; then exit 4; fi; exit 0';

function codex(i: InvocationInput): Invocation {
  const bin = i.bin ?? 'codex';
  const argv = [bin, 'exec', '--json', '--skip-git-repo-check', '--color', 'never', '-C', i.workdir];
  let note: string;
  switch (i.permission) {
    case 'read-only':
      argv.push(...codexProfile('read-only', i.home), '-c', 'approval_policy="never"');
      note = `codex permission profile "pmoves": reads everything but ${i.home}, writes nothing; approval_policy never (nothing escalates)`;
      break;
    case 'workspace':
      // Not --sandbox workspace-write: that also makes /tmp and $TMPDIR writable, takes writable_roots
      // from the user's config, and lets the agent read the home.
      argv.push(...codexProfile('workspace', i.home), '-c', 'approval_policy="never"');
      note = `codex permission profile "pmoves": reads everything but ${i.home}, writes in the working folder only (not /tmp, not $TMPDIR); approval_policy never`;
      break;
    case 'privileged':
      argv.push('--dangerously-bypass-approvals-and-sandbox');
      note = 'codex --dangerously-bypass-approvals-and-sandbox (confirmed by a human on a terminal)';
      break;
  }
  if (i.model) argv.push('--model', i.model);
  for (const s of i.servers) {
    const key = `mcp_servers.${s.name}`;
    if (s.url) {
      argv.push('-c', `${key}.url=${toml(s.url)}`);
      if (Object.keys(s.headers).length) argv.push('-c', `${key}.http_headers=${toml(s.headers)}`);
      if (Object.keys(s.headers_from_secrets).length) argv.push('-c', `${key}.env_http_headers=${toml(s.headers_from_secrets)}`);
    } else {
      argv.push('-c', `${key}.command=${toml(s.command)}`, '-c', `${key}.args=${toml(s.args)}`);
      if (Object.keys(s.env).length) argv.push('-c', `${key}.env=${toml(s.env)}`);
      if (s.env_from_secrets.length) argv.push('-c', `${key}.env_vars=${toml(s.env_from_secrets)}`);
    }
    // pmoves' own tools run without asking (its apply is gated by a human approval of the plan); other
    // servers' tools only when annotated read-only, except in a privileged run.
    const approval = s.name === 'pmoves' || i.permission === 'privileged' ? 'approve' : 'writes';
    argv.push('-c', `${key}.startup_timeout_sec=60`, '-c', `${key}.tool_timeout_sec=600`, '-c', `${key}.default_tools_approval_mode="${approval}"`);
  }
  argv.push('-');
  // `codex sandbox` runs a command under the same Linux sandbox and profile its exec uses.
  const probe = i.permission === 'privileged' ? undefined : [bin, 'sandbox', ...codexProfile(i.permission, i.home), '--', 'sh', '-c', HOME_PROBE, 'sh', i.home];
  return { argv, env: {}, files: [], permissionNote: note, jsonLines: true, ...(probe ? { probe } : {}) };
}

/** Claude Code's MCP tool names: mcp__<server>__<tool>; a server-wide rule is mcp__<server>. */
function claude(i: InvocationInput): Invocation {
  const mcpFile = path.join(i.runDir, 'claude-mcp.json');
  const mcpServers: Record<string, unknown> = {};
  for (const s of i.servers) {
    if (s.url) {
      const headers: Record<string, string> = { ...s.headers };
      for (const [h, label] of Object.entries(s.headers_from_secrets)) headers[h] = `\${${label}}`;
      mcpServers[s.name] = { type: s.transport === 'sse' ? 'sse' : 'http', url: s.url, ...(Object.keys(headers).length ? { headers } : {}) };
    } else {
      const env: Record<string, string> = { ...s.env };
      for (const label of s.env_from_secrets) env[label] = `\${${label}}`;
      mcpServers[s.name] = { type: 'stdio', command: s.command, args: s.args, ...(Object.keys(env).length ? { env } : {}) };
    }
  }
  const argv = [i.bin ?? 'claude', '-p', '--output-format', 'stream-json', '--verbose', '--mcp-config', mcpFile, '--strict-mcp-config'];
  const mcpRules = i.servers.map((s) => `mcp__${s.name}`);
  const allow = (xs: string[]) => xs.flatMap((x) => ['--allowedTools', x]);
  const deny = (xs: string[]) => xs.flatMap((x) => ['--disallowedTools', x]);
  // Claude Code's path rules: `//abs/**` is an absolute path, `./**` the working folder; Edit rules
  // cover every tool that edits files (Write, NotebookEdit), Read rules every tool that reads. Deny
  // wins over allow. The home must hold no glob character (homeReach refuses it before this).
  const home = `/${i.home}/**`;
  const homeRules = [`Read(${home})`, `Edit(${home})`, `Write(${home})`];
  let note: string;
  switch (i.permission) {
    case 'read-only':
      argv.push('--permission-mode', 'default', ...allow([...mcpRules, 'Read', 'Grep', 'Glob', 'LS']), ...deny(['Bash', 'Edit', 'Write', 'NotebookEdit', 'WebFetch', ...homeRules]));
      note = `claude --permission-mode default: only MCP tools and Read/Grep/Glob/LS allowed; Bash, Edit, Write denied; ${i.home} denied to every tool`;
      break;
    case 'workspace':
      argv.push(
        '--permission-mode',
        'acceptEdits',
        ...allow([...mcpRules, 'Read', 'Grep', 'Glob', 'LS', 'Edit(./**)', 'Write(./**)', ...i.commands.map((c) => `Bash(${c})`)]),
        ...deny(['WebFetch', ...homeRules]),
      );
      note = `claude --permission-mode acceptEdits: edits in the working folder only (Edit/Write(./**)), Bash only for the task's commands; ${i.home} denied to every tool`;
      break;
    case 'privileged':
      argv.push('--dangerously-skip-permissions');
      note = 'claude --dangerously-skip-permissions (confirmed by a human on a terminal)';
      break;
  }
  if (i.model) argv.push('--model', i.model);
  return {
    argv,
    env: {},
    files: [{ path: mcpFile, text: JSON.stringify({ mcpServers }, null, 2) + '\n', mode: 0o600 }],
    permissionNote: note,
    jsonLines: true,
  };
}

/**
 * Crush reads its global config from $CRUSH_GLOBAL_CONFIG/crush.json: a private one is generated with
 * the servers and permissions (providers come from the environment, e.g. OPENAI_API_KEY). Crush's
 * MCP tool names: mcp_<server>_<tool>. Not run by the tests: its npm package downloads its binary.
 */
function crush(i: InvocationInput): Invocation {
  const dir = path.join(i.runDir, 'crush');
  const mcp: Record<string, unknown> = {};
  for (const s of i.servers) {
    if (s.url) {
      const headers: Record<string, string> = { ...s.headers };
      for (const [h, label] of Object.entries(s.headers_from_secrets)) headers[h] = `$${label}`;
      mcp[s.name] = { type: s.transport === 'sse' ? 'sse' : 'http', url: s.url, ...(Object.keys(headers).length ? { headers } : {}) };
    } else {
      const env: Record<string, string> = { ...s.env };
      for (const label of s.env_from_secrets) env[label] = `$${label}`;
      mcp[s.name] = { type: 'stdio', command: s.command, args: s.args, ...(Object.keys(env).length ? { env } : {}), timeout: 120 };
    }
  }
  const readTools = ['view', 'ls', 'grep', 'glob'];
  const mcpTools = i.servers.flatMap((s) => (s.tools ?? []).map((t) => `mcp_${s.name}_${t}`));
  let allowed: string[];
  let note: string;
  const argv = [i.bin ?? 'crush', 'run', '--quiet'];
  switch (i.permission) {
    case 'read-only':
      allowed = [...readTools, ...mcpTools];
      note = 'crush: only view/ls/grep/glob and the MCP tools are allowed; anything else is asked for, and a non-interactive run cannot answer';
      break;
    case 'workspace':
      allowed = [...readTools, 'edit', 'write', 'multiedit', ...mcpTools];
      note = 'crush: file edits and the MCP tools allowed; shell commands are asked for';
      break;
    case 'privileged':
      allowed = [];
      argv.push('--yolo');
      note = 'crush --yolo (confirmed by a human on a terminal)';
      break;
  }
  if (i.model) argv.push('--model', i.model);
  argv.push('--cwd', i.workdir);
  const config = { $schema: 'https://charm.land/crush.json', mcp, permissions: { allowed_tools: allowed } };
  return {
    argv,
    env: { CRUSH_GLOBAL_CONFIG: dir },
    files: [{ path: path.join(dir, 'crush.json'), text: JSON.stringify(config, null, 2) + '\n', mode: 0o600 }],
    permissionNote: note,
    jsonLines: false,
  };
}

/**
 * Why an agent below `privileged` could still reach $PMOVES_HOME with this tool's configuration (null:
 * it cannot). Both paths are real paths (symlinks resolved). The home holds the approvals and the key
 * that signs them: an agent that can write there can approve its own plan.
 */
export function homeReach(tool: AgentTool, permission: PermissionLevel, home: string, workdir: string): string | null {
  if (permission === 'privileged') return null;
  const inside = (a: string, b: string) => a === b || a.startsWith(b.endsWith(path.sep) ? b : b + path.sep);
  const fix = 'set PMOVES_HOME to a folder outside it (e.g. the default ~/.pmoves with the manifest in a project folder), or move the manifest';
  if (inside(home, workdir)) return `$PMOVES_HOME (${home}) is inside the agent's working folder ${workdir}, which a ${permission} agent can read${permission === 'workspace' ? ' and write' : ''}: it could approve its own plans. Fix: ${fix}`;
  if (inside(workdir, home)) return `the agent's working folder ${workdir} is inside $PMOVES_HOME (${home}): the agent would work among the approvals and their key. Fix: ${fix}`;
  if (tool === 'crush' && permission === 'workspace') return `Crush's permissions name tools, not paths, so nothing keeps its write and edit tools out of $PMOVES_HOME (${home}): a workspace Crush could approve its own plans. Fix: run this task with --tool codex or --tool claude, or make it read-only`;
  if (tool === 'claude' && /[*?[\]{}()!\\]/.test(home)) return `$PMOVES_HOME (${home}) holds a character Claude Code's path rules read as a pattern, so no rule can keep the agent out of it. Fix: choose a home path without * ? [ ] { } ( ) ! \\`;
  return null;
}

/** A command line as a shell would take it (for display). */
export function shellLine(argv: string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
