// ${VAR} expansion in string values, with compose's forms:
//   ${VAR}  ${VAR:-default}  ${VAR-default}  ${VAR:?message}  ${VAR?message}  ${VAR:+alt}  ${VAR+alt}  $VAR
//   and $$ for a literal $.
import { clip } from '../core/fs.js';
import type { Diagnostic } from '../core/types.js';
import type { PathSeg } from './yaml-source.js';

const TOKEN = /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|([A-Za-z_][A-Za-z0-9_]*)|(\{[^}]*\}?))/g;

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
  const walk = (v: unknown, p: PathSeg[]): unknown => {
    if (typeof v === 'string') {
      if (v.includes('\0')) {
        // no path, name or argument can hold a NUL: say where it is instead of failing later
        diagnostics.push({ severity: 'error', summary: 'a value contains a NUL character (\\0)', location: locate(p) });
        return v;
      }
      // one message per problem and place: "$A" 200,000 times is one warning, not 200,000
      const seen = new Set<string>();
      return expandString(v, env, (d) => {
        if (seen.has(d.summary)) return;
        seen.add(d.summary);
        diagnostics.push({ ...d, location: locate(p) });
      });
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

export function expandString(s: string, env: NodeJS.ProcessEnv, report: (d: Diagnostic) => void): string {
  if (!s.includes('$')) return s;
  return s.replace(TOKEN, (whole, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined, bad: string | undefined) => {
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
        return nonEmpty ? val! : expandString(arg ?? '', env, report);
      case '-':
        return set ? val! : expandString(arg ?? '', env, report);
      case ':+':
        return nonEmpty ? expandString(arg ?? '', env, report) : '';
      case '+':
        return set ? expandString(arg ?? '', env, report) : '';
      case ':?':
      case '?':
        if (op === ':?' ? nonEmpty : set) return val!;
        report({ severity: 'error', summary: `required variable ${name} is ${set ? 'empty' : 'not set'}${arg ? `: ${clip(arg)}` : ''}` });
        return '';
      default:
        if (!set) report({ severity: 'warning', summary: `variable ${name} is not set; using an empty string` });
        return val ?? '';
    }
  });
}
