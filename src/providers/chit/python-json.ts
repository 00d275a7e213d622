// JSON exactly as upstream's Python writes and reads it, so that our bundles equal upstream's byte for
// byte and HMAC signatures over "canonical JSON" match:
//   - json.dumps(obj, indent=2)                              (bundles on disk, no trailing newline)
//   - json.dumps(obj, sort_keys=True, separators=(",",":"))  (the bytes a CHIT signature covers)
// with the default ensure_ascii=True (non-ASCII as \uXXXX, lowercase hex), floats as Python's repr
// (`1.0`, `1e-05`, `1e+16`), ints as written. JSON.parse cannot tell `1.0` from `1` and reorders
// integer-like keys, so documents that are re-serialised (signing, rotation) are read with `parsePy`,
// which keeps both.
import { compareCodePoints } from './env-file.js';

/** A Python float (JSON number with a fraction or exponent). Plain JS numbers are Python ints. */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** A JSON object in document order (a later duplicate key keeps the first one's place, as a dict does). */
export class PyObject {
  readonly entries = new Map<string, PyJson>();
  get(k: string): PyJson | undefined {
    return this.entries.get(k);
  }
  set(k: string, v: PyJson): this {
    this.entries.set(k, v);
    return this;
  }
  has(k: string): boolean {
    return this.entries.has(k);
  }
  delete(k: string): boolean {
    return this.entries.delete(k);
  }
}

export type PyJson = null | boolean | string | number | bigint | PyFloat | PyJson[] | PyObject | { [k: string]: PyJson };

/** Python's float.__repr__. */
export function floatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  // toExponential() without digits gives the shortest round-tripping digits, as repr does.
  const [mant, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const sign = mant.startsWith('-') ? '-' : '';
  const digits = mant.replace('-', '').replace('.', '');
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp >= 0) {
    const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1) || '0';
    return `${sign}${int}.${frac}`;
  }
  return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
}

/** A JSON string literal as Python's ensure_ascii encoder writes it. */
export function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c >= 0x20 && c <= 0x7e) out += s[i];
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else out += '\\u' + c.toString(16).padStart(4, '0');
  }
  return out + '"';
}

export interface DumpOptions {
  /** json.dumps(indent=N); absent: one line. */
  indent?: number;
  sortKeys?: boolean;
  /** Item and key separators for one-line output; Python's default is (", ", ": "). */
  separators?: [string, string];
}

function entriesOf(v: PyObject | { [k: string]: PyJson }): [string, PyJson][] {
  return v instanceof PyObject ? [...v.entries] : Object.entries(v);
}

/** json.dumps(value, …) with ensure_ascii=True. */
export function dumpsPy(value: PyJson, opts: DumpOptions = {}): string {
  const indent = opts.indent;
  const [itemSep, keySep] = indent !== undefined ? [',', ': '] : (opts.separators ?? [', ', ': ']);
  const walk = (v: PyJson, level: number): string => {
    if (v === null) return 'null';
    if (v === true) return 'true';
    if (v === false) return 'false';
    if (typeof v === 'string') return pyString(v);
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) return floatRepr(v); // a non-integral plain number can only be a float
      return Object.is(v, -0) ? '0' : String(v);
    }
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof PyFloat) return floatRepr(v.value);
    const open = Array.isArray(v) ? '[' : '{';
    const close = Array.isArray(v) ? ']' : '}';
    let parts: string[];
    if (Array.isArray(v)) {
      parts = v.map((x) => walk(x, level + 1));
    } else {
      let es = entriesOf(v);
      if (opts.sortKeys) es = [...es].sort((a, b) => compareCodePoints(a[0], b[0]));
      parts = es.map(([k, x]) => pyString(k) + keySep + walk(x, level + 1));
    }
    if (!parts.length) return open + close;
    if (indent === undefined) return open + parts.join(itemSep) + close;
    const pad = '\n' + ' '.repeat(indent * (level + 1));
    return open + pad + parts.join(itemSep + pad) + '\n' + ' '.repeat(indent * level) + close;
  };
  return walk(value, 0);
}

/** Position of a parse error (1-based line and column); the message never quotes the text. */
export class PyJsonError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
  }
}

/** json.loads, keeping float/int and key order. Accepts NaN/Infinity as Python does. */
export function parsePy(text: string): PyJson {
  let i = 0;
  const fail = (what: string): never => {
    const before = text.slice(0, i);
    const line = before.split('\n').length;
    throw new PyJsonError(what, line, i - before.lastIndexOf('\n'));
  };
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const NUM = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/y;
  const PLAIN = /[^"\\\x00-\x1f]*/y; // a run of string characters that need no decoding
  const value = (depth: number): PyJson => {
    if (depth > 1000) fail('nested too deeply');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj = new PyObject();
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a property name in double quotes');
        const k = string();
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        obj.set(k, value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const arr: PyJson[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [
      ['null', null],
      ['true', true],
      ['false', false],
      ['NaN', new PyFloat(NaN)],
      ['Infinity', new PyFloat(Infinity)],
      ['-Infinity', new PyFloat(-Infinity)],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    NUM.lastIndex = i;
    const m = NUM.exec(text);
    if (!m) return fail(i >= text.length ? 'the text ends too early' : 'expected a value');
    i += m[0].length;
    if (m[1] !== undefined || m[2] !== undefined) return new PyFloat(Number(m[0]));
    const n = Number(m[0]);
    return Number.isSafeInteger(n) ? n : BigInt(m[0]);
  };
  const string = (): string => {
    i++; // opening quote
    let out = '';
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return out;
      }
      if (c < 0x20) fail('control character in a string');
      if (c !== 0x5c) {
        PLAIN.lastIndex = i;
        PLAIN.exec(text);
        if (PLAIN.lastIndex === i) fail('control character in a string');
        out += text.slice(i, PLAIN.lastIndex);
        i = PLAIN.lastIndex;
        continue;
      }
      const e = text[i + 1];
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (e !== undefined && e in simple) {
        out += simple[e];
        i += 2;
      } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
        out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
        i += 6;
      } else {
        fail('invalid escape in a string');
      }
    }
  };
  const v = value(0);
  ws();
  if (i < text.length) fail('extra data after the JSON value');
  return v;
}

/** PyJson → plain JS values (floats become numbers, objects plain objects). */
export function toPlain(v: PyJson): unknown {
  if (v instanceof PyFloat) return v.value;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof PyObject) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v.entries) o[k] = toPlain(x);
    return o;
  }
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = toPlain(x);
    return o;
  }
  return v;
}
