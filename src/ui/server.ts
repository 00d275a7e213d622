// The page's HTTP server (node:http, no framework): the page and its two assets, a JSON snapshot,
// the graph as SVG, a server-sent event stream, and the rollback in two steps (preview, then apply
// what was previewed). Every response carries the strict CSP; see security.ts for who may do what.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { messageOf, UserError } from '../core/errors.js';
import { PAGE_CSS, PAGE_SCRIPT, loginPage, pageHtml } from './page.js';
import { COOKIE, CSP, Guard } from './security.js';

export interface UiSource {
  /** Everything the page shows; never a secret value (masked plan, addresses, reasons). */
  snapshot(): Promise<unknown>;
  graphSvg(): Promise<string>;
  rollbackPreview(generation: number): Promise<{ generation: number; plan: unknown; digest: string }>;
  /** Apply generation N if its plan is still the one previewed (digest); else refuse. */
  rollback(generation: number, digest: string): Promise<{ status: number; body: Record<string, unknown> }>;
}

export interface UiServerOptions {
  host: string;
  port: number;
  /** The option that gave the address, for messages (`--ui` on watch, `--listen` on `ui`). */
  flag: string;
  token?: string;
  source: UiSource;
  /** What the page's title says: "machine" (a daemon or one-off view) plus a fleet when there is one. */
  title: string;
}

const BASE_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const MAX_BODY = 64 * 1024;

async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export class UiServer {
  private readonly guard: Guard;
  private readonly clients = new Set<ServerResponse>();
  private server: Server | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  address = '';

  constructor(private readonly o: UiServerOptions) {
    this.guard = new Guard(o.host, o.token, o.flag);
  }

  /** Send one server-sent event to every open page. `data` must hold no secret value. */
  publish(type: string, data: unknown): void {
    const frame = `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.clients) c.write(frame);
  }

  async listen(): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent) this.send(res, 500, 'application/json', JSON.stringify({ error: messageOf(err) }));
        else res.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new UserError(`${this.o.flag} ${this.o.host}:${this.o.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}`)));
      server.listen(this.o.port, this.o.host, () => resolve());
    });
    this.server = server;
    const a = server.address() as { address: string; family: string; port: number };
    this.address = `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) c.write(': keep-alive\n\n');
    }, 15_000);
    this.heartbeat.unref();
    return this.address;
  }

  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const c of this.clients) c.end();
    this.clients.clear();
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  private send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { ...BASE_HEADERS, 'content-type': type, ...extra }).end(body);
  }

  private json(res: ServerResponse, status: number, v: unknown): void {
    this.send(res, status, 'application/json; charset=utf-8', JSON.stringify(v));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const route = `${req.method} ${url.pathname}`;
    if (!this.guard.hostOk(req)) return this.send(res, 421, 'text/plain', 'this page answers only to a loopback host name\n');
    // the login page and its style are public; everything else needs the token when there is one
    if (route === 'GET /favicon.ico') return this.send(res, 204, 'image/x-icon', '');
    if (route === 'GET /app.css') return this.send(res, 200, 'text/css; charset=utf-8', PAGE_CSS);
    if (route === 'POST /login') return this.login(req, res);
    if (!this.guard.authenticated(req)) {
      if (route === 'GET /' || route === 'GET /login') return this.send(res, 401, 'text/html; charset=utf-8', loginPage(''));
      return this.json(res, 401, { error: 'unauthorized: a bearer token is needed' });
    }
    switch (route) {
      case 'GET /':
        return this.send(res, 200, 'text/html; charset=utf-8', pageHtml(this.o.title, this.guard.csrf));
      case 'GET /app.js':
        return this.send(res, 200, 'text/javascript; charset=utf-8', PAGE_SCRIPT);
      case 'GET /api/snapshot':
        return this.json(res, 200, await this.o.source.snapshot());
      case 'GET /api/graph.svg':
        return this.send(res, 200, 'image/svg+xml', await this.o.source.graphSvg());
      case 'GET /events':
        res.writeHead(200, { ...BASE_HEADERS, 'content-type': 'text/event-stream', connection: 'keep-alive' });
        res.write('retry: 1000\n\n');
        this.clients.add(res);
        req.on('close', () => this.clients.delete(res));
        return;
      case 'POST /api/rollback/preview':
      case 'POST /api/rollback': {
        const refused = this.guard.mutation(req);
        if (refused) return this.json(res, 403, { error: refused });
        let body: { generation?: unknown; digest?: unknown };
        try {
          body = JSON.parse(await readBody(req)) as typeof body;
        } catch {
          return this.json(res, 400, { error: 'expected a JSON body {"generation": N}' });
        }
        const gen = Number(body.generation);
        if (!Number.isInteger(gen) || gen < 1) return this.json(res, 400, { error: 'expected a generation number' });
        try {
          if (url.pathname === '/api/rollback/preview') return this.json(res, 200, await this.o.source.rollbackPreview(gen));
          if (typeof body.digest !== 'string') return this.json(res, 400, { error: 'expected the digest of the plan you were shown (POST /api/rollback/preview first)' });
          const r = await this.o.source.rollback(gen, body.digest);
          return this.json(res, r.status, r.body);
        } catch (err) {
          return this.json(res, err instanceof UserError ? 400 : 409, { error: messageOf(err) });
        }
      }
      default:
        return this.json(res, 404, { error: 'not found' });
    }
  }

  /** POST /login (a form, works without JavaScript): the typed token for a session cookie. */
  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.guard.sameOrigin(req)) return this.send(res, 403, 'text/plain', 'cross-origin request refused\n');
    const typed = new URLSearchParams(await readBody(req).catch(() => '')).get('token') ?? '';
    if (!this.guard.session || !this.guard.checkToken(typed)) {
      await new Promise((r) => setTimeout(r, 250)); // a guess costs time
      return this.send(res, 401, 'text/html; charset=utf-8', loginPage(this.guard.session ? 'That is not the token.' : 'This page needs no token.'));
    }
    this.send(res, 303, 'text/plain', 'signed in\n', { location: '/', 'set-cookie': `${COOKIE}=${this.guard.session}; HttpOnly; SameSite=Strict; Path=/` });
  }
}
