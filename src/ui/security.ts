// Who may use the page, and how a state-changing request proves it comes from the page itself.
// - Loopback only unless a bearer token is given (--ui-token-label LABEL: the token is the value of
//   that CHIT label, i.e. that environment variable; it is compared, never printed or logged).
// - With a token: every request needs `Authorization: Bearer TOKEN` or the session cookie that
//   POST /login sets after the token was typed in (HttpOnly, SameSite=Strict).
// - On loopback, the Host header must name a loopback host (a DNS-rebinding page cannot talk to us).
// - Every POST needs the same origin (Origin and Sec-Fetch-Site when the browser sends them), a JSON
//   body, and the page's CSRF value (a header only our own page can read from its <meta>), or the
//   bearer token itself (a script, not a browser).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { UserError } from '../core/errors.js';

/** Strict: nothing but our own files; no inline script or style, no frames, no outside hosts. */
export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export const COOKIE = 'pmoves_ui';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host.replace(/^\[|\]$/g, ''));
}

export function tokenFromLabel(label: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (label === undefined) return undefined;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(label)) throw new UserError(`--ui-token-label ${label}: expected a CHIT label (an environment variable name)`);
  const v = env[label];
  if (!v) throw new UserError(`--ui-token-label ${label}: the variable is not set (load the env file the secrets section writes)`);
  if (v.length < 16) throw new UserError(`--ui-token-label ${label}: the token is too short (at least 16 characters)`);
  return v;
}

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export class Guard {
  private readonly secret: Buffer;
  /** The value our page carries in <meta name="pmoves-csrf">. */
  readonly csrf: string;
  readonly session: string | null;

  constructor(
    readonly listenHost: string,
    private readonly token: string | undefined,
    flag = '--ui',
  ) {
    if (!token && !isLoopback(listenHost)) throw new UserError(`${flag} ${listenHost}: the page serves beyond loopback only with a bearer token (--ui-token-label LABEL); or open it through an SSH port forward (docs/ui.md)`);
    this.secret = randomBytes(32);
    this.csrf = createHmac('sha256', this.secret).update('csrf').digest('hex');
    this.session = token ? createHmac('sha256', this.secret).update('session\0' + token).digest('hex') : null;
  }

  /** The Host header is one we answer to (loopback names on a loopback listener; any with a token). */
  hostOk(req: IncomingMessage): boolean {
    if (this.token) return true;
    const h = String(req.headers.host ?? '');
    const name = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.split(':')[0]!;
    return isLoopback(name);
  }

  private bearer(req: IncomingMessage): boolean {
    return Boolean(this.token) && same(String(req.headers.authorization ?? ''), `Bearer ${this.token}`);
  }

  private cookie(req: IncomingMessage): boolean {
    if (!this.session) return false;
    for (const part of String(req.headers.cookie ?? '').split(';')) {
      const [k, v] = part.trim().split('=');
      if (k === COOKIE && v && same(v, this.session)) return true;
    }
    return false;
  }

  authenticated(req: IncomingMessage): boolean {
    return !this.token || this.bearer(req) || this.cookie(req);
  }

  checkToken(typed: string): boolean {
    return Boolean(this.token) && same(typed, this.token!);
  }

  /** Same origin for a browser's request (Origin, Sec-Fetch-Site when present). */
  sameOrigin(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}`) return false;
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
    return true;
  }

  /** A state-changing request: null when allowed, else why not. */
  mutation(req: IncomingMessage): string | null {
    if (!this.authenticated(req)) return 'the bearer token is missing or wrong';
    if (!this.sameOrigin(req)) return 'cross-origin request refused';
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) return 'expected a JSON body';
    if (this.bearer(req)) return null;
    const got = String(req.headers['x-pmoves-csrf'] ?? '');
    return same(got, this.csrf) ? null : "missing or wrong X-Pmoves-Csrf (the page's own value)";
  }
}
