// Careful edits of Codex's config.toml: set or remove the tables `[mcp_servers.NAME]` (and its sub-tables
// such as `[mcp_servers.NAME.env]`), leaving every other line (comments, other tables) as written.
// Pure: text in, text out. Values are rendered with smol-toml.
import { parse, stringify, TomlError } from 'smol-toml';
import { ConfigSyntaxError, sameJson } from './json-edit.js';

/** Split a TOML table header's key (`mcp_servers."my server".env`) into its parts. */
export function headerKeys(header: string): string[] {
  const keys: string[] = [];
  let i = 0;
  const s = header.trim();
  while (i < s.length) {
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] === '"' || s[i] === "'") {
      const q = s[i]!;
      let j = i + 1;
      let v = '';
      while (j < s.length && s[j] !== q) {
        if (q === '"' && s[j] === '\\') {
          v += s[j + 1] ?? '';
          j += 2;
        } else v += s[j++]!;
      }
      keys.push(v);
      i = j + 1;
    } else {
      let j = i;
      while (j < s.length && s[j] !== '.' && s[j] !== ' ' && s[j] !== '\t') j++;
      keys.push(s.slice(i, j));
      i = j;
    }
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] === '.') i++;
  }
  return keys;
}

interface Block {
  keys: string[] | null; // null: the lines before the first header
  start: number; // line index
  end: number; // exclusive
}

function blocks(lines: string[]): Block[] {
  const out: Block[] = [];
  let cur: Block = { keys: null, start: 0, end: 0 };
  let inMultiline: string | null = null;
  lines.forEach((line, i) => {
    if (inMultiline) {
      if (line.includes(inMultiline)) inMultiline = null;
      return;
    }
    const m = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/.exec(line);
    if (m) {
      cur.end = i;
      out.push(cur);
      cur = { keys: headerKeys(m[1]!), start: i, end: i };
      return;
    }
    const ml = /=\s*("""|''')/.exec(line);
    if (ml && line.split(ml[1]!).length === 2) inMultiline = ml[1]!;
  });
  cur.end = lines.length;
  out.push(cur);
  return out;
}

// Many servers share one config.toml: parse each distinct text once (a small cache of recent texts).
const docs = new Map<string, Record<string, unknown> | ConfigSyntaxError>();

function parseToml(text: string): Record<string, unknown> {
  const hit = docs.get(text);
  if (hit instanceof ConfigSyntaxError) throw hit;
  if (hit) return hit;
  let out: Record<string, unknown> | ConfigSyntaxError;
  try {
    out = parse(text) as Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    out = new ConfigSyntaxError(`invalid TOML: ${err.message.split('\n')[0]}`, err.line, err.column);
  }
  docs.set(text, out);
  if (docs.size > 32) docs.delete(docs.keys().next().value!);
  if (out instanceof ConfigSyntaxError) throw out;
  return out;
}

export interface TomlEntryRead {
  entry: unknown;
  names: string[];
  /** The entry exists but not as `[mcp_servers.NAME]` tables (inline or dotted keys): not edited. */
  inline: boolean;
}

export function readTomlEntry(text: string | null, name: string): TomlEntryRead {
  if (text === null || !text.trim()) return { entry: undefined, names: [], inline: false };
  const doc = parseToml(text);
  const raw = doc.mcp_servers;
  if (raw !== undefined && (raw === null || typeof raw !== 'object' || Array.isArray(raw) || raw instanceof Date)) {
    // `[[mcp_servers]]` or `mcp_servers = 1`: no table to put a server in; never guess
    const i = text.split('\n').findIndex((l) => /^\s*(\[\[?\s*)?mcp_servers\b/.test(l));
    throw new ConfigSyntaxError(`mcp_servers is ${Array.isArray(raw) ? 'an array of tables' : 'a value'}, expected a table of servers ([mcp_servers.NAME])`, i + 1 || 1, 1);
  }
  const servers = (raw ?? {}) as Record<string, unknown>;
  const entry = servers[name];
  const ours = blocks(text.split('\n')).some((b) => b.keys && b.keys[0] === 'mcp_servers' && b.keys[1] === name);
  return { entry: entry === undefined ? undefined : JSON.parse(JSON.stringify(entry)), names: Object.keys(servers), inline: entry !== undefined && !ours };
}

/** TOML text of `[mcp_servers.NAME]` holding `value` (ends with a newline). */
export function renderTomlEntry(name: string, value: Record<string, unknown>): string {
  return stringify({ mcp_servers: { [name]: value } }).replace(/^\n+/, '').replace(/\n*$/, '\n');
}

/** Set (value !== undefined) or remove `[mcp_servers.NAME]`. Same text back when nothing changes. */
export function editTomlEntry(text: string | null, name: string, value: Record<string, unknown> | undefined): string {
  const src = text ?? '';
  const read = readTomlEntry(src, name);
  if (value !== undefined && read.entry !== undefined && sameJson(read.entry, value)) return src;
  if (value === undefined && read.entry === undefined) return src;
  if (read.inline) throw new ConfigSyntaxError(`mcp_servers.${name} is written as inline or dotted keys; edit it by hand or turn it into a [mcp_servers.${name}] table`, 1, 1);
  const lines = src.split('\n');
  const bs = blocks(lines);
  const mine = bs
    .filter((b) => b.keys && b.keys[0] === 'mcp_servers' && b.keys[1] === name)
    .map((b) => {
      // Comments right before the next table belong to it: keep them (and the blank lines before them).
      let end = b.end;
      while (end > b.start + 1 && /^\s*(#.*)?$/.test(lines[end - 1]!)) end--;
      let e2 = end;
      while (e2 < b.end && lines[e2]!.trim() === '') e2++;
      if (e2 < b.end) return { ...b, end };
      return { ...b, end: b.end };
    });
  const block = value === undefined ? '' : renderTomlEntry(name, value);
  if (!mine.length) {
    if (!src.trim()) return block;
    const sep = src.endsWith('\n\n') ? '' : src.endsWith('\n') ? '\n' : '\n\n';
    return `${src}${sep}${block}`;
  }
  // Drop our tables; trailing blank lines of a dropped table go with it.
  const drop = new Set<number>();
  for (const b of mine) for (let i = b.start; i < b.end; i++) drop.add(i);
  const firstStart = mine[0]!.start;
  const kept: string[] = [];
  let insertAt = -1;
  for (let i = 0; i < lines.length; i++) {
    if (i === firstStart) insertAt = kept.length;
    if (!drop.has(i)) kept.push(lines[i]!);
  }
  if (value === undefined) {
    // removing: also drop one blank line left before the removed block
    if (insertAt > 0 && kept[insertAt - 1] === '' && (insertAt === kept.length || kept[insertAt] === '' || insertAt === kept.length - 1)) kept.splice(insertAt - 1, 1);
    let out = kept.join('\n');
    if (!out.trim()) return '';
    if (src.endsWith('\n') && !out.endsWith('\n')) out += '\n';
    return out;
  }
  const blockLines = block.replace(/\n$/, '').split('\n');
  const next = kept[insertAt];
  if (next !== undefined && next.trim() !== '') blockLines.push('');
  kept.splice(insertAt, 0, ...blockLines);
  let out = kept.join('\n');
  if (!out.endsWith('\n')) out += '\n';
  return out;
}
