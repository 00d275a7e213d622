// Ollama over its REST API (docs/api.md in ollama/ollama): /api/tags, /api/ps, /api/show, /api/pull
// (NDJSON progress), /api/generate (load/unload with keep_alive), /api/delete.
//
// node:http rather than the `ollama` npm client (or fetch): six endpoints, and we need exact control of
// what a client hides: an `{"error": …}` line inside a 200 pull stream is a failure, a 404 on delete
// means "already gone", every request takes our AbortSignal, and OLLAMA_HOST is parsed the way the
// Ollama CLI parses it. node:http rather than fetch because a plan asks Ollama on every run (and watch
// on every tick): fetch's first use loads undici, ~50-120 ms here; node:http ~6 ms. Tests talk to
// test/ollama-peer.ts through this very code.
//
// Contracts: tags/ps/show never change anything. pull either returns after a `success` line or throws
// (Ollama keeps partial layers and resumes them on the next pull). After a failed delete the model is
// assumed to still exist.
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

export const DEFAULT_OLLAMA_PORT = '11434';

/** OLLAMA_HOST → base URL, as the Ollama CLI reads it: `host`, `host:port`, `http(s)://host[:port][/path]`. */
export function ollamaBaseUrl(env: NodeJS.ProcessEnv): string {
  const raw = (env.OLLAMA_HOST ?? '').trim();
  let scheme = 'http';
  let rest = raw;
  let defaultPort = DEFAULT_OLLAMA_PORT;
  const i = raw.indexOf('://');
  if (i >= 0) {
    scheme = raw.slice(0, i);
    rest = raw.slice(i + 3);
    if (scheme === 'http') defaultPort = '80';
    else if (scheme === 'https') defaultPort = '443';
  }
  const slash = rest.indexOf('/');
  const hostport = slash >= 0 ? rest.slice(0, slash) : rest;
  const pathPart = slash >= 0 ? rest.slice(slash).replace(/\/+$/, '') : '';
  let host = '127.0.0.1';
  let port = defaultPort;
  const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(hostport);
  if (m) {
    host = m[1] || host;
    port = m[2]!;
  } else if (hostport) {
    host = hostport.includes(':') && !hostport.startsWith('[') ? `[${hostport}]` : hostport;
  }
  return `${scheme}://${host}:${port}${pathPart}`;
}

/** True when the base URL points at this machine (then its models folder is on our disk). */
export function isLocalOllama(base: string): boolean {
  const host = new URL(base).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '0.0.0.0' || host === '::' || host === '::1' || /^127\./.test(host);
}

/** Where a local Ollama keeps its models: OLLAMA_MODELS or ~/.ollama/models. */
export function ollamaModelsDir(env: NodeJS.ProcessEnv): string {
  return env.OLLAMA_MODELS || path.join(env.HOME || os.homedir(), '.ollama', 'models');
}

/** `llama3.2` → `llama3.2:latest`: Ollama's name with the default tag. */
export function fullModelName(name: string): string {
  const last = name.slice(name.lastIndexOf('/') + 1);
  return last.includes(':') ? name : `${name}:latest`;
}

export function sameModel(a: string, b: string): boolean {
  return fullModelName(a).toLowerCase() === fullModelName(b).toLowerCase();
}

export interface OllamaModel {
  name: string;
  model?: string;
  digest: string;
  size: number;
  modified_at?: string;
}

export interface OllamaRunning extends OllamaModel {
  size_vram?: number;
  expires_at?: string;
}

export interface PullProgress {
  status: string;
  digest?: string;
  total?: number;
  completed?: number;
}

export class OllamaError extends Error {
  override name = 'OllamaError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** An HTTP answer: status and a body to read once (as text, or as a stream of chunks). */
interface Reply {
  status: number;
  res: http.IncomingMessage;
}

export class OllamaClient {
  constructor(
    readonly base: string,
    private readonly signal?: AbortSignal,
  ) {}

  private request(method: string, route: string, body?: unknown, timeoutMs?: number): Promise<Reply> {
    const url = new URL(`${this.base}${route}`);
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<Reply>((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method,
          headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {},
          ...(this.signal ? { signal: this.signal } : {}),
        },
        (res) => resolve({ status: res.statusCode ?? 0, res }),
      );
      req.on('error', (err: NodeJS.ErrnoException) => reject(new OllamaError(`Ollama is not reachable at ${this.base} (OLLAMA_HOST): ${err.code ?? err.message}`)));
      if (timeoutMs) req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: `no answer within ${timeoutMs / 1000} s` })));
      req.end(data);
    });
  }

  private async text(r: Reply): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of r.res) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  private async json<T>(r: Reply, what: string): Promise<T> {
    const text = await this.text(r);
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : {};
    } catch {
      throw new OllamaError(`${what}: Ollama answered HTTP ${r.status} with a body that is not JSON`, r.status);
    }
    if (r.status < 200 || r.status >= 300) throw new OllamaError(`${what}: ${errorText(data) ?? `HTTP ${r.status}`}`, r.status);
    return data as T;
  }

  async tags(): Promise<OllamaModel[]> {
    const r = await this.json<{ models?: OllamaModel[] }>(await this.request('GET', '/api/tags', undefined, 15_000), 'GET /api/tags');
    return r.models ?? [];
  }

  async ps(): Promise<OllamaRunning[]> {
    const r = await this.json<{ models?: OllamaRunning[] }>(await this.request('GET', '/api/ps', undefined, 15_000), 'GET /api/ps');
    return r.models ?? [];
  }

  /** Model details, or null when Ollama does not have it. */
  async show(model: string): Promise<Record<string, unknown> | null> {
    const res = await this.request('POST', '/api/show', { model }, 15_000);
    if (res.status === 404) {
      res.res.resume();
      return null;
    }
    return this.json(res, `show ${model}`);
  }

  /** Streams /api/pull; each NDJSON line goes to onProgress. An `error` line (even in a 200) throws. */
  async pull(model: string, onProgress: (p: PullProgress) => void): Promise<void> {
    const res = await this.request('POST', '/api/pull', { model, stream: true });
    if (res.status !== 200) {
      await this.json(res, `pull ${model}`);
      throw new OllamaError(`pull ${model}: HTTP ${res.status}`, res.status);
    }
    let success = false;
    const decoder = new TextDecoder();
    let buf = '';
    const handle = (line: string) => {
      if (!line.trim()) return;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new OllamaError(`pull ${model}: Ollama sent a line that is not JSON: ${line.slice(0, 120)}`);
      }
      const err = errorText(msg);
      if (err) throw new OllamaError(`pull ${model}: ${err}`);
      const p: PullProgress = {
        status: String(msg.status ?? ''),
        ...(typeof msg.digest === 'string' ? { digest: msg.digest } : {}),
        ...(typeof msg.total === 'number' ? { total: msg.total } : {}),
        ...(typeof msg.completed === 'number' ? { completed: msg.completed } : {}),
      };
      if (p.status === 'success') success = true;
      onProgress(p);
    };
    try {
      for await (const chunk of res.res as AsyncIterable<Buffer>) {
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          handle(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      }
      handle(buf + decoder.decode());
    } catch (err) {
      if (err instanceof OllamaError) {
        res.res.destroy();
        throw err;
      }
      throw new OllamaError(`pull ${model}: the connection to Ollama broke: ${(err as Error).message}`);
    }
    if (!success) throw new OllamaError(`pull ${model}: the stream ended without "success"`);
  }

  /** Load into memory (empty prompt) for keep_alive; keep_alive 0 unloads. */
  async generate(model: string, keepAlive: string | number): Promise<{ done_reason?: string }> {
    const res = await this.request('POST', '/api/generate', { model, keep_alive: keepAlive, stream: false });
    return this.json(res, `${keepAlive === 0 ? 'unload' : 'load'} ${model}`);
  }

  /** Delete; a 404 means it is already gone (returns false). */
  async delete(model: string): Promise<boolean> {
    const res = await this.request('DELETE', '/api/delete', { model }, 60_000);
    if (res.status === 404) {
      res.res.resume();
      return false;
    }
    await this.json(res, `delete ${model}`);
    return true;
  }
}

function errorText(data: unknown): string | undefined {
  if (data && typeof data === 'object' && 'error' in data) {
    const e = (data as { error: unknown }).error;
    return typeof e === 'string' ? e : JSON.stringify(e);
  }
  return undefined;
}
