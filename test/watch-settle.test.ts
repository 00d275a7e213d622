// Watch never deletes on a guess: a local manifest that drops resources is applied only once it has
// stayed the same for the removal settle window (--removal-settle); until then the last manifest stays
// in force and the log says the removal is deferred. And a watch with no manifest at all exits 1.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pmovesHome } from '../src/core/home.js';
import { Watcher, type WatchEvent } from '../src/watch/loop.js';
import { cli, tempDir, waitFor } from './helpers.js';
import { isApply, sleep, startWatch, writeBundle, type WatchProc } from './watch-helpers.js';

const two = ['apiVersion: pmoves.ai/mini/v1', 'secrets:', '  env:', '    bundle: env.cgp.json', '    env_file: out/env.shared', '  supabase:', '    bundle: env.cgp.json', '    env_file: out/env.supabase', ''].join('\n');
const one = two.slice(0, two.indexOf('  supabase:'));

test('the two-step save (half the manifest, 1.5 s, the rest) deletes nothing (the CLI, default settle window)', async () => {
  const t = tempDir('pmoves-watch-settle-');
  let w: WatchProc | undefined;
  try {
    const file = path.join(t.dir, 'pmoves.mini.yaml');
    writeBundle(path.join(t.dir, 'env.cgp.json'), { SUPABASE_URL: 'http://127.0.0.1:54321' });
    writeFileSync(file, two);
    w = startWatch(['-m', file, '--interval', '1h'], { home: path.join(t.dir, 'home'), cwd: t.dir });
    const first = await w.next(isApply, 'first apply');
    assert.is(first.added, 2);
    const m = w.mark();
    writeFileSync(file, one); // valid YAML, one resource missing
    const settle = await w.next((e) => e.event === 'settle', 'the removal deferred', m);
    assert.equal(settle.deferred, ['secrets.supabase']);
    assert.is(settle.settle_ms, 10_000);
    assert.match(settle.message, /^removal deferred: secrets\.supabase left pmoves\.mini\.yaml; removed once the file has stayed the same for 10s/);
    await sleep(1500); // the editor's second write comes later (the scenario, not a timing assertion)
    const m2 = w.mark();
    writeFileSync(file, two);
    await w.next((e) => e.event === 'trigger' && e.reasons.some((r: string) => r.startsWith('file')), 'the rest of the save seen', m2);
    await w.next(isApply, 'a run of the whole file', m2);
    assert.not.ok(w.events.some((e) => isApply(e) && e.destroyed > 0), 'nothing destroyed');
    assert.ok(existsSync(path.join(t.dir, 'out', 'env.supabase')));
    assert.is(await w.term(), 0);
    assert.not.ok(w.events.some((e) => isApply(e) && e.destroyed > 0), 'nothing destroyed, up to the end');
    const audit = readFileSync(path.join(t.dir, 'home', 'audit.jsonl'), 'utf8');
    assert.not.match(audit, /"action":"delete"/);
  } finally {
    await w?.stop();
    t.cleanup();
  }
});

test('a removal that stays is applied once the file has settled; other triggers meanwhile keep the last manifest', async () => {
  const t = tempDir('pmoves-watch-settle-');
  const events: WatchEvent[] = [];
  const file = path.join(t.dir, 'pmoves.mini.yaml');
  writeBundle(path.join(t.dir, 'env.cgp.json'), { SUPABASE_URL: 'http://127.0.0.1:54321' });
  writeFileSync(file, two);
  const w = new Watcher({
    manifestPath: file,
    home: pmovesHome({ PMOVES_HOME: path.join(t.dir, 'home') }),
    env: process.env,
    debounceMs: 50,
    removalSettleMs: 2_000,
    intervalMs: 3_600_000,
    minBackoffMs: 5_000,
    maxBackoffMs: 300_000,
    rollbackOnFailure: false,
    convergeTimeoutMs: 300_000,
    parallelism: 4,
    readTimeoutMs: 60_000,
    flags: {},
    emit: (e) => events.push(e),
  });
  const running = w.run();
  try {
    await waitFor(() => events.some((e) => e.event === 'apply' && e.added === 2), 'first apply', 60_000);
    const m = events.length;
    writeFileSync(file, one);
    await waitFor(() => events.slice(m).some((e) => e.event === 'settle'), 'settle', 60_000);
    // a SIGHUP during the window: a look, but the removal still waits
    const m1 = events.length;
    w.reload();
    await waitFor(() => events.slice(m1).some((e) => e.event === 'apply'), 'the run on SIGHUP', 60_000);
    assert.ok(existsSync(path.join(t.dir, 'out', 'env.supabase')), 'not removed before the window is over');
    assert.is(events.slice(m).filter((e) => e.event === 'settle').length, 1, 'deferred once');
    const removed = await waitFor(() => events.slice(m).find((e) => e.event === 'apply' && e.destroyed === 1), 'the removal', 60_000);
    const by = events.slice(0, events.indexOf(removed!)).reverse().find((e) => e.event === 'trigger');
    assert.ok((by!.reasons as string[]).includes('settle'), `brought by the settle timer: ${by!.message}`);
    assert.not.ok(existsSync(path.join(t.dir, 'out', 'env.supabase')));
    assert.match(readFileSync(path.join(t.dir, 'out', 'env.shared'), 'utf8'), /SUPABASE_URL=/);
  } finally {
    w.stop('test');
    await running;
    t.cleanup();
  }
  assert.is(events[events.length - 1]!.event, 'stop');
});

test('watch in a folder with no manifest exits 1 with a clear message', async () => {
  const t = tempDir('pmoves-watch-none-');
  try {
    const r = await cli(['mini', 'watch'], { home: path.join(t.dir, 'home'), cwd: t.dir, timeout: 30_000 });
    assert.is(r.exitCode, 1, String(r.stderr));
    assert.match(String(r.stderr), /^Error: pmoves\.mini\.yaml: no such file: watch needs a manifest to converge to \(pass -m PATH/m);
    assert.not.match(String(r.stderr), /\n\s+at /, 'no stack trace');
    assert.not.ok(existsSync(path.join(t.dir, 'home', 'watch.json')), 'no watcher claimed the home');
  } finally {
    t.cleanup();
  }
});

test.run();
