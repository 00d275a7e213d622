// `pmoves mini mcp serve`: pmoves itself as an MCP server (stdio, or streamable HTTP on 127.0.0.1
// with a bearer token). Tools validate, plan, status, profile_detect, apply; resources: the manifest
// and the active profile. Each tool runs this same CLI as a subprocess (the code that acts is the code
// a human runs), and every call is audited. `apply` takes only a plan hash a human approved with
// `pmoves mini approve HASH`, applies exactly that saved plan, and refuses it when stale.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { OperationError, UserError, messageOf } from '../core/errors.js';
import { readFileOrNull, writeFileAtomic } from '../core/fs.js';
import type { Home } from '../core/home.js';
import { audit } from '../engine/audit.js';
import { claimApproval, findPlan, plansDir, storePlan } from './approvals.js';
import { cliEntry } from './context.js';

export interface ServeOptions {
  manifestPath: string;
  home: Home;
  env: NodeJS.ProcessEnv;
  profile?: string;
}

interface ToolResult {
  content: { type: 'text'; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

/** A resource address as the manifest makes them: section.name (names may hold dots, dashes, slashes, colons). */
const ADDRESS = /^[a-z][a-z0-9_]*\.[A-Za-z0-9_][A-Za-z0-9_.:/@-]*$/;

const TOOLS = [
  { name: 'validate', description: 'Check the manifest (schema, references, files) without touching the machine.', inputSchema: { type: 'object', properties: {} }, annotations: { readOnlyHint: true } },
  {
    name: 'plan',
    description: 'Refresh and plan: what apply would change. Returns the plan as text and JSON, and plan_hash: a human approves it with `pmoves mini approve <plan_hash>` before apply accepts it.',
    inputSchema: { type: 'object', properties: { targets: { type: 'array', items: { type: 'string' }, description: 'only these addresses (and what they depend on)' } } },
    annotations: { readOnlyHint: true },
  },
  { name: 'status', description: 'One line per declared resource: in-sync, drifted, missing or error, and why.', inputSchema: { type: 'object', properties: {} }, annotations: { readOnlyHint: true } },
  { name: 'profile_detect', description: "This machine's hardware and the profiles that match it.", inputSchema: { type: 'object', properties: {} }, annotations: { readOnlyHint: true } },
  {
    name: 'apply',
    description: 'Apply exactly the saved plan with this hash. Refused unless a human approved it (`pmoves mini approve <plan_hash>`), and refused when the machine changed since the plan (stale).',
    inputSchema: { type: 'object', properties: { plan_hash: { type: 'string', description: 'the plan_hash the plan tool returned' } }, required: ['plan_hash'] },
    annotations: { readOnlyHint: false, destructiveHint: true },
  },
] as const;

export class PmovesTools {
  constructor(private o: ServeOptions) {}

  private cli(args: string[]) {
    return import('../core/child.js').then(({ runChild }) =>
      runChild(process.execPath, [cliEntry, 'mini', ...args, '-m', path.resolve(this.o.manifestPath), ...(this.o.profile ? ['--profile', this.o.profile] : [])], {
        env: { ...process.env, ...this.o.env, PMOVES_HOME: this.o.home.root, NO_COLOR: '1' },
        timeoutMs: 30 * 60_000,
      }),
    );
  }

  async call(name: string, args: Record<string, unknown>, client: string): Promise<ToolResult> {
    const started = Date.now();
    let r: ToolResult;
    let extra: Record<string, unknown> = {};
    try {
      ({ result: r, extra } = await this.dispatch(name, args));
    } catch (err) {
      r = { content: [{ type: 'text', text: `error: ${messageOf(err)}` }], isError: true };
    }
    const outcome = r.isError ? (extra.refused ? 'refused' : 'error') : 'ok';
    await audit(this.o.home, { address: 'mcp.pmoves', action: `mcp-tool:${name}`, outcome, client, duration_ms: Date.now() - started, ...extra });
    return r;
  }

  private async dispatch(name: string, args: Record<string, unknown>): Promise<{ result: ToolResult; extra: Record<string, unknown> }> {
    const text = (t: string, isError = false, structured?: Record<string, unknown>): ToolResult => ({ content: [{ type: 'text', text: t }], ...(structured ? { structuredContent: structured } : {}), ...(isError ? { isError } : {}) });
    switch (name) {
      case 'validate':
      case 'status':
      case 'profile_detect': {
        const argv = name === 'profile_detect' ? ['profile', 'detect', '--json'] : [name, '--json'];
        const p = await this.cli(argv);
        const out = String(p.stdout).trim();
        let structured: Record<string, unknown> | undefined;
        try {
          structured = JSON.parse(out) as Record<string, unknown>;
        } catch {
          /* not JSON: an error message */
        }
        return { result: text(out || String(p.stderr).trim(), p.exitCode !== 0 && !structured, structured), extra: { exit_code: p.exitCode } };
      }
      case 'plan': {
        await fsp.mkdir(plansDir(this.o.home), { recursive: true, mode: 0o700 });
        const tmp = path.join(plansDir(this.o.home), `.new-${process.pid}-${randomBytes(4).toString('hex')}.json`);
        const targets = args.targets === undefined ? [] : args.targets;
        // Arguments from an agent are data: each target must look like an address (section.name) and
        // is passed glued to its option (`--target=ADDR`), so no string can become an option.
        const badTarget = !Array.isArray(targets) ? 'targets must be an array of addresses' : targets.map((t) => (typeof t === 'string' && ADDRESS.test(t) ? null : `target ${JSON.stringify(t)} is not an address (expected section.name, e.g. secrets.env)`)).find(Boolean);
        if (badTarget) return { result: text(`refused: ${badTarget}`, true), extra: { refused: true, reason: badTarget } };
        const p = await this.cli(['plan', '--out', tmp, ...(targets as string[]).map((t) => `--target=${t}`)]);
        const planText = String(p.stdout).replace(/\n\nSaved the plan to [^\n]*\n?$/, '\n');
        if ((await readFileOrNull(tmp)) === null) {
          return { result: text(`${planText}\n${String(p.stderr).trim()}\nThe plan has errors: nothing was saved, there is nothing to approve.`, true), extra: { exit_code: p.exitCode } };
        }
        const stored = await storePlan(this.o.home, tmp, planText);
        const saved = JSON.parse(await fsp.readFile(stored.file, 'utf8')) as { plan: Record<string, unknown> };
        const tail = `\nplan_hash: ${stored.hash}\nNothing changes until a human runs \`pmoves mini approve ${stored.hash.slice(0, 12)}\`; then call apply with this plan_hash.\n`;
        return {
          result: text(planText + tail, false, { plan_hash: stored.hash, text: planText, plan: saved.plan }),
          extra: { plan_hash: stored.hash, summary: saved.plan.summary },
        };
      }
      case 'apply': {
        const given = typeof args.plan_hash === 'string' ? args.plan_hash : '';
        let stored;
        try {
          stored = await findPlan(this.o.home, given);
        } catch (err) {
          return { result: text(`refused: ${messageOf(err)}`, true), extra: { refused: true, reason: messageOf(err), plan_hash: given } };
        }
        const reach = await homeInCwd(this.o.home);
        if (reach) return { result: text(`refused: ${reach}`, true), extra: { refused: true, reason: reach, plan_hash: stored.hash } };
        const why = await claimApproval(this.o.home, stored);
        if (why) return { result: text(`refused: ${why}`, true), extra: { refused: true, reason: why, plan_hash: stored.hash } };
        const p = await this.cli(['apply', stored.file, '--non-interactive']);
        const out = `${String(p.stdout)}${p.stderr ? `\n${String(p.stderr)}` : ''}`.trim();
        if (p.exitCode !== 0) {
          const stale = /saved plan is stale/.test(out);
          return { result: text(`${stale ? 'refused: the approved plan is stale (the machine changed since it was made); call plan again and ask for a new approval.' : 'apply failed:'}\n${out}`, true), extra: { refused: stale, stale, ...(stale ? { reason: 'the approved plan is stale' } : {}), plan_hash: stored.hash, exit_code: p.exitCode } };
        }
        return { result: text(out), extra: { plan_hash: stored.hash, exit_code: 0 } };
      }
      default:
        return { result: text(`unknown tool ${name}`, true), extra: {} };
    }
  }

  async resources() {
    return [
      { uri: 'pmoves://manifest', name: 'manifest', title: 'The pmoves mini manifest', mimeType: 'application/yaml' },
      { uri: 'pmoves://profile/active', name: 'active-profile', title: 'The active hardware profile', mimeType: 'application/json' },
    ];
  }

  async readResource(uri: string): Promise<{ uri: string; mimeType: string; text: string }> {
    if (uri === 'pmoves://manifest') {
      const t = await readFileOrNull(path.resolve(this.o.manifestPath));
      if (t === null) throw new UserError(`${this.o.manifestPath}: no such file`);
      await audit(this.o.home, { address: 'mcp.pmoves', action: 'mcp-resource:manifest', outcome: 'ok' });
      return { uri, mimeType: 'application/yaml', text: t };
    }
    if (uri === 'pmoves://profile/active') {
      const p = await this.cli(['profile', 'current', '--json']);
      await audit(this.o.home, { address: 'mcp.pmoves', action: 'mcp-resource:profile', outcome: p.exitCode === 0 ? 'ok' : 'error' });
      return { uri, mimeType: 'application/json', text: String(p.stdout).trim() || String(p.stderr).trim() };
    }
    throw new UserError(`no such resource ${uri}`);
  }
}

/**
 * An MCP host starts this server in its own working folder. When $PMOVES_HOME lies inside it, the agent
 * can likely write the approvals there (Codex's workspace-write, Claude Code's acceptEdits): refuse to
 * apply rather than trust an approval it could have made. (`/` says nothing: every path is inside it.)
 */
async function homeInCwd(home: Home): Promise<string | null> {
  const real = (p: string) => fsp.realpath(p).catch(() => p);
  const cwd = await real(process.cwd());
  const root = await real(home.root);
  if (cwd === path.parse(cwd).root || !(root === cwd || root.startsWith(cwd + path.sep))) return null;
  return `$PMOVES_HOME (${root}) is inside this server's working folder ${cwd} (the agent's), which the agent may be able to write: it could approve its own plans. Fix: start the agent in a folder that does not hold $PMOVES_HOME, or set PMOVES_HOME outside it`;
}

async function newServer(tools: PmovesTools, client: () => string) {
  const { Server } = await import('@modelcontextprotocol/sdk/server/index.js');
  const T = await import('@modelcontextprotocol/sdk/types.js');
  const pkg = JSON.parse(await fsp.readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const server = new Server({ name: 'pmoves', version: pkg.version }, { capabilities: { tools: {}, resources: {} } });
  server.setRequestHandler(T.ListToolsRequestSchema, async () => ({ tools: TOOLS.map((t) => ({ ...t })) as never }));
  server.setRequestHandler(T.CallToolRequestSchema, async (req) => (await tools.call(req.params.name, (req.params.arguments ?? {}) as Record<string, unknown>, client())) as never);
  server.setRequestHandler(T.ListResourcesRequestSchema, async () => ({ resources: await tools.resources() }));
  server.setRequestHandler(T.ReadResourceRequestSchema, async (req) => ({ contents: [await tools.readResource(req.params.uri)] }));
  return server;
}

export async function serveStdio(o: ServeOptions): Promise<void> {
  const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
  const tools = new PmovesTools(o);
  let server: Awaited<ReturnType<typeof newServer>>;
  server = await newServer(tools, () => {
    const v = server.getClientVersion();
    return v ? `${v.name} ${v.version}` : 'unknown';
  });
  const transport = new StdioServerTransport();
  await server.connect(transport);
  await new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.on('end', () => resolve());
  });
}

export interface HttpServeOptions extends ServeOptions {
  port: number;
  /** CHIT label (environment variable) holding the bearer token; else a generated 0600 file. */
  tokenLabel?: string;
  onListening?: (url: string, tokenSource: string) => void;
}

export async function tokenFor(o: HttpServeOptions): Promise<{ token: string; source: string }> {
  if (o.tokenLabel) {
    const v = o.env[o.tokenLabel];
    if (!v) throw new UserError(`--token-label ${o.tokenLabel}: the variable is not set (load the env file the secrets section writes)`);
    return { token: v, source: `the CHIT label ${o.tokenLabel}` };
  }
  const file = path.join(o.home.root, 'mcp', 'serve.token');
  let token = (await readFileOrNull(file))?.trim();
  if (!token) {
    token = randomBytes(32).toString('hex');
    await writeFileAtomic(file, token + '\n', { mode: 0o600 });
  }
  return { token, source: file };
}

export async function serveHttp(o: HttpServeOptions): Promise<void> {
  const http = await import('node:http');
  const { StreamableHTTPServerTransport } = await import('@modelcontextprotocol/sdk/server/streamableHttp.js');
  const { token, source } = await tokenFor(o);
  const want = Buffer.from(`Bearer ${token}`);
  const tools = new PmovesTools(o);
  const srv = http.createServer(async (req, res) => {
    const got = Buffer.from(String(req.headers.authorization ?? ''));
    if (got.length !== want.length || !timingSafeEqual(got, want)) {
      await audit(o.home, { address: 'mcp.pmoves', action: 'mcp-http', outcome: 'refused', reason: 'missing or wrong bearer token' });
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' }).end(JSON.stringify({ error: 'unauthorized' }));
      return;
    }
    if (!req.url?.startsWith('/mcp')) {
      res.writeHead(404).end();
      return;
    }
    try {
      const server = await newServer(tools, () => `http ${String(req.headers['user-agent'] ?? '')}`.trim());
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500).end(JSON.stringify({ error: messageOf(err) }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? new OperationError(`port ${o.port} on 127.0.0.1 is in use`) : err));
    srv.listen(o.port, '127.0.0.1', () => resolve());
  });
  const addr = srv.address() as { port: number };
  o.onListening?.(`http://127.0.0.1:${addr.port}/mcp`, source);
  await new Promise<void>((resolve) => {
    const stop = () => srv.close(() => resolve());
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
