// The manifest's JSON Schema, built from the registry: schemas/manifest.base.json (apiVersion, profile,
// the shared $defs) plus, for every kind in `order`, its section `<section>: {name: <kind schema>}` and
// the other top-level keys its schema declares under `$defs.manifest`. loadManifest validates against
// the schema of the kinds it is given; schemas/manifest.schema.json is the same text for the built-in
// kinds, committed for editors (test/manifest-schema.test.ts keeps it equal).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Kind } from '../core/kind.js';
import { schemasDir } from '../core/paths.js';

type Json = Record<string, unknown>;

function readJson(file: string): Json {
  return JSON.parse(readFileSync(path.join(schemasDir, file), 'utf8')) as Json;
}

/** The text of the manifest schema for `kinds` (JSON, two-space indent, trailing newline). */
export function manifestSchemaText(kinds: readonly Pick<Kind, 'section' | 'schema' | 'order'>[]): string {
  const { $comment: _base, properties, $defs, ...rest } = readJson('manifest.base.json') as Json & { properties: Json; $defs: Json & { address: Json } };
  const ordered = [...kinds].sort((a, b) => a.order - b.order);
  const props: Json = { ...properties };
  for (const k of ordered) {
    const own = ((readJson(k.schema).$defs as Json | undefined)?.manifest ?? {}) as { description?: string; properties?: Json };
    props[k.section] = {
      type: 'object',
      description: own.description ?? `${k.section} resources, by name.`,
      propertyNames: { $ref: '#/$defs/name' },
      additionalProperties: { $ref: k.schema },
    };
    Object.assign(props, own.properties ?? {});
  }
  const address = { ...$defs.address, pattern: String($defs.address.pattern).replace('SECTIONS', ordered.map((k) => k.section).join('|')) };
  const schema = {
    $comment: 'Generated from the registry (src/manifest/manifest-schema.ts): edit schemas/manifest.base.json or a kind schema\'s $defs.manifest, not this file.',
    ...rest,
    properties: props,
    $defs: { ...$defs, address },
  };
  return JSON.stringify(schema, null, 2) + '\n';
}
