// Masking of service configs (pure) and attribute-level config diffs.
import type { MaskedConfig } from './types.js';

// ---- masking and config diffs (pure) -------------------------------------------------------------

const SECRET_KEY = /pass(word)?|secret|token|api[_-]?key|access[_-]?key|private|credential|auth/i;
const SECRET_FLAG = /^--?[A-Za-z0-9_-]*(pass(word)?|secret|token|api[_-]?key|credential)[A-Za-z0-9_-]*$/i;

/**
 * A port as compose's short syntax (`127.0.0.1:18000:80/tcp`), whichever form `config` printed: v1
 * keeps what the file says (`published: 8080` / `target: 8080` objects or strings), v2 always prints
 * the long form with `mode: ingress`. One form for both, so that a plan reads the same under both.
 */
export function portText(p: unknown): unknown {
  if (typeof p === 'string' || typeof p === 'number') return String(p);
  if (!p || typeof p !== 'object') return p;
  const o = p as { host_ip?: unknown; published?: unknown; target?: unknown; protocol?: unknown; mode?: unknown; app_protocol?: unknown; name?: unknown };
  if (o.target === undefined || o.app_protocol !== undefined || o.name !== undefined || (o.mode !== undefined && o.mode !== 'ingress')) return p;
  const host = [o.host_ip, o.published].filter((x) => x !== undefined && x !== '').map(String);
  return `${[...host, String(o.target)].join(':')}/${typeof o.protocol === 'string' ? o.protocol : 'tcp'}`;
}

/** Environment values and values under secret-looking keys become `{ $sensitive: digest }`. */
export interface MaskOptions {
  /** Keys the compose file's own `environment:` writes: their values are shown unless secret. */
  literal?: Set<string>;
  /** Replaces every value under a secret-looking key (env files, interpolation env) and every bundle value in a string. */
  scrub?: (s: string) => string;
  /** Every value of the env files, the interpolation environment and the bundles: a literal equal to one is masked. */
  known?: Set<string>;
  /** Fields (`command`) and entries (`environment.KEY`) that interpolate a masked variable: see sensitivePaths. */
  sensitive?: Set<string>;
}

/**
 * THE rule for composed values: "a value is sensitive wherever it appears". A field or entry of a
 * service (`environment.PGRST_DB_URI`, `labels.x`, `command`…) that interpolates any variable whose
 * value is masked anywhere (`masked`: a key of an env file a service reads, a secret-looking name, a
 * bundle value) is masked as a whole, whatever the secret's length. maskConfig applies it (plan, JSON,
 * saved plans, state, audit all show the masked config) and the stack's scrubber replaces the composed
 * values it names in every line compose prints.
 */
export function sensitivePaths(interp: Record<string, string[]> | undefined, masked: (variable: string) => boolean): Set<string> {
  return new Set(Object.entries(interp ?? {}).filter(([, vars]) => vars.some(masked)).map(([at]) => at));
}

/** The raw strings at the given paths of a service's config (what the scrubber must replace in compose's output). */
export function valuesAt(cfg: Record<string, unknown>, paths: Set<string>): string[] {
  const out: string[] = [];
  const leaves = (v: unknown): void => {
    if (typeof v === 'string' || typeof v === 'number') out.push(String(v));
    else if (Array.isArray(v)) v.forEach(leaves);
    else if (v && typeof v === 'object') Object.values(v).forEach(leaves);
  };
  for (const at of paths) {
    const dot = at.indexOf('.');
    const top = dot > 0 && (at.startsWith('environment.') || at.startsWith('labels.')) ? at.slice(0, dot) : at;
    const v = cfg[top];
    if (top === at) leaves(v);
    else if (v && typeof v === 'object' && !Array.isArray(v)) leaves((v as Record<string, unknown>)[at.slice(dot + 1)]);
  }
  return out;
}

/**
 * Environment values from env files, values under secret-looking keys, and any string that contains a
 * known secret value become `{ $sensitive: digest }`. Literal environment values written in the compose
 * file (`opts.literal`) stay visible unless their key looks secret or their value is a known secret.
 */
export function maskConfig(cfg: Record<string, unknown>, digest: (v: string) => string, opts: MaskOptions = {}): MaskedConfig {
  const leaks = (v: unknown) => typeof v === 'string' && !!opts.scrub && opts.scrub(v) !== v;
  const envValue = (k: string, v: unknown): unknown =>
    opts.literal?.has(k) && !SECRET_KEY.test(k) && !leaks(v) && !(typeof v === 'string' && opts.known?.has(v.trim())) && (v === null || typeof v !== 'object') ? v : mask(v);
  const mask = (v: unknown): unknown => (v === null || v === undefined ? v : { $sensitive: digest(String(v)).slice(-16) });
  // A command with `--pass root`, `--password=x`, `--token t`… is masked as a whole (changes still show).
  const secretArgs = (v: unknown) => {
    const words = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(/\s+/) : [];
    return words.some((w) => SECRET_FLAG.test(w.split('=')[0]!));
  };
  const walk = (v: unknown, key: string, underEnv: boolean): unknown => {
    if (!underEnv && key === 'ports' && Array.isArray(v)) return v.map(portText);
    if (!underEnv && (key === 'command' || key === 'entrypoint')) {
      if (secretArgs(v)) return { $sensitive: digest(JSON.stringify(v)).slice(-16) };
    }
    if (Array.isArray(v)) return v.map((x) => (underEnv && typeof x === 'string' && x.includes('=') ? `${x.slice(0, x.indexOf('='))}=${JSON.stringify(mask(x.slice(x.indexOf('=') + 1)))}` : walk(x, key, false)));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (underEnv) out[k] = x && typeof x === 'object' ? walk(x, k, false) : envValue(k, x);
        else out[k] = walk(x, k, k === 'environment');
      }
      return out;
    }
    if ((typeof v === 'string' || typeof v === 'number') && SECRET_KEY.test(key) && !['healthcheck'].includes(key)) return mask(v);
    if (leaks(v)) return mask(v);
    return v;
  };
  const whole = (v: unknown) => (v === null || v === undefined ? v : { $sensitive: digest(typeof v === 'string' ? v : JSON.stringify(v)).slice(-16) });
  const out: MaskedConfig = {};
  for (const [k, v] of Object.entries(cfg)) {
    if (opts.sensitive?.has(k)) out[k] = whole(v);
    else if ((k === 'environment' || k === 'labels') && v && typeof v === 'object' && !Array.isArray(v)) {
      const entries = Object.entries(v as Record<string, unknown>);
      const walked = walk(v, k, k === 'environment') as Record<string, unknown>;
      out[k] = Object.fromEntries(entries.map(([kk, x]) => [kk, opts.sensitive?.has(`${k}.${kk}`) ? whole(x) : walked[kk]]));
    } else out[k] = walk(v, k, false);
  }
  return out;
}

export const isPlain = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);
export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !('$sensitive' in v);
export const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
export const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** "image postgres:15 -> postgres:16", "environment: LOG_LEVEL changed"… in key order. */
export function configChanges(before: MaskedConfig, after: MaskedConfig): string[] {
  const out: string[] = [];
  for (const k of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
    const b = before[k];
    const a = after[k];
    if (same(a, b)) continue;
    if (!(k in before)) out.push(`${k} added`);
    else if (!(k in after)) out.push(`${k} removed`);
    else if (isPlain(a) && isPlain(b)) out.push(`${k} ${show(b)} -> ${show(a)}`);
    else if (isObj(a) && isObj(b)) {
      const sub: string[] = [];
      for (const s of [...new Set([...Object.keys(b), ...Object.keys(a)])].sort()) {
        if (same(a[s], b[s])) continue;
        sub.push(!(s in b) ? `${s} added` : !(s in a) ? `${s} removed` : `${s} changed`);
      }
      out.push(`${k}: ${sub.join(', ')}`);
    } else out.push(`${k} changed`);
  }
  return out;
}

