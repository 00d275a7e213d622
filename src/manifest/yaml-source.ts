// A YAML file read with its source positions, so every later error can name file:line:column.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { Diagnostic } from '../core/types.js';

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

export function parseYamlText(file: string, text: string): { source: YamlSource; diagnostics: Diagnostic[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
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
  const diagnostics: Diagnostic[] = [];
  for (const e of [...doc.errors, ...doc.warnings]) {
    const offset = e.pos?.[0] ?? 0;
    diagnostics.push({
      severity: doc.errors.includes(e as never) ? 'error' : 'warning',
      summary: `invalid YAML: ${firstLine(e.message)}`,
      location: at(offset),
    });
  }
  return { source: { file, display, text, doc, lines, locate }, diagnostics };
}

export async function readYamlFile(file: string): Promise<{ source?: YamlSource; diagnostics: Diagnostic[] }> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, expected a YAML file' : `cannot read (${code})`;
    return { diagnostics: [{ severity: 'error', summary: why, location: displayPath(file) }] };
  }
  return parseYamlText(file, text);
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
