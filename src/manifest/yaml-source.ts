// A YAML file read with its source positions, so every later error can name file:line:column.
import { MiB, readRegularFile } from '../core/fs.js';
import path from 'node:path';
import { isAlias, isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { Diagnostic } from '../core/types.js';

/** A manifest (or any YAML this tool reads) larger than this is refused before parsing. */
export const MANIFEST_MAX_BYTES = 4 * MiB;

export type PathSeg = string | number;

export interface YamlSource {
  file: string;
  /** File name as shown in messages (relative to cwd when inside it). */
  display: string;
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** `file:line:column` of the value at `p` (or of its key with `key: true`); falls back to the nearest parent. */
  locate(p: PathSeg[], opts?: { key?: boolean }): string;
}

export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/**
 * A source whose YAML is parsed only when something asks for a node or a position (`doc`, `lines`,
 * `locate`): the manifest loader uses it when the parsed data came from its cache.
 */
export function lazyYamlSource(file: string, text: string): YamlSource {
  let parsed: YamlSource | undefined;
  const get = () => (parsed ??= parseYamlText(file, text).source);
  return {
    file,
    display: displayPath(file),
    text,
    get doc() {
      return get().doc;
    },
    get lines() {
      return get().lines;
    },
    locate: (p, opts) => get().locate(p, opts),
  };
}

export function parseYamlText(file: string, text: string): { source: YamlSource; diagnostics: Diagnostic[] } {
  const lines = new LineCounter();
  // Duplicate keys are found below in one pass: yaml's own check (uniqueKeys) compares every key with
  // every earlier one of its map, quadratic in a section of 10,000 resources.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false, logLevel: 'error' });
  const display = displayPath(file);
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return `${display}:${line}:${col}`;
  };
  const locate = (p: PathSeg[], opts: { key?: boolean } = {}): string => {
    let node: unknown = doc.contents;
    let keyNode: Node | undefined;
    let best: number = (node as Node | null)?.range?.[0] ?? 0;
    for (const seg of p) {
      keyNode = undefined;
      if (isMap(node)) {
        const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg));
        if (!pair) break;
        keyNode = pair.key as Node;
        node = pair.value;
        best = (pair.value as Node | null)?.range?.[0] ?? keyNode.range?.[0] ?? best;
      } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
        node = node.items[seg];
        best = (node as Node | null)?.range?.[0] ?? best;
      } else {
        break;
      }
    }
    if (opts.key && keyNode?.range) return at(keyNode.range[0]);
    return at(best);
  };
  const found: { offset: number; severity: 'error' | 'warning'; message: string }[] = [];
  for (const e of doc.errors) found.push({ offset: e.pos?.[0] ?? 0, severity: 'error', message: e.message });
  for (const e of doc.warnings) found.push({ offset: e.pos?.[0] ?? 0, severity: 'warning', message: e.message });
  for (const offset of duplicateKeys(doc.contents)) found.push({ offset, severity: 'error', message: 'Map keys must be unique' });
  found.sort((a, b) => (a.severity === b.severity ? a.offset - b.offset : a.severity === 'error' ? -1 : 1));
  const diagnostics: Diagnostic[] = found.map((e) => ({ severity: e.severity, summary: `invalid YAML: ${/call stack/i.test(e.message) ? 'nested too deeply' : firstLine(e.message)}`, location: at(e.offset) }));
  return { source: { file, display, text, doc, lines, locate }, diagnostics };
}

/** The text of a YAML file, or the diagnostic saying why it cannot be read. */
export async function readYamlText(file: string): Promise<{ text?: string; diagnostics: Diagnostic[] }> {
  try {
    return { text: await readRegularFile(file, MANIFEST_MAX_BYTES), diagnostics: [] };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a folder, expected a YAML file'
          : code === 'ENOTREG' || code === 'EFBIG'
            ? (err as Error).message.slice(file.length + 2)
            : `cannot read (${code})`;
    return { diagnostics: [{ severity: 'error', summary: why, location: displayPath(file) }] };
  }
}

export async function readYamlFile(file: string): Promise<{ source?: YamlSource; diagnostics: Diagnostic[] }> {
  const r = await readYamlText(file);
  if (r.text === undefined) return { diagnostics: r.diagnostics };
  return parseYamlText(file, r.text);
}

/** Offsets of keys that repeat an earlier scalar key of the same map, in one walk (a Set per map). */
function duplicateKeys(root: unknown): number[] {
  const out: number[] = [];
  const stack: unknown[] = [root];
  while (stack.length) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const it of node.items) {
        if (isScalar(it.key)) {
          if (seen.has(it.key.value)) out.push((it.key as Node).range?.[0] ?? 0);
          else seen.add(it.key.value);
        }
        stack.push(it.value);
      }
    } else if (isSeq(node)) {
      for (const it of node.items) stack.push(it);
    }
  }
  return out;
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

/** `a.b[0].c` for messages. */
export function formatPath(p: PathSeg[]): string {
  let out = '';
  for (const seg of p) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : String(seg);
  return out || '(top level)';
}

/** Aliases one document may expand: enough for any real manifest, far too few for a "billion laughs". */
export const MAX_ALIAS_COUNT = 100;

/**
 * The document as plain data, or a located error: an alias inside the node it names (`x: &S [*S]`),
 * an alias bomb (more expansion than MAX_ALIAS_COUNT allows) and nesting too deep to walk.
 */
export function yamlData(source: YamlSource, maxAliasCount = MAX_ALIAS_COUNT): { value?: unknown; diagnostics: Diagnostic[] } {
  const at = (offset: number | undefined) => {
    const { line, col } = source.lines.linePos(offset ?? 0);
    return `${source.display}:${line}:${col}`;
  };
  let selfRef: Diagnostic | undefined;
  let firstAlias: number | undefined;
  try {
    visit(source.doc, {
      Alias(_key, node, path) {
        firstAlias ??= node.range?.[0];
        if (path.some((p) => isNode(p) && !isAlias(p) && p.anchor === node.source)) {
          selfRef = { severity: 'error', summary: `invalid YAML: the alias *${node.source} refers to a node that contains it (an endless value)`, location: at(node.range?.[0]) };
          return visit.BREAK;
        }
        return undefined;
      },
    });
  } catch (err) {
    if (err instanceof RangeError) return { diagnostics: [{ severity: 'error', summary: 'invalid YAML: nested too deeply', location: at(0) }] };
    throw err;
  }
  if (selfRef) return { diagnostics: [selfRef] };
  try {
    return { value: source.doc.toJS({ maxAliasCount }), diagnostics: [] };
  } catch (err) {
    const msg = (err as Error).message ?? '';
    if (/alias count/i.test(msg)) {
      return { diagnostics: [{ severity: 'error', summary: `invalid YAML: aliases expand to too much data (more than ${maxAliasCount} alias expansions; an "alias bomb"?)`, location: at(firstAlias) }] };
    }
    if (err instanceof RangeError) return { diagnostics: [{ severity: 'error', summary: 'invalid YAML: nested too deeply', location: at(0) }] };
    if (err instanceof ReferenceError) return { diagnostics: [{ severity: 'error', summary: `invalid YAML: ${firstLine(msg)}`, location: at(firstAlias) }] };
    throw err;
  }
}
