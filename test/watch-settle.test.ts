// The Watcher in process: a save that would remove resources is accepted only once the file settles,
// so a manifest caught half-written (valid YAML, resources missing) never tears anything down.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pmovesHome } from '../src/core/home.js';
import { Watcher, type WatchEvent } from '../src/watch/loop.js';
import { tempDir, waitFor } from './helpers.js';
import { writeBundle } from './watch-helpers.js';

const two = ['apiVersion: pmoves.ai/mini/v1', 'secrets:', '  env:', '    bundle: env.cgp.json', '    env_file: out/env.shared', '  supabase:', '    bundle: env.cgp.json', '    env_file: out/env.supabase', ''].join('\n');
const one = two.slice(0, two.indexOf('  supabase:'));

test('a save caught half-way (valid, but resources missing) is not applied until the file settles', async () => {
  const t = tempDir('pmoves-watch-settle-');
  const events: WatchEvent[] = [];
  const file = path.join(t.dir, 'pmoves.mini.yaml');
  writeBundle(path.join(t.dir, 'env.cgp.json'), { SUPABASE_URL: 'http://127.0.0.1:54321' });
  writeFileSync(file, two);
  const debounceMs = 1500;
  let midSave = false;
  const w = new Watcher({
    manifestPath: file,
    home: pmovesHome({ PMOVES_HOME: path.join(t.dir, 'home') }),
    env: process.env,
    debounceMs,
    intervalMs: 3_600_000,
    minBackoffMs: 5_000,
    maxBackoffMs: 300_000,
    rollbackOnFailure: false,
    convergeTimeoutMs: 300_000,
    parallelism: 4,
    readTimeoutMs: 60_000,
    flags: {},
    emit: (e) => {
      events.push(e);
      // The rest of the save lands while the watcher is reading the half: after it loaded the
      // truncated file, before the settle check re-reads it (one debounce later).
      if (midSave && e.event === 'trigger' && (e.reasons as string[]).some((r) => r.startsWith('file'))) {
        midSave = false;
        setTimeout(() => writeFileSync(file, two), debounceMs / 2);
      }
    },
  });
  const running = w.run();
  try {
    await waitFor(() => events.some((e) => e.event === 'apply' && e.added === 2), 'first apply', 60_000);
    const m = events.length;
    midSave = true;
    writeFileSync(file, one);
    await waitFor(() => events.slice(m).some((e) => e.event === 'settle'), 'settle', 60_000);
    // the completed save is a file event of its own: the next run sees both resources
    await waitFor(() => events.slice(m).some((e) => e.event === 'apply'), 'a run of the whole file', 60_000);
    assert.not.ok(events.some((e) => e.event === 'apply' && (e.destroyed as number) > 0), 'nothing destroyed');
    assert.ok(existsSync(path.join(t.dir, 'out', 'env.supabase')));
    assert.match(readFileSync(path.join(t.dir, 'out', 'env.supabase'), 'utf8'), /SUPABASE_URL=/);

    // a removal that stays (an intended edit) is applied once it has settled
    const m2 = events.length;
    writeFileSync(file, one);
    await waitFor(() => events.slice(m2).some((e) => e.event === 'apply' && e.destroyed === 1), 'the removal', 60_000);
    assert.not.ok(existsSync(path.join(t.dir, 'out', 'env.supabase')));
  } finally {
    w.stop('test');
    await running;
    t.cleanup();
  }
  assert.is(events[events.length - 1]!.event, 'stop');
});

test.run();
