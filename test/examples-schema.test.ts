// The shipped YAML files validate against the schema their own modeline names
// (`# yaml-language-server: $schema=…`), as an editor sees them: the raw YAML, no ${VAR} interpolation,
// the schema file the modeline points at (resolved from the YAML file's folder), every schema under
// schemas/ known by its $id so that refs between them resolve (issue 13: two examples failed their own
// editor schema because they put ${VAR} in fields that have a pattern).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { repoRoot } from './helpers.js';

const MODELINE = /^#\s*yaml-language-server:\s*\$schema=(\S+)\s*$/m;

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

const shipped = [...walk(path.join(repoRoot, 'examples')), ...walk(path.join(repoRoot, 'profiles')), path.join(repoRoot, 'pmoves.mini.yaml.example')];

type Validate = ((data: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null };

function validator(): (schemaFile: string) => Validate {
  const Ajv2020 = (createRequire(import.meta.url)('ajv/dist/2020') as { default: new (o: object) => { addSchema(s: object): void; getSchema(id: string): Validate | undefined } }).default;
  // the same options as the tool's own validation (src/manifest/schema-cache.ts), strict included
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  const dir = path.join(repoRoot, 'schemas');
  const ids = new Map<string, string>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    const s = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { $id?: string };
    // manifest.base.json is the generator's input and shares the generated schema's $id
    if (!s.$id || f === 'manifest.base.json') continue;
    ajv.addSchema(s);
    ids.set(path.join(dir, f), s.$id);
  }
  return (schemaFile) => {
    const id = ids.get(schemaFile);
    assert.ok(id, `${schemaFile}: not a schema under schemas/ with an $id`);
    return ajv.getSchema(id!)!;
  };
}

const schemaOf = validator();

test('every shipped YAML with a modeline validates against that very schema file', () => {
  let checked = 0;
  const failures: string[] = [];
  for (const file of shipped) {
    const text = readFileSync(file, 'utf8');
    const m = MODELINE.exec(text);
    if (!m) continue;
    const schemaFile = path.resolve(path.dirname(file), m[1]!);
    const validate = schemaOf(schemaFile);
    checked++;
    if (!validate(parse(text))) failures.push(`${path.relative(repoRoot, file)} against ${m[1]}: ${validate.errors!.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')}`);
  }
  assert.equal(failures, []);
  // the walk found them: the example manifests and the bundles all carry one
  assert.ok(checked >= 13, `only ${checked} files with a modeline`);
  assert.ok(shipped.some((f) => f.endsWith('pmoves.mini.yaml.example')) && MODELINE.test(readFileSync(shipped.at(-1)!, 'utf8')));
});

test('the check can fail: ${VAR} in a field with a pattern is what an editor rejects', () => {
  const validate = schemaOf(path.join(repoRoot, 'schemas', 'manifest.schema.json'));
  assert.ok(validate(parse('apiVersion: pmoves.ai/mini/v1\n')));
  const bad = { apiVersion: 'pmoves.ai/mini/v1', secrets: { env: { bundle: 'b.json', env_file: 'e', mode: '${MODE}' } } };
  assert.not.ok(validate(bad), 'a mode that is a ${VAR} breaks the pattern');
});

test.run();
