// A small Ollama peer for tests, written from Ollama's API reference (docs/api.md): GET /api/tags,
// GET /api/ps, POST /api/show, POST /api/pull (NDJSON progress; errors as an {"error": …} line inside the
// 200 stream, as the real server does), POST /api/generate (empty prompt loads, keep_alive 0 unloads),
// DELETE /api/delete. Real HTTP on loopback: the provider under test is the code that talks to Ollama.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PeerModel {
  /** Manifest digest (64 hex), as /api/tags reports it. */
  digest: string;
  /** Layers pulled: digest (64 hex) → bytes. */
  layers: { digest: string; size: number }[];
  modified_at?: string;
}

export interface RegistryEntry extends PeerModel {
  /** Send an {"error": …} line after this many bytes of the first layer (a mid-stream failure). */
  failAfter?: number;
  failWith?: string;
}

export interface PeerRequest {
  method: string;
  path: string;
  body: Record<string, unknown> | null;
}

function fullName(name: string): string {
  const last = name.slice(name.lastIndexOf('/') + 1);
  return last.includes(':') ? name : `${name}:latest`;
}

export function fakeDigest(seed: string): string {
  return createHash('sha256').update(seed).digest('hex');
}

/** A registry entry with one big layer and two small ones (template, params), like a GGUF model. */
export function registryModel(seed: string, size: number): RegistryEntry {
  return {
    digest: fakeDigest(`manifest ${seed}`),
    layers: [
      { digest: fakeDigest(`weights ${seed}`), size },
      { digest: fakeDigest(`template ${seed}`), size: 1_482 },
      { digest: fakeDigest(`params ${seed}`), size: 96 },
    ],
  };
}

function parseKeepAlive(v: unknown): number {
  // seconds; negative = forever
  if (v === undefined || v === null) return 300;
  if (typeof v === 'number') return v;
  const m = /^(-?\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(v).trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return n * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] ?? 's']!;
}

export class OllamaPeer {
  /** What `pull` can fetch, by full name. */
  readonly registry = new Map<string, RegistryEntry>();
  /** What is installed, by full name. */
  readonly models = new Map<string, PeerModel>();
  /** Loaded models: full name → expiry (ms epoch; Infinity = forever). */
  readonly loaded = new Map<string, number>();
  readonly requests: PeerRequest[] = [];
  /** Progress chunks per layer in a pull. */
  chunks = 4;
  /** When set, a pull waits for it after its first progress line (a pull in flight, e.g. to kill the client then). */
  pullGate: Promise<void> | null = null;
  private server?: http.Server;
  url = '';

  addRegistry(name: string, e: RegistryEntry): this {
    this.registry.set(fullName(name), e);
    return this;
  }

  install(name: string, m: PeerModel): this {
    this.models.set(fullName(name), m);
    return this;
  }

  sizeOf(m: PeerModel): number {
    return m.layers.reduce((s, l) => s + l.size, 0);
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> | null = null;
    if (text) {
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return this.send(res, 400, { error: 'invalid character in request body' });
      }
    }
    const route = (req.url ?? '/').split('?')[0]!;
    this.requests.push({ method: req.method ?? 'GET', path: route, body });
    const key = `${req.method} ${route}`;
    switch (key) {
      case 'GET /':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('Ollama is running');
        return;
      case 'GET /api/tags':
        return this.send(res, 200, { models: [...this.models].map(([name, m]) => this.describe(name, m)) });
      case 'GET /api/ps':
        this.expire();
        return this.send(res, 200, {
          models: [...this.loaded].map(([name, exp]) => {
            const m = this.models.get(name)!;
            return { ...this.describe(name, m), expires_at: new Date(Number.isFinite(exp) ? exp : Date.UTC(2318, 0, 1)).toISOString(), size_vram: this.sizeOf(m) };
          }),
        });
      case 'POST /api/show': {
        const name = fullName(String(body?.model ?? body?.name ?? ''));
        const m = this.models.get(name);
        if (!m) return this.send(res, 404, { error: `model '${name}' not found` });
        return this.send(res, 200, { modelfile: `FROM ${name}`, parameters: '', template: '{{ .Prompt }}', details: this.describe(name, m).details, model_info: {} });
      }
      case 'POST /api/pull':
        return this.pull(String(body?.model ?? body?.name ?? ''), body?.stream !== false, res);
      case 'POST /api/generate':
        return this.generate(body ?? {}, res);
      case 'DELETE /api/delete': {
        const name = fullName(String(body?.model ?? body?.name ?? ''));
        if (!this.models.has(name)) return this.send(res, 404, { error: `model '${name}' not found` });
        this.models.delete(name);
        this.loaded.delete(name);
        res.writeHead(200).end();
        return;
      }
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found');
    }
  }

  private describe(name: string, m: PeerModel) {
    return {
      name,
      model: name,
      modified_at: m.modified_at ?? '2025-12-12T10:00:00.000000000Z',
      size: this.sizeOf(m),
      digest: m.digest,
      details: { parent_model: '', format: 'gguf', family: 'qwen2', families: ['qwen2'], parameter_size: '14.8B', quantization_level: 'Q4_K_M' },
    };
  }

  private expire(): void {
    const now = Date.now();
    for (const [n, exp] of this.loaded) if (exp <= now) this.loaded.delete(n);
  }

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
  }

  private async pull(model: string, stream: boolean, res: http.ServerResponse): Promise<void> {
    const name = fullName(model);
    const entry = this.registry.get(name);
    const lines: Record<string, unknown>[] = [{ status: 'pulling manifest' }];
    const write = (o: Record<string, unknown>) => {
      if (stream) res.write(JSON.stringify(o) + '\n');
    };
    if (stream) res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    write(lines[0]!);
    if (!entry) {
      const error = 'pull model manifest: file does not exist';
      if (stream) {
        write({ error });
        res.end();
      } else this.send(res, 500, { error });
      return;
    }
    for (const [i, layer] of entry.layers.entries()) {
      const short = layer.digest.slice(0, 12);
      write({ status: `pulling ${short}`, digest: `sha256:${layer.digest}`, total: layer.size });
      const step = Math.max(1, Math.ceil(layer.size / this.chunks));
      for (let done = Math.min(step, layer.size); ; done = Math.min(done + step, layer.size)) {
        if (i === 0 && entry.failAfter !== undefined && done > entry.failAfter) {
          const error = entry.failWith ?? 'max retries exceeded: read tcp 127.0.0.1:51234->104.21.75.227:443: read: connection reset by peer';
          if (stream) {
            write({ error });
            res.end();
          } else this.send(res, 500, { error });
          return;
        }
        write({ status: `pulling ${short}`, digest: `sha256:${layer.digest}`, total: layer.size, completed: done });
        if (this.pullGate) await this.pullGate;
        await new Promise((r) => setImmediate(r));
        if (done >= layer.size) break;
      }
    }
    for (const status of ['verifying sha256 digest', 'writing manifest', 'success']) write({ status });
    this.models.set(name, { digest: entry.digest, layers: entry.layers.map((l) => ({ ...l })) });
    if (stream) res.end();
    else this.send(res, 200, { status: 'success' });
  }

  private generate(body: Record<string, unknown>, res: http.ServerResponse): void {
    const name = fullName(String(body.model ?? ''));
    const created_at = new Date().toISOString();
    if (!this.models.has(name)) return this.send(res, 404, { error: `model "${name.replace(/:latest$/, '')}" not found, try pulling it first` });
    const ka = parseKeepAlive(body.keep_alive);
    if (Number.isNaN(ka)) return this.send(res, 400, { error: `time: invalid duration "${String(body.keep_alive)}"` });
    if (body.prompt) return this.send(res, 400, { error: 'this peer only loads and unloads (empty prompt)' });
    if (ka === 0) {
      this.loaded.delete(name);
      return this.send(res, 200, { model: name, created_at, response: '', done: true, done_reason: 'unload' });
    }
    this.loaded.set(name, ka < 0 ? Infinity : Date.now() + ka * 1000);
    return this.send(res, 200, { model: name, created_at, response: '', done: true, done_reason: 'load' });
  }
}
