// Watch mode end to end with the secrets kind: the built CLI as a daemon, real files, real signals.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, tempDir, waitFor } from './helpers.js';
import { isApply, startWatch, writeBundle, type WatchProc } from './watch-helpers.js';

const VALUES = { SUPABASE_URL: 'http://127.0.0.1:54321', SUPABASE_KEY: 'test-key-1', MEILI_MASTER_KEY: 'test-meili' };

function manifest(opts: { supabaseLabels?: string[]; withSupabase?: boolean; envRequired?: string[] } = {}): string {
  const lines = [
    'apiVersion: pmoves.ai/mini/v1',
    'secrets:',
    '  env:',
    '    bundle: env.cgp.json',
    '    env_file: out/env.shared',
    `    required: [${(opts.envRequired ?? ['SUPABASE_URL']).join(', ')}]`,
  ];
  if (opts.withSupabase !== false) {
    lines.push('  supabase:', '    bundle: env.cgp.json', '    env_file: out/env.supabase', `    include_labels: [${(opts.supabaseLabels ?? ['"SUPABASE_*"']).join(', ')}]`);
  }
  return lines.join('\n') + '\n';
}

function setup() {
  const t = tempDir('pmoves-watch-');
  const home = path.join(t.dir, 'home');
  const file = path.join(t.dir, 'pmoves.mini.yaml');
  writeBundle(path.join(t.dir, 'env.cgp.json'), VALUES);
  writeFileSync(file, manifest());
  const keys = (f: string) => (existsSync(path.join(t.dir, 'out', f)) ? readFileSync(path.join(t.dir, 'out', f), 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0]) : null);
  return { ...t, home, file, keys };
}

test('edits converge; a half-written manifest tears nothing down; SIGTERM exits 0 and leaves no lock', async () => {
  const s = setup();
  let w: WatchProc | undefined;
  try {
    w = startWatch(['-m', s.file, '--interval', '1h'], { home: s.home, cwd: s.dir });
    const first = await w.next(isApply, 'first apply');
    assert.is(first.result, 'ok');
    assert.is(first.added, 2);
    assert.equal(s.keys('env.supabase'), ['SUPABASE_KEY', 'SUPABASE_URL']);
    await w.next((e) => e.event === 'generation' && e.generation === 1, 'generation 1');
    const second = await cli(['mini', 'watch', '-m', s.file], { home: s.home, cwd: s.dir });
    assert.is(second.exitCode, 1);
    assert.match(String(second.stderr), new RegExp(`another pmoves mini watch runs on .* \\(pid ${w.proc.pid},`));

    // half-saved: the file cut in the middle of the second resource
    let m = w.mark();
    const full = manifest({ supabaseLabels: ['"SUPABASE_*"', '"MEILI_*"'] });
    writeFileSync(s.file, full.slice(0, full.indexOf('include_labels') + 20));
    const invalid = await w.next((e) => e.event === 'invalid-manifest', 'invalid-manifest', m);
    assert.match(invalid.message, /pmoves\.mini\.yaml:\d+:\d+/);
    assert.match(invalid.message, /last valid manifest stays in force/);
    assert.ok(existsSync(path.join(s.dir, 'out', 'env.supabase')), 'nothing torn down');
    assert.equal(s.keys('env.supabase'), ['SUPABASE_KEY', 'SUPABASE_URL']);

    // the rest of the save arrives: converges to the new manifest
    m = w.mark();
    writeFileSync(s.file, full);
    const changed = await w.next((e) => isApply(e) && e.changed === 1, 'apply of the edit', m);
    assert.is(changed.result, 'ok');
    assert.equal(s.keys('env.supabase'), ['MEILI_MASTER_KEY', 'SUPABASE_KEY', 'SUPABASE_URL']);

    // a resource removed on purpose (the file settles) is destroyed
    m = w.mark();
    writeFileSync(s.file, manifest({ withSupabase: false }));
    const removed = await w.next((e) => isApply(e) && e.destroyed === 1, 'apply of the removal', m);
    assert.is(removed.result, 'ok');
    assert.not.ok(existsSync(path.join(s.dir, 'out', 'env.supabase')));

    // status shows the watcher
    const st = await cli(['mini', 'status', '-m', s.file], { home: s.home, cwd: s.dir });
    assert.match(String(st.stdout), new RegExp(`watch: running \\(pid ${w.proc.pid}\\); generation 3`));

    const code = await w.term();
    assert.is(code, 0);
    assert.not.ok(existsSync(path.join(s.home, 'lock')), 'no lock left');
    const wf = JSON.parse(readFileSync(path.join(s.home, 'watch.json'), 'utf8'));
    assert.ok(wf.stopped_at);
    assert.is(wf.generation, 3);
    assert.equal(Object.keys(wf.resources), ['secrets.env']);
    const st2 = await cli(['mini', 'status', '-m', s.file], { home: s.home, cwd: s.dir });
    assert.match(String(st2.stdout), /watch: not running/, String(st2.stdout) + String(st2.stderr));
  } finally {
    await w?.stop();
    s.cleanup();
  }
});

test('a failing resource backs off (doubling) without holding the others; fixing its bundle converges it', async () => {
  const s = setup();
  writeFileSync(s.file, manifest({ envRequired: ['SUPABASE_URL', 'NEW_LABEL'] }));
  let w: WatchProc | undefined;
  try {
    w = startWatch(['-m', s.file, '--interval', '1h', '--min-backoff', '300ms', '--max-backoff', '1s'], { home: s.home, cwd: s.dir });
    const first = await w.next(isApply, 'first apply');
    assert.is(first.result, 'failed');
    assert.is(first.added, 1, 'secrets.supabase is applied although secrets.env fails');
    assert.equal(first.failed.map((f: any) => [f.address, f.retry_in_ms]), [['secrets.env', 300]]);
    assert.match(first.failed[0].error, /NEW_LABEL/);
    assert.not.match(JSON.stringify(w.events), /test-key-1/, 'no secret value in the log');
    const second = await w.next((e) => isApply(e) && e.failed.length && e.failed[0].retry_in_ms === 600, 'second failure, doubled');
    assert.ok(second);
    const capped = await w.next((e) => isApply(e) && e.failed.length && e.failed[0].retry_in_ms === 1000, 'capped at --max-backoff');
    assert.ok(capped);
    // watch.json is rewritten after each run (just after its events)
    const wf = await waitFor(() => {
      const j = JSON.parse(readFileSync(path.join(s.home, 'watch.json'), 'utf8'));
      return j.resources['secrets.env']?.failures >= 3 ? j : null;
    }, 'watch.json with 3 failures');
    assert.is(wf.resources['secrets.env'].result, 'error');
    assert.match(wf.resources['secrets.env'].next_retry, /^\d{4}-\d\d-\d\dT/);
    assert.is(wf.resources['secrets.supabase'].result, 'ok');

    // the bundle is one of the manifest's inputs: editing it is a trigger
    const m = w.mark();
    writeBundle(path.join(s.dir, 'env.cgp.json'), { ...VALUES, NEW_LABEL: 'x' });
    // (a backoff retry may get there first; either way the file event itself is a trigger)
    const trig = await w.next((e) => e.event === 'trigger' && e.reasons.some((r: string) => r.startsWith('file') && r.includes('env.cgp.json')), 'a run triggered by the bundle edit', m);
    await w.next((e) => isApply(e) && e.result !== 'failed', 'converged after the bundle edit', w.events.indexOf(trig));
    assert.ok(w.events.slice(m).some((e) => isApply(e) && e.result === 'ok' && e.added === 1));
    assert.ok(s.keys('env.shared')!.includes('NEW_LABEL'));
    assert.is(await w.term(), 0);
  } finally {
    await w?.stop();
    s.cleanup();
  }
});

test('SIGTERM during an apply leaves no lock and no half-written file', async () => {
  const t = tempDir('pmoves-watch-term-');
  let w: WatchProc | undefined;
  try {
    const home = path.join(t.dir, 'home');
    writeBundle(path.join(t.dir, 'env.cgp.json'), VALUES);
    const lines = ['apiVersion: pmoves.ai/mini/v1', 'secrets:'];
    for (let i = 0; i < 300; i++) lines.push(`  s${i}:`, '    bundle: env.cgp.json', `    env_file: out/env.${i}`);
    const file = path.join(t.dir, 'pmoves.mini.yaml');
    writeFileSync(file, lines.join('\n') + '\n');
    w = startWatch(['-m', file, '--interval', '1h', '--parallelism', '2'], { home, cwd: t.dir });
    await w.next((e) => e.event === 'progress' && /Creating/.test(e.message), 'an apply in flight');
    const code = await w.term();
    assert.is(code, 0);
    assert.not.ok(existsSync(path.join(home, 'lock')), 'lock released');
    const stray = [...readdirSync(home), ...(existsSync(path.join(t.dir, 'out')) ? readdirSync(path.join(t.dir, 'out')) : [])].filter((f) => f.endsWith('.tmp'));
    assert.equal(stray, [], 'no temp files left');
    const written = existsSync(path.join(t.dir, 'out')) ? readdirSync(path.join(t.dir, 'out')) : [];
    assert.ok(written.length < 300, 'the apply was cancelled before the end');
    for (const f of written) {
      const text = readFileSync(path.join(t.dir, 'out', f), 'utf8');
      assert.is(text.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).length, 3, `${f} is complete`);
    }
    JSON.parse(readFileSync(path.join(home, 'state.json'), 'utf8'));
    const wf = JSON.parse(readFileSync(path.join(home, 'watch.json'), 'utf8'));
    assert.ok(wf.stopped_at);
    // what was left out is applied by the next watcher (or apply): nothing is lost
    const r = await cli(['mini', 'apply', '--auto-approve', '-m', file], { home, cwd: t.dir });
    assert.is(r.exitCode, 0, String(r.stderr));
    assert.is(readdirSync(path.join(t.dir, 'out')).length, 300);
  } finally {
    await w?.stop();
    t.cleanup();
  }
});

test('rollback restores the previous generation; the watcher holds it until the manifest changes', async () => {
  const s = setup();
  let w: WatchProc | undefined;
  try {
    w = startWatch(['-m', s.file, '--interval', '1h'], { home: s.home, cwd: s.dir });
    await w.next((e) => e.event === 'generation' && e.generation === 1, 'generation 1');
    let m = w.mark();
    writeFileSync(s.file, manifest({ supabaseLabels: ['"SUPABASE_*"', '"MEILI_*"'] }));
    await w.next((e) => e.event === 'generation' && e.generation === 2, 'generation 2', m);
    assert.equal(s.keys('env.supabase'), ['MEILI_MASTER_KEY', 'SUPABASE_KEY', 'SUPABASE_URL']);

    const list = await cli(['mini', 'rollback', '--list', '-m', s.file], { home: s.home, cwd: s.dir });
    assert.match(String(list.stdout), /\*\s+2 /);
    const rb = await cli(['mini', 'rollback', '--auto-approve', '-m', s.file], { home: s.home, cwd: s.dir });
    assert.is(rb.exitCode, 0, String(rb.stderr));
    assert.match(String(rb.stdout), /Rolled back to generation 1/);
    assert.equal(s.keys('env.supabase'), ['SUPABASE_KEY', 'SUPABASE_URL']);

    // the watcher's next look (SIGHUP: reload now) keeps generation 1
    m = w.mark();
    w.proc.kill('SIGHUP');
    await w.next((e) => e.event === 'hold' && e.generation === 1, 'hold of generation 1', m);
    const held = await w.next(isApply, 'apply while held', m);
    assert.is(held.result, 'no-changes');
    assert.equal(s.keys('env.supabase'), ['SUPABASE_KEY', 'SUPABASE_URL']);
    const list2 = await cli(['mini', 'rollback', '--list', '-m', s.file], { home: s.home, cwd: s.dir });
    assert.match(String(list2.stdout), /\*\s+1 /);

    // an edit moves on
    m = w.mark();
    writeFileSync(s.file, manifest({ supabaseLabels: ['"SUPABASE_URL"'] }));
    await w.next((e) => e.event === 'hold-released', 'hold released', m);
    await w.next((e) => isApply(e) && e.result === 'ok', 'apply of the edit', m);
    assert.equal(s.keys('env.supabase'), ['SUPABASE_URL']);
    assert.is(await w.term(), 0);
  } finally {
    await w?.stop();
    s.cleanup();
  }
});

test('--rollback-on-failure goes back to the last good generation when a new one does not converge', async () => {
  const s = setup();
  let w: WatchProc | undefined;
  try {
    w = startWatch(['-m', s.file, '--interval', '1h', '--rollback-on-failure', '--converge-timeout', '1s', '--min-backoff', '300ms'], { home: s.home, cwd: s.dir });
    await w.next((e) => e.event === 'generation' && e.generation === 1, 'generation 1');
    const m = w.mark();
    // the new generation changes secrets.supabase (applies) and breaks secrets.env (a label the bundle lacks)
    writeFileSync(s.file, manifest({ supabaseLabels: ['"SUPABASE_*"', '"MEILI_*"'], envRequired: ['MISSING_LABEL'] }));
    const partial = await w.next((e) => isApply(e) && e.changed === 1, 'partial apply of the new generation', m);
    assert.is(partial.result, 'failed');
    assert.equal(s.keys('env.supabase'), ['MEILI_MASTER_KEY', 'SUPABASE_KEY', 'SUPABASE_URL']);
    const rb = await w.next((e) => e.event === 'rollback', 'automatic rollback', m);
    assert.is(rb.to, 1);
    assert.equal(rb.failing, ['secrets.env']);
    const back = await w.next((e) => isApply(e) && e.result === 'ok' && e.changed === 1, 'apply of generation 1', w.events.indexOf(rb));
    assert.ok(back);
    assert.equal(s.keys('env.supabase'), ['SUPABASE_KEY', 'SUPABASE_URL']);
    assert.ok(existsSync(path.join(s.home, 'history', 'hold.json')));
    assert.is(await w.term(), 0);
  } finally {
    await w?.stop();
    s.cleanup();
  }
});

test('--listen serves /healthz and Prometheus /metrics', async () => {
  const s = setup();
  let w: WatchProc | undefined;
  try {
    w = startWatch(['-m', s.file, '--interval', '1h', '--listen', '127.0.0.1:0'], { home: s.home, cwd: s.dir });
    const l = await w.next((e) => e.event === 'listen', 'listen');
    await w.next(isApply, 'first apply');
    // The record step writes the generation after the apply line: wait for it, not for the apply.
    await w.next((e) => e.event === 'generation', 'generation 1 recorded');
    const h = await fetch(`http://${l.address}/healthz`);
    assert.is(h.status, 200);
    const hj = (await h.json()) as any;
    assert.is(hj.status, 'ok');
    assert.is(hj.generation, 1);
    const text = await (await fetch(`http://${l.address}/metrics`)).text();
    assert.match(text, /# TYPE pmoves_watch_runs_total counter/);
    assert.match(text, /pmoves_watch_runs_total\{trigger="start"\} 1/);
    assert.match(text, /pmoves_watch_run_failures_total 0/);
    assert.match(text, /pmoves_watch_last_success_timestamp_seconds \d+\.\d+/);
    assert.match(text, /pmoves_watch_drift_found_total 0/);
    // drift: the env file edited behind the watcher's back is found by the next look (SIGHUP here)
    writeFileSync(path.join(s.dir, 'out', 'env.shared'), 'SUPABASE_URL=tampered\n');
    const m = w.mark();
    w.proc.kill('SIGHUP');
    const repaired = await w.next((e) => isApply(e) && e.changed === 1, 'drift repaired', m);
    assert.is(repaired.result, 'ok');
    assert.match(readFileSync(path.join(s.dir, 'out', 'env.shared'), 'utf8'), /MEILI_MASTER_KEY=/);
    assert.is(w.events.slice(m).find((e) => e.event === 'plan' && e.change === 1)?.drift, 1, 'counted as drift');
    assert.match(await (await fetch(`http://${l.address}/metrics`)).text(), /^pmoves_watch_drift_found_total 1$/m);
    const nf = await (await fetch(`http://${l.address}/nope`)).text();
    assert.match(nf, /not found/);
    assert.is(await w.term(), 0);
  } finally {
    await w?.stop();
    s.cleanup();
  }
});

test('a lock held by another pmoves mini delays the run; it goes through once the lock is free', async () => {
  const s = setup();
  let w: WatchProc | undefined;
  try {
    w = startWatch(['-m', s.file, '--interval', '1h'], { home: s.home, cwd: s.dir });
    await w.next(isApply, 'first apply');
    const lock = path.join(s.home, 'lock');
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: os.hostname(), command: 'apply', since: new Date().toISOString() }) + '\n');
    const m = w.mark();
    writeFileSync(s.file, manifest({ supabaseLabels: ['"SUPABASE_*"', '"MEILI_*"'] }));
    const busy = await w.next((e) => e.event === 'busy', 'busy', m);
    assert.match(busy.message, new RegExp(`another pmoves mini is running: pid ${process.pid}`));
    assert.equal(s.keys('env.supabase'), ['SUPABASE_KEY', 'SUPABASE_URL'], 'nothing applied while the lock is held');
    rmSync(lock);
    await w.next((e) => isApply(e) && e.changed === 1, 'apply after the lock is free', m);
    assert.equal(s.keys('env.supabase'), ['MEILI_MASTER_KEY', 'SUPABASE_KEY', 'SUPABASE_URL']);
    assert.is(w.events.filter((e) => e.event === 'busy').length, 1, 'reported once');
    assert.is(await w.term(), 0);
  } finally {
    await w?.stop();
    s.cleanup();
  }
});

test('--print-systemd-unit prints a unit with absolute paths and safe hardening', async () => {
  const s = setup();
  try {
    const r = await cli(['mini', 'watch', '-m', 'pmoves.mini.yaml', '--interval', '30s', '--listen', '9464', '--print-systemd-unit'], { home: s.home, cwd: s.dir });
    assert.is(r.exitCode, 0, String(r.stderr));
    const unit = String(r.stdout);
    assert.match(unit, /^Type=exec$/m);
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    assert.match(unit, new RegExp(`^ExecStart=${process.execPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} --max-semi-space-size=1 \\S+/dist/src/cli\\.js mini watch --manifest ${s.file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} --interval 30s --listen 127\\.0\\.0\\.1:9464 --json$`, 'm'));
    assert.match(unit, new RegExp(`^Environment=PMOVES_HOME=${s.home.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'));
    assert.not.match(unit, /MemoryDenyWriteExecute|PrivateDevices|DevicePolicy|DeviceAllow|ProtectClock/);
  } finally {
    s.cleanup();
  }
});

test('bad flags are user errors', async () => {
  const s = setup();
  try {
    const r = await cli(['mini', 'watch', '-m', s.file, '--interval', 'soon'], { home: s.home, cwd: s.dir });
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /--interval: expected seconds or a duration/);
    const l = await cli(['mini', 'watch', '-m', s.file, '--listen', 'localhost:http'], { home: s.home, cwd: s.dir });
    assert.is(l.exitCode, 1);
    assert.match(String(l.stderr), /--listen: expected HOST:PORT or PORT/);
    const b = await cli(['mini', 'watch', '-m', s.file, '--verify-signatures'], { home: s.home, cwd: s.dir });
    assert.is(b.exitCode, 1);
    assert.match(String(b.stderr), /--verify-signatures needs --git URL/);
    const rb = await cli(['mini', 'rollback', '7', '-m', s.file], { home: s.home, cwd: s.dir });
    assert.is(rb.exitCode, 1);
    assert.match(String(rb.stderr), /no generations in/);
    assert.not.match(String(r.stderr) + String(l.stderr) + String(rb.stderr), /\n\s+at /, 'no stack trace');
  } finally {
    s.cleanup();
  }
});

test.run();
