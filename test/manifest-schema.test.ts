// schemas/manifest.schema.json is generated from the registry (src/manifest/manifest-schema.ts); the
// committed file, which editors use, must be exactly that text. To regenerate after changing a kind's
// schema or the registry: PMOVES_WRITE_SCHEMA=1 node dist/test/manifest-schema.test.js
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { manifestSchemaText } from '../src/manifest/manifest-schema.js';
import { kinds } from '../src/reconcilers/index.js';
import { repoRoot } from './helpers.js';

const file = path.join(repoRoot, 'schemas', 'manifest.schema.json');

test('the committed manifest schema is the one the registry generates', () => {
  const generated = manifestSchemaText(kinds);
  if (process.env.PMOVES_WRITE_SCHEMA === '1') writeFileSync(file, generated);
  assert.fixture(readFileSync(file, 'utf8'), generated);
});

test('every kind has its section, referring to its own schema; addresses name every section', () => {
  const schema = JSON.parse(manifestSchemaText(kinds)) as { properties: Record<string, { additionalProperties?: { $ref: string } }>; $defs: { address: { pattern: string } } };
  for (const k of kinds) assert.is(schema.properties[k.section]?.additionalProperties?.$ref, k.schema, k.section);
  assert.is(schema.$defs.address.pattern, '^(secrets|stacks|models|runtimes|mcp|devices)\\.[A-Za-z0-9][A-Za-z0-9_-]*$');
  assert.equal(Object.keys(schema.properties), ['apiVersion', 'profile', 'secrets', 'stacks', 'compose', 'models', 'bundles', 'runtimes', 'mcp', 'mcp_clients', 'devices']);
});

test.run();
