// The code's shape, checked on every `npm test`: no import cycles (madge over the built JavaScript, so
// type-only imports do not count) and no dead files, exports or dependencies (knip over the sources).
import { execa } from 'execa';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from './helpers.js';

const bin = (name: string) => path.join(repoRoot, 'node_modules', '.bin', name);

test('madge --circular finds no import cycle in dist/src', async () => {
  const r = await execa(bin('madge'), ['--circular', '--no-spinner', '--no-color', '--extensions', 'js', 'dist/src'], { cwd: repoRoot, reject: false });
  assert.is(r.exitCode, 0, `madge found cycles:\n${r.stdout}\n${r.stderr}`);
  assert.match(`${r.stdout}\n${r.stderr}`, /No circular dependency found/);
});

test('knip finds no dead file, export or dependency', async () => {
  const r = await execa(bin('knip'), ['--no-progress'], { cwd: repoRoot, reject: false, env: { NO_COLOR: '1' } });
  assert.is(r.exitCode, 0, `knip:\n${r.stdout}\n${r.stderr}`);
});

test.run();
