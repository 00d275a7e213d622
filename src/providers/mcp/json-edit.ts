// Careful edits of a JSON / JSONC agent config: set or remove one entry of one top-level map
// (`mcpServers`, `servers`, `mcp`), leaving every other byte as the user wrote it (comments, key order,
// indentation, trailing commas). Pure: text in, text out.
import { getNodeValue, parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';

export interface JsonEntryRead {
  /** The entry's current value, undefined when absent. */
  entry: unknown;
  /** Every name in the map (for "other servers" checks). */
  names: string[];
}

export class ConfigSyntaxError extends Error {
  override name = 'ConfigSyntaxError';
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
  }
}

function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === '\n') (line++, (last = i));
  return { line, column: offset - last };
}

// Many servers share one config file: parse each distinct text once (a small cache of recent texts).
const trees = new Map<string, Node | ConfigSyntaxError>();

function tree(text: string): Node | undefined {
  if (!text.trim()) return undefined;
  const hit = trees.get(text);
  if (hit instanceof ConfigSyntaxError) throw hit;
  if (hit) return hit;
  try {
    const root = parseFresh(text);
    trees.set(text, root);
    return root;
  } catch (err) {
    if (err instanceof ConfigSyntaxError) trees.set(text, err);
    throw err;
  } finally {
    if (trees.size > 32) trees.delete(trees.keys().next().value!);
  }
}

function parseFresh(text: string): Node {
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length) {
    const e = errors[0]!;
    const { line, column } = lineCol(text, e.offset);
    throw new ConfigSyntaxError(`invalid JSON: ${printParseErrorCode(e.error)}`, line, column);
  }
  if (!root || root.type !== 'object') {
    throw new ConfigSyntaxError('expected a JSON object at the top of the file', 1, 1);
  }
  return root;
}

/** The map's place in the document: one top-level key (`mcpServers`) or a path of keys (`projects`, DIR, `mcpServers`). */
export type MapKey = string | readonly string[];

const segments = (key: MapKey): string[] => (typeof key === 'string' ? [key] : [...key]);

/** The object node at `key` (undefined when absent); a non-object on the way is a ConfigSyntaxError. */
function mapNode(text: string, root: Node, key: MapKey): { map: Node | undefined; parent: Node; rest: string[] } {
  let node = root;
  const segs = segments(key);
  for (let i = 0; i < segs.length; i++) {
    const prop = (node.children ?? []).find((p) => p.children?.[0]?.value === segs[i]);
    const value = prop?.children?.[1];
    if (!value) return { map: undefined, parent: node, rest: segs.slice(i) };
    if (value.type !== 'object') {
      const { line, column } = lineCol(text, value.offset);
      throw new ConfigSyntaxError(`"${segs.slice(0, i + 1).join('.')}" is not an object`, line, column);
    }
    node = value;
  }
  return { map: node, parent: node, rest: [] };
}

/** Read the entry `name` of the map `key`. Throws ConfigSyntaxError on a file that is not a JSON object. */
export function readJsonEntry(text: string | null, key: MapKey, name: string): JsonEntryRead {
  if (text === null) return { entry: undefined, names: [] };
  const root = tree(text);
  if (!root) return { entry: undefined, names: [] };
  const { map } = mapNode(text, root, key);
  if (!map) return { entry: undefined, names: [] };
  const names: string[] = [];
  let entry: unknown;
  for (const p of map.children ?? []) {
    const k = p.children?.[0]?.value as string;
    names.push(k);
    if (k === name && p.children?.[1]) entry = getNodeValue(p.children[1]);
  }
  return { entry, names };
}

function indentUnitOf(text: string): string {
  const m = /\n([ \t]+)["}\]]/.exec(text);
  if (!m) return '  ';
  return m[1]!.startsWith('\t') ? '\t' : ' '.repeat(Math.min(m[1]!.length, 8));
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

function indentAt(text: string, offset: number): string {
  const start = lineStart(text, offset);
  return /^[ \t]*/.exec(text.slice(start))![0];
}

function render(value: unknown, unit: string, base: string): string {
  return JSON.stringify(value, null, unit).replace(/\n/g, `\n${base}`);
}

/** Skip whitespace and comments from `i`; returns the offset of the next significant character. */
function skipTrivia(text: string, i: number): number {
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text.startsWith('//', i)) {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else return i;
  }
}

/** Insert `"prop": value` as the last property of `obj` (an object node). */
function insertProperty(text: string, obj: Node, prop: string, value: unknown, unit: string): string {
  const close = obj.offset + obj.length - 1; // the '}'
  const props = obj.children ?? [];
  const objIndent = indentAt(text, obj.offset);
  const closeIndent = indentAt(text, close);
  const closeOnOwnLine = text.slice(lineStart(text, close), close).trim() === '';
  const base = props.length ? indentAt(text, props[props.length - 1]!.offset) : (closeOnOwnLine ? closeIndent : objIndent) + unit;
  const member = `${JSON.stringify(prop)}: ${render(value, unit, base)}`;
  if (!props.length) {
    const inner = text.slice(obj.offset + 1, close);
    if (inner.trim() === '') {
      const outer = closeOnOwnLine ? closeIndent : objIndent;
      return `${text.slice(0, obj.offset)}{\n${base}${member}\n${outer}}${text.slice(close + 1)}`;
    }
    // only comments inside: put the member before the closing brace
    const at = closeOnOwnLine ? lineStart(text, close) : close;
    return `${text.slice(0, at)}${closeOnOwnLine ? '' : '\n'}${base}${member}\n${closeOnOwnLine ? '' : objIndent}${text.slice(at)}`;
  }
  const last = props[props.length - 1]!;
  const lastEnd = last.offset + last.length;
  const next = skipTrivia(text, lastEnd);
  const hasTrailingComma = text[next] === ',';
  let out = text;
  let shift = 0;
  if (!hasTrailingComma) {
    out = `${out.slice(0, lastEnd)},${out.slice(lastEnd)}`;
    shift = 1;
  }
  const closeAt = close + shift;
  if (closeOnOwnLine) {
    const at = lineStart(out, closeAt);
    return `${out.slice(0, at)}${base}${member}${hasTrailingComma ? ',' : ''}\n${out.slice(at)}`;
  }
  return `${out.slice(0, closeAt)}${closeAt > 0 && out[closeAt - 1] === ' ' ? '' : ' '}${member} ${out.slice(closeAt)}`;
}

/** Remove property node `prop` (a property node) from its object, with its line and its separating comma. */
function removeProperty(text: string, obj: Node, prop: Node): string {
  const props = obj.children ?? [];
  const idx = props.indexOf(prop);
  let start = prop.offset;
  let end = prop.offset + prop.length;
  const after = skipTrivia(text, end);
  const commaAfter = text[after] === ',';
  if (commaAfter) end = after + 1;
  // whole lines when the property sits alone on its lines
  const ls = lineStart(text, start);
  if (text.slice(ls, start).trim() === '') {
    const nl = text.indexOf('\n', end);
    const rest = text.slice(end, nl < 0 ? text.length : nl);
    if (rest.trim() === '') {
      start = ls;
      end = nl < 0 ? text.length : nl + 1;
    }
  }
  let out = text.slice(0, start) + text.slice(end);
  if (!commaAfter && idx > 0) {
    // it was the last one: drop the comma after the previous property
    const prev = props[idx - 1]!;
    const prevEnd = prev.offset + prev.length;
    const c = skipTrivia(out, prevEnd);
    if (out[c] === ',') out = out.slice(0, c) + out.slice(c + 1);
  }
  return out;
}

/**
 * Set (value !== undefined) or remove (value === undefined) `key.name`. Returns the new text; the same
 * text when nothing changes. A missing file (`null`) becomes a small new document.
 */
export function editJsonEntry(text: string | null, key: MapKey, name: string, value: unknown): string {
  const src = text ?? '';
  const root = tree(src);
  const nest = (keys: string[]): unknown => keys.reduceRight<unknown>((inner, k) => ({ [k]: inner }), { [name]: value });
  if (!root) {
    if (value === undefined) return src;
    return `${JSON.stringify(nest(segments(key)), null, 2)}\n`;
  }
  const unit = indentUnitOf(src);
  const { map, parent, rest } = mapNode(src, root, key);
  if (!map) {
    if (value === undefined) return src;
    return insertProperty(src, parent, rest[0]!, nest(rest.slice(1)), unit);
  }
  const prop = (map.children ?? []).find((p) => p.children?.[0]?.value === name);
  if (!prop) {
    if (value === undefined) return src;
    return insertProperty(src, map, name, value, unit);
  }
  if (value === undefined) return removeProperty(src, map, prop);
  const valueNode = prop.children![1]!;
  const current = getNodeValue(valueNode);
  if (sameJson(current, value)) return src;
  const base = indentAt(src, prop.offset);
  return src.slice(0, valueNode.offset) + render(value, unit, base) + src.slice(valueNode.offset + valueNode.length);
}

/** Deep equality of JSON values, ignoring key order. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => sameJson(x, (b as unknown[])[i]));
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
