// File triggers from kernel events: an atomic rename and an in-place write are both a change; a write
// seen half-way (not parseable) waits for the next event, and is reported anyway if none comes.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readiness, watchFiles, type Readiness } from '../src/watch/file-events.js';
import { tempDir, waitFor } from './helpers.js';

const YAML = 'apiVersion: pmoves.ai/mini/v1\nsecrets:\n  env:\n    bundle: env.cgp.json\n    env_file: out/env\n';

test('readiness: gone, half-written YAML or JSON, complete', async () => {
  const t = tempDir('pmoves-watch-fe-');
  try {
    const y = path.join(t.dir, 'm.yaml');
    const j = path.join(t.dir, 'b.json');
    assert.is(await readiness(y), 'gone');
    writeFileSync(y, 'secrets: [a, ');
    assert.is(await readiness(y), 'partial');
    writeFileSync(y, YAML);
    assert.is(await readiness(y), 'ready');
    writeFileSync(j, '{"spec": "chit');
    assert.is(await readiness(j), 'partial');
    writeFileSync(j, '{"spec": "chit"}');
    assert.is(await readiness(j), 'ready');
    writeFileSync(path.join(t.dir, '.env'), 'A=');
    assert.is(await readiness(path.join(t.dir, '.env')), 'ready', 'other files are taken as they are');
  } finally {
    t.cleanup();
  }
});

test('an atomic rename and an in-place write are each one change; other files in the folder are not watched', async () => {
  const t = tempDir('pmoves-watch-fe-');
  const changes: string[] = [];
  const checks: [string, Readiness][] = [];
  const file = path.join(t.dir, 'pmoves.mini.yaml');
  writeFileSync(file, YAML);
  const fe = await watchFiles({ settleMs: 20, onChange: (f) => changes.push(...f), onCheck: (f, r) => checks.push([f, r]) });
  try {
    await fe.set([file]);
    assert.equal(fe.files(), [file]);
    writeFileSync(path.join(t.dir, 'other.yaml'), 'x: 1\n');
    writeFileSync(file + '.tmp', YAML + '# saved\n');
    renameSync(file + '.tmp', file);
    await waitFor(() => changes.length >= 1, 'the rename seen');
    writeFileSync(file, YAML + '# again\n');
    await waitFor(() => changes.length >= 2, 'the in-place write seen');
    assert.ok(changes.every((c) => c === file), JSON.stringify(changes));
    assert.ok(checks.every(([f]) => f === file), 'no check for other files');
    await fe.set([]);
    writeFileSync(file, YAML);
    rmSync(path.join(t.dir, 'other.yaml'));
  } finally {
    fe.close();
    t.cleanup();
  }
});

test('a write seen half-way waits for the rest; a file that stays broken is reported after the grace period', async () => {
  const t = tempDir('pmoves-watch-fe-');
  const changes: string[] = [];
  const checks: Readiness[] = [];
  const file = path.join(t.dir, 'pmoves.mini.yaml');
  writeFileSync(file, YAML);
  let grace = 60_000;
  const fe = await watchFiles({ settleMs: 20, invalidGraceMs: grace, onChange: (f) => changes.push(...f), onCheck: (_f, r) => checks.push(r) });
  try {
    await fe.set([file]);
    writeFileSync(file, YAML.slice(0, YAML.indexOf('bundle')) + 'bundle: [env.cgp');
    await waitFor(() => checks.includes('partial'), 'the half seen');
    assert.equal(changes, [], 'not a change yet');
    writeFileSync(file, YAML);
    await waitFor(() => changes.length === 1, 'the whole save');
    assert.equal(checks.slice(-1), ['ready']);
  } finally {
    fe.close();
  }
  grace = 100;
  const fe2 = await watchFiles({ settleMs: 20, invalidGraceMs: grace, onChange: (f) => changes.push(...f), onCheck: (_f, r) => checks.push(r) });
  try {
    await fe2.set([file]);
    const before = changes.length;
    writeFileSync(file, 'secrets: [broken');
    await waitFor(() => changes.length === before + 1, 'a broken save reported after the grace period');
  } finally {
    fe2.close();
    t.cleanup();
  }
});

test("an editor's delete-and-re-create save is one change, and its swap files are no trigger", async () => {
  const t = tempDir('pmoves-watch-fe-');
  const changes: string[] = [];
  const file = path.join(t.dir, 'pmoves.mini.yaml');
  writeFileSync(file, YAML);
  const fe = await watchFiles({ settleMs: 20, onChange: (f) => changes.push(...f) });
  try {
    await fe.set([file]);
    writeFileSync(path.join(t.dir, '.pmoves.mini.yaml.swp'), 'swap');
    writeFileSync(path.join(t.dir, 'pmoves.mini.yaml~'), YAML);
    rmSync(file);
    writeFileSync(file, YAML + '# saved by an editor\n');
    await waitFor(() => changes.length >= 1, 'the save seen');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(changes, [file], 'one change for the save; nothing for the swap and backup files');
  } finally {
    fe.close();
    t.cleanup();
  }
});

test.run();
