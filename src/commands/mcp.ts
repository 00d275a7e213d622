// `mcp list` (upstream's `id: name – ready` lines, plus tool counts and clients) and `mcp setup [ID…]`
// (apply for those MCP servers, with a Docker MCP Toolkit preflight). Everything heavy loads lazily.
import type { Command } from 'commander';
import { UserError } from '../core/errors.js';
import { collect, globals, parseDuration, type Globals } from './common.js';
import { flowBase, runApply } from './core.js';

export interface McpListRow {
  id: string;
  name: string;
  /** upstream's status word(s): ready | missing commands: a, b | not ready: why | registered (not probed) */
  status: string;
  ready: boolean | null;
  tools: number | null;
  tool_names: string[];
  /** Clients whose config holds the entry now. */
  clients: string[];
  /** Clients the manifest lists that do not have it yet. */
  missing_clients: string[];
  missing_commands: string[];
  transport: string;
  error?: string;
  stderr?: string;
  origin?: string;
}

/** The upstream line (`id: name – status`), then an indented detail line. */
export function renderList(rows: McpListRow[]): string {
  const out: string[] = [];
  for (const r of rows) {
    out.push(`${r.id}: ${r.name} – ${r.status}`);
    const bits: string[] = [];
    if (r.tools !== null) bits.push(`${r.tools} tool${r.tools === 1 ? '' : 's'}`);
    bits.push(r.clients.length ? `clients: ${r.clients.join(', ')}` : 'not registered with any client');
    if (r.missing_clients.length) bits.push(`not yet in: ${r.missing_clients.join(', ')} (run pmoves mini mcp setup ${r.id})`);
    out.push(`    ${bits.join('; ')}`);
  }
  return out.join('\n') + '\n';
}

async function listRows(g: Globals, o: Record<string, unknown>): Promise<{ rows: McpListRow[]; manifest: string | null }> {
  const { openSession, planWith } = await import('../engine/run.js').then(async (run) => ({ ...run, ...(await import('../engine/session.js')) }));
  const base = await flowBase(g, o, { probe: o.probe !== false });
  const session = await openSession({ ...base, log: () => {} });
  session.targets = session.targets.filter((t) => t.desired?.section === 'mcp');
  const { reads } = await planWith(session, base);
  const rows: McpListRow[] = [];
  for (const t of session.targets) {
    const spec = t.desired!.spec as import('../reconcilers/mcp/index.js').McpSpec;
    const read = reads.get(t.address);
    const row: McpListRow = {
      id: t.name,
      name: spec.name,
      status: 'unknown',
      ready: null,
      tools: null,
      tool_names: [],
      clients: [],
      missing_clients: [],
      missing_commands: [],
      transport: spec.transport,
      ...(t.desired!.origin ? { origin: t.desired!.origin } : {}),
    };
    if (!read?.ok) {
      row.status = `error: ${read ? read.error : 'not read'}`;
      row.ready = false;
      rows.push(row);
      continue;
    }
    const a = read.actual as import('../reconcilers/mcp/index.js').McpActual;
    for (const c of a.clients) (a.files[c]?.entry !== undefined ? row.clients : row.missing_clients).push(c);
    row.missing_commands = a.missing;
    if (a.missing.length) {
      row.status = `missing commands: ${a.missing.join(', ')}`;
      row.ready = false;
    } else if (a.volatile.probe?.ok) {
      row.status = 'ready';
      row.ready = true;
      row.tools = a.volatile.probe.tools.length;
      row.tool_names = a.volatile.probe.tools;
    } else if (a.volatile.probe) {
      row.status = `not ready: ${a.volatile.probe.error}`;
      row.ready = false;
      row.error = a.volatile.probe.error;
      if (a.volatile.probe.stderr) row.stderr = a.volatile.probe.stderr;
    } else {
      row.status = 'not probed (--no-probe)';
    }
    rows.push(row);
  }
  return { rows, manifest: session.manifest?.path ?? null };
}

async function catalogRows(): Promise<string> {
  const { catalogEntry, catalogIds, cliCatalogDir } = await import('../providers/mcp/catalog.js');
  const { missingCommands } = await import('../providers/mcp/probe.js');
  const lines: string[] = [];
  const dir = cliCatalogDir();
  for (const id of await catalogIds(dir)) {
    const e = (await catalogEntry(id, dir))!;
    const missing = missingCommands(e.required_commands);
    lines.push(`${e.id}: ${e.name} – ${missing.length ? `missing commands: ${missing.join(', ')}` : 'ready'}`);
  }
  return lines.join('\n') + '\n';
}

/** What the Docker MCP Toolkit needs, each checked: the CLI, the daemon's socket, the `docker mcp` plugin. */
export async function dockerToolkitCheck(env: NodeJS.ProcessEnv = process.env): Promise<{ ok: boolean; missing: string[] }> {
  const { whichSync } = await import('../providers/mcp/probe.js');
  const { existsSync } = await import('node:fs');
  const missing: string[] = [];
  const docker = whichSync('docker', env);
  if (!docker) missing.push('the docker CLI is not on PATH (install Docker Engine or Docker Desktop)');
  const host = env.DOCKER_HOST;
  const socket = host?.startsWith('unix://') ? host.slice('unix://'.length) : host ? null : '/var/run/docker.sock';
  if (socket !== null && !existsSync(socket)) missing.push(`no Docker socket at ${socket} (start the daemon, or set DOCKER_HOST)`);
  if (docker) {
    const { runChild } = await import('../core/child.js');
    // `docker mcp --help` proves nothing: a CLI without the plugin (Docker 20.10) prints its own help and
    // exits 0. `docker mcp version` is answered by the plugin only.
    const r = await runChild(docker, ['mcp', 'version'], { timeoutMs: 10_000, env: { ...process.env, ...env } });
    if (r.exitCode !== 0 || !String(r.stdout).trim()) missing.push('`docker mcp` is not available: install the Docker MCP Toolkit (Docker Desktop 4.42+, or the docker-mcp CLI plugin from github.com/docker/mcp-gateway)');
  }
  return { ok: !missing.length, missing };
}

/** Upstream's `mcp setup ID`: the catalog entry's checklist; an unknown id is upstream's "not found" and exit 1. */
async function printChecklists(ids: string[]): Promise<void> {
  const { catalogEntry, cliCatalogDir } = await import('../providers/mcp/catalog.js');
  for (const id of ids) {
    const e = await catalogEntry(id, cliCatalogDir());
    if (!e) {
      process.stdout.write(`MCP tool '${id}' not found.\n`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(`${e.name} (${e.id}) setup checklist:\n${e.setup_instructions.map((x) => `  - ${x}\n`).join('')}`);
  }
  // on stderr: stdout stays upstream's checklist, byte for byte
  process.stderr.write(`To register: declare it in the manifest (mcp: { ${ids[0]}: { from: ${ids[0]} } }), then pmoves mini mcp setup ${ids.join(' ')}.\n`);
}

/** Upstream's `mcp health`: each catalog entry's health_check command; no command counts as ok. */
export async function catalogHealth(env: NodeJS.ProcessEnv = process.env): Promise<{ id: string; ok: boolean; command: string[] | null }[]> {
  const { catalogEntry, catalogIds, cliCatalogDir } = await import('../providers/mcp/catalog.js');
  const { parse } = await import('yaml');
  const { readFile } = await import('node:fs/promises');
  const { runChild } = await import('../core/child.js');
  const dir = cliCatalogDir();
  const ids = await catalogIds(dir);
  return Promise.all(
    ids.map(async (id) => {
      const e = (await catalogEntry(id, dir))!;
      const data = parse(await readFile(e.file, 'utf8')) as { health_check?: { command?: unknown } };
      const c = data.health_check?.command;
      const command = Array.isArray(c) && c.length && c.every((x) => typeof x === 'string') ? (c as string[]) : typeof c === 'string' && c ? [c] : null;
      if (!command) return { id, ok: true, command: null };
      const r = await runChild(command[0]!, command.slice(1), { env: { ...process.env, ...env }, timeoutMs: 30_000 });
      return { id, ok: r.exitCode === 0, command };
    }),
  );
}

export function registerMcp(mini: Command): void {
  const mcp = mini.command('mcp').description('MCP servers for local agents: list readiness, register them');

  mcp
    .command('list')
    .description('each declared MCP server: ready (real handshake) or what is missing, tool count, clients')
    .option('--no-probe', 'skip the handshakes (only registration and required commands)')
    .option('--catalog', "list the catalog (profiles/mcp) in upstream's format instead of the manifest's servers")
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const explicit = (cmd.optsWithGlobals() as { manifest?: string }).manifest !== undefined;
      if (o.catalog || (!explicit && !(await import('node:fs')).existsSync(g.manifest))) {
        process.stdout.write(await catalogRows());
        return;
      }
      const { rows } = await listRows(g, o);
      if (g.json) process.stdout.write(JSON.stringify({ servers: rows }, null, 2) + '\n');
      else if (!rows.length) {
        process.stdout.write('No MCP servers declared in the manifest. Known servers: pmoves mini mcp list --catalog\n');
        process.exitCode = 1;
        return;
      } else process.stdout.write(renderList(rows));
      process.exitCode = 0;
    });

  mcp
    .command('health')
    .description("Run MCP health checks: each catalog server's health_check command (`id: ok|failed`, as upstream)")
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const rows = await catalogHealth();
      if (g.json) process.stdout.write(JSON.stringify({ servers: rows }, null, 2) + '\n');
      else process.stdout.write(rows.map((r) => `${r.id}: ${r.ok ? 'ok' : 'failed'}`).join('\n') + '\n');
      process.exitCode = rows.some((r) => !r.ok) ? 1 : 0;
    });

  mcp
    .command('setup [ids...]')
    .description("register these MCP servers (default: all declared) with their clients and check they answer; with no manifest, prints upstream's setup checklist for catalog ids instead")
    .option('--apply', 'register even where the checklist would be printed (needs a manifest that declares the ids)')
    .option('--auto-approve', 'do not ask for confirmation')
    .option('--force', 'overwrite hand-written entries of the same name')
    .option('--no-probe', 'skip the handshakes')
    .option('--lock-timeout <duration>', 'wait this long for another apply to finish', parseDuration('--lock-timeout'), 0)
    .option('-t, --target <address>', 'also apply this resource (repeatable)', collect)
    .action(async (ids: string[], o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const { existsSync } = await import('node:fs');
      if (!o.apply && ids.length && !existsSync(g.manifest)) {
        await printChecklists(ids);
        return;
      }
      if (!o.apply && !ids.length && !existsSync(g.manifest)) {
        // upstream's `mcp setup` with no id is a usage error (Click: exit 2), not a missing manifest
        process.stderr.write("Error: Missing argument 'TOOL_ID'. (with no pmoves.mini.yaml, `mcp setup` prints the checklist of the catalog ids given)\n");
        process.exitCode = 2;
        return;
      }
      const { loadManifest, hasErrors } = await import('../manifest/load.js');
      const { kinds, expanders } = await import('../reconcilers/index.js');
      const { homeOf } = await import('./common.js');
      const loaded = await loadManifest(g.manifest, { env: process.env, home: await homeOf(g), kinds, expanders, overrides: g.profile ? { profile: g.profile } : undefined });
      if (!loaded.manifest || hasErrors(loaded.diagnostics)) throw new UserError('the manifest is not valid', loaded.diagnostics);
      const declared = loaded.manifest.resources.filter((r) => r.section === 'mcp');
      delete o.apply;
      const wanted = ids.length ? ids : declared.map((r) => r.name);
      if (!wanted.length) throw new UserError('no MCP servers declared in the manifest (add an `mcp:` section; known servers: pmoves mini mcp list --catalog)');
      for (const id of wanted) {
        if (declared.some((r) => r.name === id)) continue;
        const { catalogEntry } = await import('../providers/mcp/catalog.js');
        const hint = (await catalogEntry(id)) ? ` It is in the catalog: add \`mcp: { ${id}: { from: ${id} } }\` to ${loaded.manifest.path}.` : '';
        throw new UserError(`mcp setup ${id}: no MCP server "${id}" in the manifest (declared: ${declared.map((r) => r.name).join(', ') || 'none'}).${hint}`);
      }
      const out = g.json ? process.stderr : process.stdout;
      const docker = declared.filter((r) => wanted.includes(r.name)).filter((r) => {
        const s = r.spec as { from: string | null; command: string | null; args: string[] };
        return s.from === 'docker' || s.from === 'compose' || (s.command === 'docker' && s.args[0] === 'mcp');
      });
      if (docker.length) {
        const check = await dockerToolkitCheck();
        if (check.ok) out.write(`Docker MCP Toolkit: docker CLI, socket and \`docker mcp\` found (${docker.map((r) => r.address).join(', ')}).\n\n`);
        else out.write(`Docker MCP Toolkit (${docker.map((r) => r.address).join(', ')}) is not ready:\n${check.missing.map((m) => `  - missing: ${m}`).join('\n')}\nThe servers are registered anyway; they will answer once this is fixed.\n\n`);
      }
      const targets = [...wanted.map((id) => `mcp.${id}`), ...((o.target as string[] | undefined) ?? [])];
      await runApply(g, { ...o, target: targets }, { command: 'mcp setup' });
    });
}
