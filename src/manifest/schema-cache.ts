// Precompiled schema validators. Compiling every schema with ajv costs a large share of each command's
// start (it grew with every kind's schema); the same validators as standalone code, generated once
// and cached next to this module, load in a few ms. The cache file is keyed by the schemas' bytes, the
// ajv version and the options, so an edited schema simply makes a new one. Any problem (a read-only
// install, a schema ajv rejects) returns undefined and the caller compiles in-process as before.
// PMOVES_SCHEMA_CACHE=0 turns it off.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ValidateFunction } from 'ajv';
import { schemasDir } from '../core/paths.js';

/** The ajv options of every validator (schema.ts compiles with them too). */
export const AJV_OPTIONS = { allErrors: true, verbose: true, strict: true, allowUnionTypes: true } as const;

const loaded = new Map<string, Map<string, ValidateFunction> | null>();

function schemaFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const ent of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, ent.name);
      if (ent.isDirectory()) walk(full);
      else if (ent.name.endsWith('.schema.json')) out.push(full);
    }
  };
  walk(schemasDir);
  return out.sort();
}

/**
 * The text of every schema under schemas/, sorted by file; `manifest` (the manifest schema built from a
 * registry's kinds) stands in for schemas/manifest.schema.json when given.
 */
export function schemaTexts(manifest?: string): string[] {
  return schemaFiles().map((f) => (manifest !== undefined && path.basename(f) === 'manifest.schema.json' ? manifest : readFileSync(f, 'utf8')));
}

function load(texts: string[]): Map<string, ValidateFunction> | null {
  if (process.env.PMOVES_SCHEMA_CACHE === '0') return null;
  const require = createRequire(import.meta.url);
  const ids = texts.map((t) => (JSON.parse(t) as { $id: string }).$id);
  const ajvVersion = (require('ajv/package.json') as { version: string }).version;
  const key = createHash('sha256').update(JSON.stringify([ajvVersion, AJV_OPTIONS, texts])).digest('hex').slice(0, 16);
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '.schema-cache');
  const file = path.join(dir, `validators-${key}.cjs`);
  if (!existsSync(file)) {
    const Ajv2020 = (require('ajv/dist/2020') as { default: new (o: object) => { addSchema(s: unknown): void } }).default;
    const standalone = (require('ajv/dist/standalone') as { default: (ajv: unknown, refs: Record<string, string>) => string }).default;
    const ajv = new Ajv2020({ ...AJV_OPTIONS, code: { source: true } });
    for (const t of texts) ajv.addSchema(JSON.parse(t));
    const code = standalone(ajv, Object.fromEntries(ids.map((id, i) => [`v${i}`, id])));
    mkdirSync(dir, { recursive: true });
    for (const old of readdirSync(dir)) if (old.startsWith('validators-') && old.endsWith('.cjs') && old !== path.basename(file)) rmSync(path.join(dir, old), { force: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, file);
  }
  const mod = require(file) as Record<string, ValidateFunction>;
  return new Map(ids.map((id, i) => [id, mod[`v${i}`]!] as const));
}

/** The precompiled validator of a schema ($id) among `texts`, or undefined (then compile it in-process). */
export function precompiled(schemaId: string, texts: string[]): ValidateFunction | undefined {
  const key = texts.join('\0');
  if (!loaded.has(key)) {
    try {
      loaded.set(key, load(texts));
    } catch {
      loaded.set(key, null);
    }
  }
  return loaded.get(key)?.get(schemaId);
}
