// Readiness by a real handshake: connect (stdio, or streamable HTTP with an SSE fallback), initialize,
// tools/list, close — under a deadline, stderr captured (never inherited). The MCP SDK is imported
// lazily, inside probe(). A probe never throws: every failure is a ProbeResult with a clear reason.
import { trackChild } from '../../core/child.js';
import type { ServerEntrySpec } from './clients.js';
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import { formatSeconds } from '../../planner/concurrency.js';

/** What a handshake needs: the connection part of a server's spec (`timeout` in seconds). */
export type ProbeTarget = Pick<ServerEntrySpec, 'transport' | 'command' | 'args' | 'env' | 'cwd' | 'url' | 'headers' | 'timeout' | 'env_from_secrets'>;

export type ProbeResult =
  | { ok: true; tools: string[]; server: string; transport: string; ms: number }
  | { ok: false; error: string; stderr: string; ms: number };

const STDERR_KEEP = 2000;

/** PATH lookup like `which`, no process started. */
export function whichSync(cmd: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (cmd.includes('/')) {
    try {
      accessSync(cmd, constants.X_OK);
      return cmd;
    } catch {
      return null;
    }
  }
  const exts = process.platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const full = path.join(dir, cmd + ext);
      try {
        accessSync(full, constants.X_OK);
        return full;
      } catch {
        /* next */
      }
    }
  }
  return null;
}

export function missingCommands(cmds: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  return cmds.filter((c) => !whichSync(c, env));
}

function tail(s: string): string {
  const t = s.trim();
  return t.length > STDERR_KEEP ? '…' + t.slice(-STDERR_KEEP) : t;
}

/** Handshake with one server. `env` is the environment the server would get (process env + spec env). */
export async function probe(t: ProbeTarget, baseEnv: NodeJS.ProcessEnv): Promise<ProbeResult> {
  const start = Date.now();
  const ms = () => Date.now() - start;
  const deadline = t.timeout * 1000;
  let stderr = '';
  let closeTransport: (() => Promise<void>) | undefined;
  let exited: string | null = null;
  const attempt = async (): Promise<ProbeResult> => {
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const client = new Client({ name: 'pmoves-mini', version: '0.1.0' }, { capabilities: {} });
    const finish = async (transportName: string): Promise<ProbeResult> => {
      const listed = await client.listTools();
      const v = client.getServerVersion();
      await client.close().catch(() => {});
      return { ok: true, tools: listed.tools.map((x) => x.name), server: v ? `${v.name} ${v.version}` : 'unknown', transport: transportName, ms: ms() };
    };
    if (t.transport === 'stdio') {
      if (t.cwd !== null && !existsSync(t.cwd)) throw new Error(`working folder does not exist: ${t.cwd}`);
      const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(baseEnv)) if (typeof v === 'string') env[k] = v;
      Object.assign(env, t.env);
      const transport = new StdioClientTransport({ command: t.command!, args: t.args, env, cwd: t.cwd ?? undefined, stderr: 'pipe' });
      transport.stderr?.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString('utf8')).slice(-STDERR_KEEP * 2);
      });
      closeTransport = () => transport.close();
      const origClose = transport.onclose;
      transport.onclose = () => {
        exited ??= 'the server process exited';
        origClose?.();
      };
      // The exit code says more than "connection closed"; the SDK keeps the child private, so look only
      // if it is there (a newer SDK without it just gives the plainer message).
      let exitInfo: string | null = null;
      const start = transport.start.bind(transport);
      transport.start = async () => {
        await start();
        const child = (transport as unknown as { _process?: import('node:child_process').ChildProcess })._process;
        child?.once('exit', (code, signal) => {
          exitInfo = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        });
        if (child) trackChild(child); // killed with pmoves if it is interrupted mid-handshake
      };
      const stderrDone = new Promise<void>((resolve) => {
        transport.stderr?.on('end', () => resolve());
        transport.stderr?.on('close', () => resolve());
      });
      try {
        await client.connect(transport);
      } catch (err) {
        // The process has closed; its last stderr lines may still be in the pipe: let them arrive.
        await Promise.race([stderrDone, new Promise((r) => setTimeout(r, 300).unref())]);
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'ENOENT') throw new Error(`command not found: ${t.command}`);
        if (exited || exitInfo || /closed/i.test(e.message)) throw new Error(`the server ${exitInfo ?? 'exited'} before answering initialize`);
        throw err;
      }
      return finish('stdio');
    }
    const url = new URL(t.url!);
    const requestInit = { headers: t.headers };
    let httpError: string | null = null;
    if (t.transport === 'http') {
      const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
      const transport = new StreamableHTTPClientTransport(url, { requestInit });
      closeTransport = () => transport.close();
      try {
        await client.connect(transport);
        return await finish('streamable http');
      } catch (err) {
        await transport.close().catch(() => {});
        httpError = fetchError(err);
      }
    }
    const { SSEClientTransport } = await import('@modelcontextprotocol/sdk/client/sse.js');
    const sseClient = new Client({ name: 'pmoves-mini', version: '0.1.0' }, { capabilities: {} });
    const transport = new SSEClientTransport(url, { requestInit });
    closeTransport = () => transport.close();
    try {
      await sseClient.connect(transport);
    } catch (err) {
      throw new Error(httpError ? `streamable HTTP: ${httpError}; SSE fallback: ${fetchError(err)}` : fetchError(err));
    }
    const listed = await sseClient.listTools();
    const v = sseClient.getServerVersion();
    await sseClient.close().catch(() => {});
    return { ok: true, tools: listed.tools.map((x) => x.name), server: v ? `${v.name} ${v.version}` : 'unknown', transport: 'sse', ms: ms() };
  };

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, error: `handshake timed out after ${formatSeconds(deadline)}`, stderr: tail(stderr), ms: ms() }), deadline);
  });
  try {
    const r = await Promise.race([
      attempt().catch((err: unknown): ProbeResult => ({ ok: false, error: cleanError(err), stderr: tail(stderr), ms: ms() })),
      timeout,
    ]);
    if (!r.ok && !r.stderr && stderr) return { ...r, stderr: tail(stderr) };
    return r;
  } finally {
    clearTimeout(timer);
    await closeTransport?.().catch(() => {});
  }
}

/** A fetch failure with its cause (ECONNREFUSED …) instead of a bare "fetch failed". */
function fetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const m = (e?.message ?? String(err)).replace(/^(Streamable HTTP error|SSE error): /, '');
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause && !m.includes(cause) ? `${m} (${cause})` : m;
}

function cleanError(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.replace(/^MCP error -?\d+: /, '').split('\n')[0]!;
}
