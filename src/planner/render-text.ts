// The text plan, in Terraform's visual language. Renders values the differ built; decides nothing.
import { structuredPatch } from 'diff';
import { printable as safeText } from '../core/errors.js';
import { ACTION_SYMBOL, type Action, type Change, type Diagnostic } from '../core/types.js';
import type { Plan, Summary } from './plan.js';

export interface Style {
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
  /** `--verbose`: unchanged attributes of an update are shown too, not counted as hidden. */
  verbose?: boolean;
}

const plain: Style = { green: (s) => s, yellow: (s) => s, red: (s) => s, bold: (s) => s, dim: (s) => s };
const ansi = (code: number) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;
const colored: Style = { green: ansi(32), yellow: ansi(33), red: ansi(31), bold: ansi(1), dim: ansi(2) };

export function style(color: boolean): Style {
  return color ? colored : plain;
}

/** Colour only on a TTY, never with NO_COLOR or --no-color. */
export function wantColor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv, noColorFlag: boolean): boolean {
  return Boolean(stream.isTTY) && !noColorFlag && !('NO_COLOR' in env && env.NO_COLOR !== '');
}

const SENSITIVE = '(sensitive value)';

export function isSensitive(v: unknown): v is { $sensitive: string } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && '$sensitive' in v;
}

function verbOf(c: Change): string {
  if (c.verb) return c.verb;
  switch (c.action) {
    case 'create':
      return 'created';
    case 'update':
      return 'updated in-place';
    case 'replace':
      return 'replaced';
    case 'delete':
      return 'destroyed';
    case 'no-op':
      return 'left unchanged';
    default: {
      const never: never = c.action;
      throw new Error(`unknown action ${String(never)}`);
    }
  }
}

function symbolColor(s: Style, a: Action | 'unchanged'): (x: string) => string {
  if (a === 'create') return s.green;
  if (a === 'delete') return s.red;
  if (a === 'update' || a === 'replace') return s.yellow;
  return (x) => x;
}

/** Whether a value holds a sensitive marker anywhere inside. */
function holdsSensitive(v: unknown): boolean {
  if (isSensitive(v)) return true;
  if (Array.isArray(v)) return v.some(holdsSensitive);
  if (v && typeof v === 'object') return Object.values(v).some(holdsSensitive);
  return false;
}

/**
 * One value on one line. Objects are JSON, except where a sensitive marker sits inside (never the
 * internal `{"$sensitive": …}` form) or `hcl` asks for the `{ k = v }` form: then each part is rendered
 * the same way, a marker as `(sensitive value)`.
 */
function scalar(v: unknown, hcl = false): string {
  if (isSensitive(v)) return typeof (v as { $summary?: unknown }).$summary === 'string' ? `(${String((v as { $summary?: unknown }).$summary)})` : SENSITIVE;
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) return `[${v.map((x) => scalar(x)).join(', ')}]`;
  if (typeof v === 'object') {
    if (!hcl && !holdsSensitive(v)) return JSON.stringify(v);
    if (Array.isArray(v)) return `[${v.map((x) => scalar(x, true)).join(', ')}]`;
    const entries = Object.entries(v as Record<string, unknown>);
    return entries.length ? `{ ${entries.map(([k, x]) => `${printable(k)} = ${scalar(x, true)}`).join(', ')} }` : '{}';
  }
  return String(v);
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !isSensitive(v);
const isText = (v: unknown): v is string => typeof v === 'string' && v.includes('\n');

/** A key as it may reach a terminal: control characters (escape codes, line breaks, NUL) JSON-escaped. */
function printable(k: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\x00-\x1f\x7f-\x9f]/.test(k) ? JSON.stringify(k) : k;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Attribute lines of a block. `mode` says whether the whole block is being created, destroyed or diffed.
 * `compact` (compose services: dozens per stack) puts a small map created or destroyed whole on one line.
 */
function attrs(before: unknown, after: unknown, mode: 'create' | 'delete' | 'diff', indent: string, s: Style, compact = false): string[] {
  const b = isMap(before) ? before : {};
  const a = isMap(after) ? after : {};
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  const shown = mode === 'diff' && !s.verbose ? keys.filter((k) => !(k in a && k in b && same(a[k], b[k]))) : keys;
  const inline = (x: unknown) => !isMap(x) || (compact && mode !== 'diff' && scalar(x, true).length <= 140);
  const width = Math.max(0, ...shown.filter((k) => inline(a[k] ?? b[k])).map((k) => k.length));
  const out: string[] = [];
  let hidden = 0;
  for (const k of keys) {
    const inB = k in b;
    const inA = k in a;
    const kind: Action | 'unchanged' =
      mode === 'create' ? 'create' : mode === 'delete' ? 'delete' : !inB ? 'create' : !inA ? 'delete' : same(b[k], a[k]) ? 'unchanged' : 'update';
    if (kind === 'unchanged' && mode === 'diff' && !s.verbose) {
      hidden++;
      continue;
    }
    const sym = symbolColor(s, kind)(ACTION_SYMBOL[kind === 'unchanged' ? 'no-op' : kind]);
    const bv = b[k];
    const av = a[k];
    const v = kind === 'delete' ? bv : av;
    const name = printable(k).padEnd(width);
    // A small map created or destroyed whole fits on its line (`networks = { a = null, b = null }`);
    // bigger ones, and every map in a diff, open a block.
    const short = compact && (kind === 'create' || kind === 'delete') && isMap(v) ? scalar(v, true) : null;
    if (short !== null && short.length <= 140 && !short.includes('\n')) {
      out.push(`${indent}${sym} ${name} = ${short}`);
    } else if (isMap(v) || (kind === 'update' && isMap(bv) && isMap(av))) {
      out.push(`${indent}${sym} ${printable(k)} = {`);
      out.push(...attrs(kind === 'create' ? null : bv, kind === 'delete' ? null : av, kind === 'update' ? 'diff' : (kind as 'create' | 'delete'), indent + '    ', s, compact));
      out.push(`${indent}  }`);
    } else if (kind === 'update' && (isText(bv) || isText(av))) {
      out.push(`${indent}${sym} ${printable(k)} = <<-EOT`);
      out.push(...unifiedDiff(String(bv ?? ''), String(av ?? ''), indent + '    ', s));
      out.push(`${indent}  EOT`);
    } else if ((kind === 'create' || kind === 'delete') && isText(v)) {
      out.push(`${indent}${sym} ${printable(k)} = <<-EOT`);
      for (const line of v.replace(/\n$/, '').split('\n')) out.push(`${indent}    ${line}`);
      out.push(`${indent}  EOT`);
    } else if (kind === 'update') {
      out.push(`${indent}${sym} ${name} = ${scalar(bv)} -> ${scalar(av)}`);
    } else {
      out.push(`${indent}${sym} ${name} = ${scalar(v)}`);
    }
  }
  if (hidden) out.push(s.dim(`${indent}  # (${hidden} unchanged attribute${hidden === 1 ? '' : 's'} hidden)`));
  return out;
}

export function unifiedDiff(before: string, after: string, indent: string, s: Style): string[] {
  const p = structuredPatch('before', 'after', before, after, '', '', { context: 3 });
  const out: string[] = [];
  for (const h of p.hunks) {
    out.push(s.dim(`${indent}@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`));
    for (const line of h.lines) {
      if (line.startsWith('\\')) continue;
      const c = line[0] === '+' ? s.green : line[0] === '-' ? s.red : (x: string) => x;
      out.push(c(`${indent}${line}`));
    }
  }
  return out;
}

export function renderChange(c: Change, s: Style, indent = '  '): string[] {
  const out: string[] = [];
  const reason = c.reason ? ` (because ${c.reason})` : '';
  if (c.blocked) out.push(`${indent}${s.bold(`# ${c.address}`)} is blocked: it would be ${verbOf(c)}, but an error below stops it`);
  else out.push(`${indent}${s.bold(`# ${c.address}`)} will be ${verbOf(c)}${reason}`);
  for (const x of c.conflicts ?? []) out.push(`${indent}${s.red(`# Conflict: ${x}`)}`);
  if (c.origin) out.push(`${indent}${s.dim(`# (from ${c.origin})`)}`);
  for (const w of c.warnings ?? []) out.push(`${indent}${s.yellow(`# Warning: ${w}`)}`);
  const sym = symbolColor(s, c.action)(ACTION_SYMBOL[c.action]);
  // Terraform right-aligns the symbol: `+`, `~`, `-` under the `#`, `-/+` sticking out to the left.
  const pad = ' '.repeat(Math.max(0, indent.length + 1 - ACTION_SYMBOL[c.action].length));
  const head = `${pad}${sym} ${c.section} "${c.name}" {`;
  const mode = c.action === 'create' ? 'create' : c.action === 'delete' ? 'delete' : 'diff';
  const body = attrs(c.before, c.after, mode, indent + '    ', s, c.section === 'stacks');
  if (body.length || !c.parts?.length) {
    out.push(head, ...body, `${indent}  }`);
  }
  for (const p of c.parts ?? []) {
    if (p.action === 'no-op') continue;
    out.push('', ...renderChange(p, s, indent + '  '));
  }
  return out;
}

export function renderDiagnostic(d: Diagnostic, s: Style): string[] {
  const mark = d.severity === 'error' ? s.red('!') : s.yellow('!');
  const where = d.location ? `${d.location}: ` : '';
  // a value from the manifest or a file can be long or hold escape sequences: cut and escaped (not our colour)
  const head = `${mark} ${safeText(d.address ? `${d.address} ${where}${d.summary}` : `${where}${d.summary}`)}`;
  return [head, ...(d.detail ? d.detail.split('\n').map((l) => safeText(`    ${l}`)) : [])];
}

/**
 * The plan's last line (or two). "No changes" only when nothing is to change and nothing stands in the
 * way; blocked, unreadable and conflicting resources are counted on a line of their own (`Not planned:
 * 2 blocked, 1 unreadable.`), never as changes.
 */
export function summaryLine(sum: Summary, extras: string[] = [], errors = 0): string {
  const tail = extras.length ? ` ${extras.join('; ')}` : '';
  const stuck = [
    sum.blocked ? `${sum.blocked} blocked` : '',
    sum.unreadable ? `${sum.unreadable} unreadable` : '',
    sum.conflict ? `${sum.conflict} in conflict` : '',
  ].filter(Boolean);
  const changes = sum.add || sum.change || sum.destroy;
  if (!changes && !stuck.length && !errors) return `No changes. Actual state matches the manifest.${tail}`;
  if (!changes && !stuck.length) return `No changes planned, but the plan has ${errors === 1 ? 'an error' : `${errors} errors`}.${tail}`;
  const counts = `Plan: ${sum.add} to add, ${sum.change} to change, ${sum.destroy} to destroy.`;
  // The counts line keeps Terraform's shape for scripts; what is not planned goes on a line of its own.
  return `${counts}${tail}${stuck.length ? `\nNot planned: ${stuck.join(', ')}.` : ''}`;
}

export function renderPlan(plan: Plan, s: Style): string {
  const out: string[] = [];
  for (const n of plan.notes) out.push(n);
  if (plan.notes.length) out.push('');
  const changing = plan.changes.filter((c) => c.action !== 'no-op' || c.conflicts?.length);
  if (changing.length) {
    out.push('pmoves mini will perform the following actions:', '');
    for (const c of changing) out.push(...renderChange(c, s), '');
  }
  if (plan.diagnostics.length) {
    for (const d of plan.diagnostics) out.push(...renderDiagnostic(d, s));
    out.push('');
  }
  out.push(s.bold(summaryLine(plan.summary, plan.summaryExtras, plan.diagnostics.filter((d) => d.severity === 'error').length)));
  return out.join('\n') + '\n';
}
