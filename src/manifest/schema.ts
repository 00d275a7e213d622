// JSON Schema validation (draft 2020-12, ajv), compiled once per process, with errors mapped to
// file:line:column and a "did you mean" for unknown keys.
import { clip } from '../core/fs.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type * as Ajv2020Module from 'ajv/dist/2020.js';
import { createRequire } from 'node:module';
import type { Kind } from '../core/kind.js';
import { schemasDir } from '../core/paths.js';
import type { Diagnostic } from '../core/types.js';
import { manifestSchemaText } from './manifest-schema.js';
import { formatPath, type PathSeg, type YamlSource } from './yaml-source.js';
import { AJV_OPTIONS, precompiled, schemaTexts } from './schema-cache.js';

// ajv ships CommonJS: its class is the module's `default`. Loaded only when a schema is compiled
// in-process (precompiled validators from schema-cache.ts need just ajv's small runtime files).
type AjvInstance = InstanceType<typeof Ajv2020Module.Ajv2020>;

/** One set of schemas: the files under schemas/, with the manifest schema of one registry's kinds. */
interface SchemaSet {
  texts: string[];
  ajv?: AjvInstance;
  compiled: Map<string, ValidateFunction>;
}

let fileSet: SchemaSet | undefined;
const kindSets = new WeakMap<readonly Kind[], SchemaSet>();

function setFor(kinds: readonly Kind[] | undefined): SchemaSet {
  if (!kinds) return (fileSet ??= { texts: schemaTexts(), compiled: new Map() });
  let s = kindSets.get(kinds);
  if (!s) kindSets.set(kinds, (s = { texts: schemaTexts(manifestSchemaText(kinds)), compiled: new Map() }));
  return s;
}

function instance(set: SchemaSet): AjvInstance {
  if (set.ajv) return set.ajv;
  const Ajv2020 = (createRequire(import.meta.url)('ajv/dist/2020') as { default: typeof Ajv2020Module.Ajv2020 }).default;
  const ajv = new Ajv2020({ ...AJV_OPTIONS });
  // Every schema under schemas/ (and its sub-folders) is known by its $id, so refs between them resolve.
  for (const t of set.texts) ajv.addSchema(JSON.parse(t));
  return (set.ajv = ajv);
}

function validator(schemaId: string, kinds: readonly Kind[] | undefined): ValidateFunction {
  const set = setFor(kinds);
  let v = set.compiled.get(schemaId);
  if (!v) {
    v = precompiled(schemaId, set.texts) ?? instance(set).getSchema(schemaId);
    if (!v) throw new Error(`schema ${schemaId} is not in ${schemasDir}`);
    set.compiled.set(schemaId, v);
  }
  return v;
}

/**
 * Validate `data` (taken from `source`, at `base` inside it) and return error diagnostics with positions.
 * `kinds`: the registry whose manifest schema applies (default: schemas/manifest.schema.json as shipped).
 */
export function validate(schemaId: string, data: unknown, source: YamlSource, base: PathSeg[] = [], kinds?: readonly Kind[]): Diagnostic[] {
  const v = validator(schemaId, kinds);
  if (v(data)) return [];
  return mapErrors(v.errors ?? [], data, source, base);
}

function pointerToPath(pointer: string): PathSeg[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function mapErrors(errors: ErrorObject[], data: unknown, source: YamlSource, base: PathSeg[]): Diagnostic[] {
  // With allErrors, oneOf/anyOf report every branch; keep the most specific errors per location.
  const kept = errors.filter((e) => {
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'if') {
      return !errors.some((o) => o !== e && o.instancePath.startsWith(e.instancePath) && o.keyword !== e.keyword);
    }
    return true;
  });
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const e of kept) {
    const p = [...base, ...pointerToPath(e.instancePath)];
    let loc = source.locate(p);
    let shown = p;
    let msg: string;
    switch (e.keyword) {
      case 'additionalProperties': {
        const key = (e.params as { additionalProperty: string }).additionalProperty;
        shown = [...p, key];
        loc = source.locate(shown, { key: true });
        const allowed = Object.keys((e.parentSchema as { properties?: object })?.properties ?? {});
        const guess = closest(key, allowed);
        msg = `unknown key ${JSON.stringify(clip(String(key)))}` + (guess ? ` (did you mean "${guess}"?)` : allowed.length ? `; expected one of: ${allowed.join(', ')}` : '');
        break;
      }
      case 'required':
        msg = `missing required key "${(e.params as { missingProperty: string }).missingProperty}"`;
        if (p.length) loc = source.locate(p, { key: true });
        break;
      case 'type':
        msg = `expected ${(e.params as { type: string | string[] }).type}, got ${describe(e.data)}`;
        break;
      case 'enum':
        msg = `expected one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((x) => JSON.stringify(x)).join(', ')}, got ${describe(e.data)}`;
        break;
      case 'const':
        msg = `expected ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}, got ${describe(e.data)}`;
        break;
      case 'pattern': {
        const desc = (e.parentSchema as { description?: string })?.description;
        msg = `${describe(e.data)} is not valid: ${desc ?? `expected a string matching ${(e.params as { pattern: string }).pattern}`}`;
        break;
      }
      case 'minLength':
        msg = (e.params as { limit: number }).limit === 1 ? 'expected a non-empty string' : `expected at least ${(e.params as { limit: number }).limit} characters`;
        break;
      case 'minItems':
        msg = `expected at least ${(e.params as { limit: number }).limit} item(s)`;
        break;
      case 'propertyNames':
        continue; // reported by the nested pattern error on the key itself
      case 'uniqueItems':
        msg = `duplicate items (${(e.params as { i: number; j: number }).j} and ${(e.params as { i: number }).i})`;
        break;
      case 'not': // a schema that accepts nothing says why in its description (e.g. runtimes: made by the tool)
        msg = (e.parentSchema as { description?: string })?.description ?? e.message ?? 'is not valid';
        break;
      default:
        msg = `${e.message ?? 'is not valid'}`;
    }
    if (e.propertyName !== undefined) {
      // an error about a key name (propertyNames): point at the key
      shown = [...p, e.propertyName];
      loc = source.locate(shown, { key: true });
      msg = `invalid name ${JSON.stringify(clip(String(e.propertyName)))}: ${(e.parentSchema as { description?: string })?.description ?? msg}`;
    }
    const line = `${loc}|${formatPath(shown)}|${msg}`;
    if (seen.has(line)) continue;
    seen.add(line);
    out.push({ severity: 'error', summary: `${clip(formatPath(shown))}: ${msg}`, location: loc });
  }
  void data;
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  return `${typeof v} ${String(v)}`;
}

/** The allowed word nearest to `word`, if it is near enough to be a typo. */
export function closest(word: string, options: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const o of options) {
    const d = levenshtein(word.toLowerCase(), o.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = o;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Levenshtein distance (one row). */
export function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
