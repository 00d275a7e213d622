// "Adding a kind touches nothing else": a copy of the built package gets a toy kind (notes.<name>: a
// text file) as one module, one schema and one line in the registry, and the CLI then validates, plans,
// applies, re-plans and destroys it through the engine, with the manifest schema built from that registry.
import { execa } from 'execa';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot, tempDir } from './helpers.js';

// The kind as DEVELOPERS.md's worked example writes it in TypeScript, here as the JavaScript tsc makes of it.
const TOY_KIND = `// notes.<name>: a text file with the given text.
import { promises as fsp } from 'node:fs';
import { writeFileAtomic } from '../core/fs.js';
import { isOwned, ownedAfter } from '../core/ownership.js';

export const notesKind = {
  section: 'notes',
  order: 50,
  schema: 'notes.schema.json',
  normalize: (spec, _name, ctx) => ({ path: ctx.resolvePath(spec.path), text: spec.text }),
  async read(_ctx, t) {
    const file = t.desired?.spec.path ?? t.prior?.data?.path;
    const text = await fsp.readFile(file, 'utf8').catch((e) => { if (e.code === 'ENOENT') return null; throw e; });
    return { path: file, text };
  },
  plan(t, actual) {
    const before = actual.text === null ? null : { path: actual.path, text: actual.text };
    if (!t.desired) {
      if (before && isOwned(t.prior)) return { action: 'delete', reason: 'it is no longer in the manifest', before, after: null };
      return { action: 'no-op', reason: 'not declared any more', before, after: before };
    }
    const after = { path: t.desired.spec.path, text: t.desired.spec.text };
    if (!before) return { action: 'create', reason: 'the file does not exist', before, after };
    if (before.text !== after.text) return { action: 'update', reason: 'the text differs', before, after };
    return { action: 'no-op', reason: 'in sync', before, after };
  },
  async apply(ctx, t, actual, planned) {
    if (planned.action === 'delete') {
      await fsp.rm(actual.path, { force: true });
      return { outcome: 'deleted', state: null };
    }
    const spec = t.desired.spec;
    await writeFileAtomic(spec.path, spec.text);
    return {
      outcome: planned.action === 'create' ? 'created' : 'updated',
      state: { section: 'notes', owned: ownedAfter(t.prior, planned.action === 'create'), digest: ctx.digest(spec.text), data: { path: spec.path } },
    };
  },
};
`;

const TOY_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'notes.schema.json',
  title: 'notes.<name>: a text file',
  type: 'object',
  required: ['path', 'text'],
  additionalProperties: false,
  properties: {
    path: { type: 'string', minLength: 1 },
    text: { type: 'string' },
    depends_on: { $ref: 'manifest.schema.json#/$defs/depends_on' },
    requires: { $ref: 'manifest.schema.json#/$defs/requires' },
  },
  $defs: { manifest: { type: 'object', description: 'Text files, by name.' } },
};

test('a toy kind: one module, one schema, one registry line; load → plan → apply through the engine', async () => {
  const t = tempDir();
  try {
    // A copy of the built package (the package root is found from the modules' own location).
    const pkg = path.join(t.dir, 'pkg');
    for (const p of ['package.json', 'schemas', 'profiles', path.join('dist', 'src')]) cpSync(path.join(repoRoot, p), path.join(pkg, p), { recursive: true });
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(pkg, 'node_modules'), 'dir');

    // The three additions, and nothing else.
    writeFileSync(path.join(pkg, 'dist', 'src', 'reconcilers', 'notes.js'), TOY_KIND);
    writeFileSync(path.join(pkg, 'schemas', 'notes.schema.json'), JSON.stringify(TOY_SCHEMA, null, 2));
    const registry = path.join(pkg, 'dist', 'src', 'reconcilers', 'index.js');
    const before = readFileSync(registry, 'utf8');
    const after = before.replace('export const kinds = [secretsKind, mcpKind, stacksKind, modelsKind, runtimesKind, devicesKind];', "import { notesKind } from './notes.js';\nexport const kinds = [secretsKind, mcpKind, stacksKind, modelsKind, runtimesKind, devicesKind, notesKind];");
    assert.is.not(after, before, 'the registry line was found');
    writeFileSync(registry, after);

    const work = path.join(t.dir, 'work');
    mkdirSync(work);
    const manifest = path.join(work, 'pmoves.mini.yaml');
    const run = (args: string[]) => execa(process.execPath, [path.join(pkg, 'dist', 'src', 'cli-unbundled.js'), 'mini', ...args, '-m', manifest], { cwd: work, reject: false, env: { NO_COLOR: '1', PMOVES_HOME: path.join(t.dir, 'home'), HOME: t.dir } });

    // The manifest schema knows the new section (a typo is caught with its position)…
    writeFileSync(manifest, 'apiVersion: pmoves.ai/mini/v1\nnotes:\n  hello:\n    path: hello.txt\n    txt: hi\n');
    const bad = await run(['validate']);
    assert.is(bad.exitCode, 1);
    assert.match(String(bad.stderr), /pmoves\.mini\.yaml:5:5: notes\.hello\.txt: unknown key "txt" \(did you mean "text"\?\)/);
    assert.not.match(String(bad.stderr), /\n\s+at /, 'no stack trace');

    // …and the engine plans, applies and re-plans it like any other kind.
    writeFileSync(manifest, 'apiVersion: pmoves.ai/mini/v1\nnotes:\n  hello:\n    path: hello.txt\n    text: hi\n');
    const plan = await run(['plan']);
    assert.is(plan.exitCode, 0, String(plan.stderr));
    assert.match(String(plan.stdout), /\+ notes "hello" \{/);
    assert.match(String(plan.stdout), /Plan: 1 to add, 0 to change, 0 to destroy\./);
    const apply = await run(['apply', '--auto-approve']);
    assert.is(apply.exitCode, 0, String(apply.stderr));
    assert.is(readFileSync(path.join(work, 'hello.txt'), 'utf8'), 'hi');
    const again = await run(['plan']);
    assert.match(String(again.stdout), /No changes\. Actual state matches the manifest\./);

    // Gone from the manifest: the file this tool created is destroyed.
    writeFileSync(manifest, 'apiVersion: pmoves.ai/mini/v1\n');
    const destroy = await run(['apply', '--auto-approve']);
    assert.is(destroy.exitCode, 0, String(destroy.stderr));
    assert.match(String(destroy.stdout), /0 added, 0 changed, 1 destroyed/);
    assert.not.ok(existsSync(path.join(work, 'hello.txt')));
  } finally {
    t.cleanup();
  }
});

test.run();
