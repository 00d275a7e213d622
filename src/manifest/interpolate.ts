// ${VAR} expansion in string values, with compose's forms:
//   ${VAR}  ${VAR:-default}  ${VAR-default}  ${VAR:?message}  ${VAR?message}  ${VAR:+alt}  ${VAR+alt}  $VAR
//   and $$ for a literal $.
import { clip } from '../core/fs.js';
import type { Diagnostic } from '../core/types.js';
import type { PathSeg } from './yaml-source.js';

const TOKEN = /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|([A-Za-z_][A-Za-z0-9_]*)|(\{[^}]*\}?))/g;

/** What ${VAR} expansion may produce: per value, and for the whole manifest (the manifest's own limit). */
const EXPANSION_LIMIT = { value: 1024 * 1024, total: 4 * 1024 * 1024 };

export interface InterpolateResult {
  value: unknown;
  diagnostics: Diagnostic[];
}

export function interpolate(
  value: unknown,
  env: NodeJS.ProcessEnv,
  locate: (p: PathSeg[]) => string,
  at: PathSeg[] = [],
): InterpolateResult {
  const diagnostics: Diagnostic[] = [];
  let total = 0;
  const walk = (v: unknown, p: PathSeg[]): unknown => {
    if (typeof v === 'string') {
      if (v.includes('\0')) {
        // no path, name or argument can hold a NUL: say where it is instead of failing later
        diagnostics.push({ severity: 'error', summary: 'a value contains a NUL character (\\0)', location: locate(p) });
        return v;
      }
      // one message per problem and place: "$A" 200,000 times is one warning, not 200,000
      const seen = new Set<string>();
      const limit = Math.min(EXPANSION_LIMIT.value, EXPANSION_LIMIT.total - total);
      const out = expandString(
        v,
        env,
        (d) => {
          if (seen.has(d.summary)) return;
          seen.add(d.summary);
          diagnostics.push({ ...d, location: locate(p) });
        },
        limit,
      );
      if (out.length > limit) {
        // stop here, located, before a 200 MB value reaches the schema, a path or a message
        const which = limit < EXPANSION_LIMIT.value ? `the manifest's values expand to more than ${EXPANSION_LIMIT.total / 1024 / 1024} MiB in all` : `expands to more than ${EXPANSION_LIMIT.value / 1024 / 1024} MiB`;
        diagnostics.push({ severity: 'error', summary: `\${VAR} expansion: ${which} (the limit); check the variables it names`, location: locate(p) });
        return clip(v);
      }
      total += out.length;
      return out;
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...p, i]));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, [...p, k]);
      return out;
    }
    return v;
  };
  return { value: walk(value, at), diagnostics };
}

/** Expand one string; past `limit` characters of expansions it stops growing (the caller sees the length). */
export function expandString(s: string, env: NodeJS.ProcessEnv, report: (d: Diagnostic) => void, limit = Infinity): string {
  if (!s.includes('$')) return s;
  let grown = 0;
  let over = false;
  const out = s.replace(TOKEN, (whole, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined, bad: string | undefined) => {
    if (over) return '';
    const piece = expandToken(whole, braced, op, arg, bare, bad, env, report, limit);
    grown += piece.length;
    if (grown > limit) over = true;
    return over ? '' : piece;
  });
  // over the limit: a value just past it, so the caller sees it was cut (never the whole expansion)
  return over ? out.padEnd(limit + 1, '…') : out;
}

function expandToken(
  whole: string,
  braced: string | undefined,
  op: string | undefined,
  arg: string | undefined,
  bare: string | undefined,
  bad: string | undefined,
  env: NodeJS.ProcessEnv,
  report: (d: Diagnostic) => void,
  limit: number,
): string {
  {
    if (whole === '$$') return '$';
    if (bad !== undefined) {
      report({ severity: 'error', summary: `invalid interpolation "${clip(whole)}": expected \${NAME}, \${NAME:-default}, \${NAME:+alternative} or \${NAME:?message}` });
      return whole;
    }
    const name = (braced ?? bare)!;
    const val = env[name];
    const set = val !== undefined;
    const nonEmpty = set && val !== '';
    switch (op) {
      case ':-':
        return nonEmpty ? val! : expandString(arg ?? '', env, report, limit);
      case '-':
        return set ? val! : expandString(arg ?? '', env, report, limit);
      case ':+':
        return nonEmpty ? expandString(arg ?? '', env, report, limit) : '';
      case '+':
        return set ? expandString(arg ?? '', env, report, limit) : '';
      case ':?':
      case '?':
        if (op === ':?' ? nonEmpty : set) return val!;
        report({ severity: 'error', summary: `required variable ${name} is ${set ? 'empty' : 'not set'}${arg ? `: ${clip(arg)}` : ''}` });
        return '';
      default:
        if (!set) report({ severity: 'warning', summary: `variable ${name} is not set; using an empty string` });
        return val ?? '';
    }
  }
}
