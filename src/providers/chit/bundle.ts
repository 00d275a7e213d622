// CHIT CGP v0.1 bundles: reading them exactly as the upstream codec does.
//   - every super_node in order, every constellation in it: label → value of its first point;
//   - `text` wins over `text_b64`; `text_b64` is strict base64, falling back to hex;
//   - a later super_node's label wins over an earlier one;
//   - meta.count, ids and order are not trusted.
import { MiB, readRegularFile } from '../../core/fs.js';
import { UserError } from '../../core/errors.js';
import { displayPath } from '../../manifest/yaml-source.js';
import { parsePy, PyJsonError } from './python-json.js';

/** A bundle larger than this is refused before it is read. */
export const BUNDLE_MAX_BYTES = 64 * MiB;

export interface CgpPoint {
  id?: string;
  magnitude?: number;
  anchor?: number[];
  text?: string;
  text_b64?: string;
  [k: string]: unknown;
}
export interface CgpConstellation {
  id?: string;
  label?: string;
  kind?: string;
  points?: CgpPoint[];
  [k: string]: unknown;
}
export interface CgpBundle {
  spec?: string;
  meta?: Record<string, unknown>;
  super_nodes?: { id?: string; label?: string; summary?: string; constellations?: CgpConstellation[] }[];
  sig?: unknown;
  [k: string]: unknown;
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** Decode a point's value; null when it has none. Throws a plain Error naming the problem (never the value). */
export function pointValue(p: CgpPoint): string | null {
  if (typeof p.text === 'string') return p.text;
  if (typeof p.text_b64 !== 'string') return null;
  const s = p.text_b64;
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  // strict base64 first; when that fails (not base64, or not UTF-8 text) the hex reading
  for (const [re, enc] of [[B64, 'base64'], [HEX, 'hex']] as const) {
    if (!re.test(s)) continue;
    try {
      return utf8.decode(Buffer.from(s, enc));
    } catch {
      /* try the next reading */
    }
  }
  throw new Error('text_b64 is neither base64 nor hex of UTF-8 text');
}

/** label → value for every secret in the bundle. `paths` (when given) gets label → where it is in the bundle. */
export function decodeBundle(bundle: CgpBundle, file = 'bundle', paths?: Map<string, string>): Map<string, string> {
  const where = displayPath(file);
  if (!bundle || typeof bundle !== 'object' || Array.isArray(bundle)) throw new UserError(`${where}: expected a CHIT CGP bundle (a JSON object)`);
  if (!Array.isArray(bundle.super_nodes)) throw new UserError(`${where}: expected "super_nodes" to be a list (is this a CHIT CGP v0.1 bundle?)`);
  const out = new Map<string, string>();
  bundle.super_nodes.forEach((sn, i) => {
    for (const [j, c] of (Array.isArray(sn?.constellations) ? sn.constellations : []).entries()) {
      if (!c || typeof c.label !== 'string' || !Array.isArray(c.points) || c.points.length === 0) continue;
      let value: string | null;
      try {
        value = pointValue(c.points[0]!);
      } catch (err) {
        throw new UserError(`${where}: super_nodes[${i}].constellations[${j}] (label ${c.label}): ${(err as Error).message}`);
      }
      if (value !== null) {
        out.set(c.label, value);
        paths?.set(c.label, `super_nodes[${i}].constellations[${j}]`);
      }
    }
  });
  return out;
}

/** Read and parse a bundle file; bad JSON is reported with line:column. */
export async function readBundle(file: string): Promise<CgpBundle> {
  return parseBundleText(await readBundleText(file), file);
}

/** A bundle file's text; a missing or unreadable file is a UserError naming it. */
export async function readBundleText(file: string): Promise<string> {
  try {
    return await readRegularFile(file, BUNDLE_MAX_BYTES);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'ENOTREG' || code === 'EFBIG' || code === 'EISDIR' ? (err as Error).message.slice(file.length + 2) : `cannot read (${code})`;
    throw new UserError(`${displayPath(file)}: ${why}`);
  }
}

export function parseBundleText(text: string, file: string): CgpBundle {
  try {
    return JSON.parse(text) as CgpBundle;
  } catch (err) {
    // V8's message can quote the text around the error, i.e. a secret: never print it. Take only a position.
    const msg = (err as Error).message;
    let offset: number | undefined;
    const m = /at position (\d+)/.exec(msg);
    if (m) offset = Number(m[1]);
    else if (/Unexpected end/.test(msg)) offset = text.length;
    let loc = displayPath(file);
    if (offset !== undefined) {
      const before = text.slice(0, offset);
      loc += `:${before.split('\n').length}:${offset - before.lastIndexOf('\n')}`;
    } else {
      // newer V8 messages give no position: our own JSON reader finds it (and never quotes the text)
      try {
        parsePy(text);
      } catch (e) {
        if (e instanceof PyJsonError) loc += `:${e.line}:${e.column}`;
      }
    }
    const why = text.charCodeAt(0) === 0xfeff ? 'it starts with a byte-order mark (BOM); save it as UTF-8 without one' : /Unexpected end/.test(msg) ? 'the file ends too early' : 'check for a missing comma, quote or brace';
    throw new UserError(`${loc}: invalid JSON in CHIT bundle (${why})`);
  }
}
