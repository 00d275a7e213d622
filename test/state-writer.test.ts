// The state writer an apply uses: every record is durable when it resolves, a large state is written
// in small segments (not rewritten whole per change), and loadState sees what a killed apply recorded.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pmovesHome, type Home } from '../src/core/home.js';
import { emptyState, loadState, saveState, StateWriter, type State } from '../src/engine/state.js';
import { tempDir } from './helpers.js';

const t = suite('state-writer');
let home: Home;
let cleanup: () => void;

t.before.each(() => {
  const d = tempDir();
  cleanup = d.cleanup;
  home = pmovesHome({ PMOVES_HOME: path.join(d.dir, 'home') });
});
t.after.each(() => cleanup());

function stateOf(n: number): State {
  const s = emptyState();
  for (let i = 0; i < n; i++) s.resources[`secrets.s${i}`] = { section: 'secrets', owned: true, digest: `d${i}` };
  return s;
}

const segmentFiles = () => (existsSync(path.join(home.root, 'state.d')) ? readdirSync(path.join(home.root, 'state.d')) : []);

t('a small state is written whole at every record: state.json is always current', async () => {
  const s = stateOf(3);
  await saveState(home, s);
  const w = new StateWriter(home, s);
  s.resources['secrets.s1'] = { ...s.resources['secrets.s1']!, pending: 'update' };
  await w.record('secrets.s1');
  const onDisk = JSON.parse(readFileSync(home.state, 'utf8')) as State;
  assert.is(onDisk.resources['secrets.s1']!.pending, 'update');
  assert.equal(segmentFiles(), []);
  await w.close();
});

t('a large state: records go to segments; loadState merges them; close folds them into state.json', async () => {
  const s = stateOf(2000);
  await saveState(home, s);
  const serial = s.serial;
  const w = new StateWriter(home, s);
  s.resources['secrets.s5'] = { section: 'secrets', owned: true, pending: 'create' };
  delete s.resources['secrets.s6'];
  s.resources['secrets.new'] = { section: 'secrets', owned: true, pending: 'create' };
  await Promise.all([w.record('secrets.s5'), w.record('secrets.s6'), w.record('secrets.new')]);
  assert.ok(segmentFiles().length >= 1, 'a segment was written');
  assert.is((JSON.parse(readFileSync(home.state, 'utf8')) as State).serial, serial, 'state.json was not rewritten for three changes');

  // What a killed apply leaves: state.json + segments. The next process sees every record.
  const seen = await loadState(home);
  assert.is(seen.resources['secrets.s5']!.pending, 'create');
  assert.is(seen.resources['secrets.s6'], undefined);
  assert.is(seen.resources['secrets.new']!.pending, 'create');
  assert.is(Object.keys(seen.resources).length, 2000);
  assert.is(seen.serial, s.serial);

  await w.close();
  assert.equal(segmentFiles(), []);
  const folded = JSON.parse(readFileSync(home.state, 'utf8')) as State;
  assert.equal(folded, s);
  assert.equal(await loadState(home), s);
});

t('a thousand records in a row on a large state: each durable, all folded at the end', async () => {
  const s = stateOf(1000);
  await saveState(home, s);
  const first = s.serial;
  const w = new StateWriter(home, s);
  for (let i = 0; i < 1000; i++) {
    s.resources[`secrets.s${i}`] = { section: 'secrets', owned: true, digest: `e${i}` };
    await w.record(`secrets.s${i}`);
  }
  await w.close();
  const after = await loadState(home);
  assert.is(after.resources['secrets.s999']!.digest, 'e999');
  assert.ok(after.serial >= first + 1000, 'one serial per write');
  assert.equal(segmentFiles(), []);
});

t('state.json stays one JSON document with one line per resource', async () => {
  const s = stateOf(2);
  s.source = { commit: 'abc' };
  await saveState(home, s);
  const text = readFileSync(home.state, 'utf8');
  assert.equal(JSON.parse(text), s);
  assert.match(text, /^ {4}"secrets\.s0": \{.*\},$/m);
  await saveState(home, emptyState());
  assert.equal(JSON.parse(readFileSync(home.state, 'utf8')), { ...emptyState(), serial: 1 });
});

t.run();
