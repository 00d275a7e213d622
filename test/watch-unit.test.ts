// Watch mode's pure parts and small modules: backoff, debounce, metrics text, --listen parsing,
// history and holds, the systemd unit (checked by systemd-analyze where it exists).
import { execa } from 'execa';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pmovesHome } from '../src/core/home.js';
import type { Resource } from '../src/core/types.js';
import { Backoff, backoffDelay } from '../src/watch/backoff.js';
import { debounce } from '../src/watch/debounce.js';
import { sourceSlug } from '../src/watch/git-source.js';
import { clearHold, holdMatches, latestGeneration, listGenerations, readGeneration, readHold, recordGeneration, resourcesDigest, writeHold } from '../src/watch/history.js';
import { newMetrics, parseListen, renderMetrics } from '../src/watch/metrics.js';
import { Scheduler } from '../src/watch/scheduler.js';
import { watchStatus, writeWatchFile } from '../src/watch/state-file.js';
import { envAssignment, execArg, renderUnit, unitPath } from '../src/watch/systemd-unit.js';
import { cli, tempDir } from './helpers.js';

test('scheduler: a stuck run backs off whatever it wishes; the interval is anchored; nothing fires sooner than the floor', () => {
  const fired: string[] = [];
  const s = new Scheduler({ intervalMs: 60_000, minBackoffMs: 1_000, maxBackoffMs: 4_000, jitter: () => 1 }, (n) => fired.push(n));
  try {
    s.start(0);
    assert.equal(s.due(), { interval: 60_000 });
    // a retry due in the past after a run that applied: not sooner than the floor
    s.beginRun();
    s.afterRun('applied', { retry: -5_000 }, 10_000);
    assert.equal(s.due(), { interval: 60_000, retry: 10_100 }, 'the interval is not pushed back by other runs');
    // stuck runs: one retry at the run backoff (1 s, 2 s, 4 s, 4 s), whatever the wishes say
    const gaps: number[] = [];
    for (const now of [20_000, 30_000, 40_000, 50_000]) {
      s.beginRun();
      s.afterRun('stuck', { retry: now - 1, settle: now + 10 }, now);
      gaps.push(s.due().retry! - now);
      assert.equal(Object.keys(s.due()).sort(), ['interval', 'retry']);
    }
    assert.equal(gaps, [1_000, 2_000, 4_000, 4_000]);
    assert.is(s.stuck, 4);
    // the lock held by another process keeps its own pace
    s.beginRun();
    s.afterRun('stuck', { 'lock-busy': 51_000 }, 50_000);
    assert.equal(s.due(), { interval: 60_000, 'lock-busy': 51_000 });
    s.beginRun();
    s.afterRun('applied', {}, 52_000);
    assert.is(s.stuck, 0, 'an applied run resets the backoff');
    assert.equal(s.due(), { interval: 60_000 });
  } finally {
    s.stop();
  }
  assert.equal(fired, []);
});

test('backoff: 5 s doubling, capped', () => {
  assert.equal([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => backoffDelay(n, 5_000, 300_000)), [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
  assert.is(backoffDelay(0, 5_000, 300_000), 0);
  assert.is(backoffDelay(1000, 5_000, 300_000), 300_000);
});

test('Backoff: per key; blocked until due; release keeps the count; retain forgets', () => {
  const b = new Backoff(1000, 8000);
  assert.is(b.fail('a', 0, 'x'), 1000);
  assert.is(b.fail('a', 1000, 'x'), 2000);
  assert.is(b.fail('b', 0, 'y'), 1000);
  assert.equal([...b.blocked(500)].sort(), ['a', 'b']);
  assert.equal([...b.blocked(1500)], ['a']);
  assert.is(b.next(), 1000);
  b.release(1500);
  assert.equal([...b.blocked(1500)], []);
  assert.is(b.fail('a', 1500, 'x'), 4000, 'count kept across a release');
  b.succeed('b');
  assert.is(b.size, 1);
  b.retain(new Set(['z']));
  assert.is(b.size, 0);
  assert.is(b.next(), undefined);
});

test('debounce: a burst fires once with every reason', async () => {
  const fired: string[][] = [];
  const d = debounce(30, (r) => fired.push(r));
  d.push('file a');
  d.push('file b');
  d.push('file a');
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(fired, [['file a', 'file b']]);
  d.push('x');
  d.cancel();
  await new Promise((r) => setTimeout(r, 80));
  assert.is(fired.length, 1, 'cancelled');
});

test('metrics: Prometheus text with HELP/TYPE and labelled run counts', () => {
  const m = newMetrics();
  m.runs.set('start', 1);
  m.runs.set('file', 3);
  m.failures = 2;
  m.lastSuccess = 1_700_000_000_500;
  m.generation = 4;
  m.manifestValid = false;
  const text = renderMetrics(m);
  assert.match(text, /^# HELP pmoves_watch_runs_total .+\n# TYPE pmoves_watch_runs_total counter\npmoves_watch_runs_total\{trigger="start"\} 1\npmoves_watch_runs_total\{trigger="file"\} 3$/m);
  assert.match(text, /^pmoves_watch_run_failures_total 2$/m);
  assert.match(text, /^pmoves_watch_last_success_timestamp_seconds 1700000000\.500$/m);
  assert.match(text, /^pmoves_watch_generation 4$/m);
  assert.match(text, /^pmoves_watch_manifest_valid 0$/m);
  for (const line of text.trim().split('\n')) assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{\w+="[^"]*"\})? -?\d+(\.\d+)?)$/, line);
});

test('--listen parsing', () => {
  assert.equal(parseListen('9464'), { host: '127.0.0.1', port: 9464 });
  assert.equal(parseListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  assert.equal(parseListen('[::1]:9464'), { host: '::1', port: 9464 });
  assert.throws(() => parseListen('localhost:http'), /expected HOST:PORT or PORT/);
  assert.throws(() => parseListen('99999'), /expected HOST:PORT or PORT/);
});

test('git source folder names are stable, readable and distinct per url and branch', () => {
  const a = sourceSlug('https://example.invalid/org/edge-config.git', 'main');
  assert.match(a, /^edge-config-[0-9a-f]{10}$/);
  assert.is(a, sourceSlug('https://example.invalid/org/edge-config.git', 'main'));
  assert.is.not(a, sourceSlug('https://example.invalid/org/edge-config.git', 'prod'));
  assert.match(sourceSlug('git@example.invalid:org/x y.git', undefined), /^x_y-[0-9a-f]{10}$/);
});

const res = (name: string, v: string): Resource => ({ address: `secrets.${name}`, section: 'secrets', name, spec: { v }, dependsOn: [] });

test('history: generations numbered, pruned, read back; holds match manifest and commit', async () => {
  const t = tempDir('pmoves-watch-hist-');
  try {
    const home = pmovesHome({ PMOVES_HOME: t.dir });
    assert.equal(await listGenerations(home), []);
    assert.is(await latestGeneration(home), null);
    for (let i = 1; i <= 5; i++) await recordGeneration(home, { manifest_path: '/m.yaml', manifest_digest: `d${i}`, resources: [res('a', String(i))] }, 3);
    assert.equal(await listGenerations(home), [3, 4, 5]);
    const g5 = (await readGeneration(home, 5))!;
    assert.is(g5.resources_digest, resourcesDigest([res('a', '5')]));
    assert.is((await latestGeneration(home))!.generation, 5);
    for (const f of readdirSync(path.join(t.dir, 'history'))) assert.is((await import('node:fs')).statSync(path.join(t.dir, 'history', f)).mode & 0o777, 0o600);

    await writeHold(home, { generation: 3, avoid: { manifest_digest: 'd9', commit: 'abc' }, since: 'now', reason: 'test' });
    const hold = (await readHold(home))!;
    assert.ok(holdMatches(hold, 'd9', 'abc'));
    assert.not.ok(holdMatches(hold, 'd9', null));
    assert.not.ok(holdMatches(hold, 'd8', 'abc'));
    // a held generation is not pruned
    await recordGeneration(home, { manifest_path: '/m.yaml', manifest_digest: 'd6', resources: [res('a', '6')] }, 3);
    assert.equal(await listGenerations(home), [3, 4, 5, 6], 'the last 3, and the held one');
    await recordGeneration(home, { manifest_path: '/m.yaml', manifest_digest: 'd7', resources: [res('a', '7')] }, 3);
    assert.equal(await listGenerations(home), [3, 5, 6, 7]);
    await clearHold(home);
    assert.is(await readHold(home), null);
    writeFileSync(path.join(t.dir, 'history', 'gen-000007.json'), '{"format":"other"}');
    try {
      await readGeneration(home, 7);
      assert.unreachable('should throw');
    } catch (err) {
      assert.match((err as Error).message, /gen-000007\.json: not a generation file/);
    }
  } finally {
    t.cleanup();
  }
});

test('watch.json: status line for a running and a stopped watcher', async () => {
  const t = tempDir('pmoves-watch-state-');
  try {
    const home = pmovesHome({ PMOVES_HOME: t.dir });
    assert.is(await watchStatus(home), null);
    const base = {
      pid: process.pid,
      host: 'h',
      started_at: 's',
      updated_at: 'u',
      manifest: '/m.yaml',
      generation: 2,
      manifest_valid: false,
      last_run: { at: 'T', trigger: ['file x'], result: 'failed' as const, ms: 3 },
      resources: { 'secrets.a': { result: 'failed' as const, at: 'T', error: 'boom', failures: 2, next_retry: 'R' }, 'secrets.b': { result: 'ok' as const, at: 'T' } },
      next_run: 'N',
    };
    await writeWatchFile(home, base);
    const running = (await watchStatus(home))!;
    assert.ok(running.json.running);
    assert.is(running.line, `watch: running (pid ${process.pid}); generation 2; last run T failed; failing: secrets.a (retry R); next run N; the manifest is not valid: the last valid one stays in force`);
    await writeWatchFile(home, { ...base, stopped_at: 'S', manifest_valid: true, resources: {} });
    const stopped = (await watchStatus(home))!;
    assert.not.ok(stopped.json.running);
    assert.match(stopped.line, /^watch: not running \(last pid \d+, stopped S\); generation 2; last run T failed$/);
  } finally {
    t.cleanup();
  }
});

test('systemd unit: quoting, hardening, and systemd-analyze verify (where installed)', async () => {
  const t = tempDir('pmoves-watch-unit-');
  try {
    const unit = renderUnit({ node: process.execPath, cli: '/opt/pmoves mini/cli.js', args: ['--git', 'https://example.invalid/r.git', '--interval', '5m', '--json'], home: '/var/lib/pmoves', workingDirectory: '/var/lib/pmoves', user: 'edge', env: { GNUPGHOME: '/var/lib/pmoves/gnupg' } });
    assert.match(unit, /^ExecStart=\S+ --max-semi-space-size=1 "\/opt\/pmoves mini\/cli\.js" mini watch --git https:\/\/example\.invalid\/r\.git --interval 5m --json$/m);
    assert.match(unit, /^User=edge$/m);
    assert.match(unit, /^Environment=GNUPGHOME=\/var\/lib\/pmoves\/gnupg$/m);
    assert.match(unit, /^NoNewPrivileges=yes$/m);
    assert.not.match(unit, /MemoryDenyWriteExecute|PrivateDevices|DeviceAllow|ProtectClock/);
    const which = await execa('sh', ['-c', 'command -v systemd-analyze'], { reject: false });
    if (which.exitCode === 0) {
      const file = path.join(t.dir, 'pmoves-mini-watch.service');
      writeFileSync(file, renderUnit({ node: process.execPath, cli: path.resolve('dist/src/cli.js'), args: ['--interval', '1m'], home: t.dir, workingDirectory: t.dir }));
      const v = await execa('systemd-analyze', ['verify', file], { reject: false });
      assert.is(v.exitCode, 0, String(v.stderr));
      assert.not.match(String(v.stderr), /pmoves-mini-watch\.service:\d+:/, String(v.stderr));
    }
    assert.ok(existsSync(t.dir));
  } finally {
    t.cleanup();
  }
});

test('systemd escaping: specifiers, $, quotes, backslashes, spaces (systemd.service(5) "Command lines", systemd.unit(5) "Specifiers")', () => {
  const table: [string, string][] = [
    ['--interval', '--interval'],
    ['/opt/pmoves/cli.js', '/opt/pmoves/cli.js'],
    ['/srv/my dir/pmoves.mini.yaml', '"/srv/my dir/pmoves.mini.yaml"'],
    ['/srv/100%/m.yaml', '"/srv/100%%/m.yaml"'],
    ['/srv/$HOME/m.yaml', '"/srv/$$HOME/m.yaml"'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ['tab\there', '"tab\\there"'],
    [';', '\\;'],
  ];
  for (const [raw, want] of table) assert.is(execArg(raw), want, raw);
  assert.is(execArg('/opt/a $b/node', true), '"/opt/a $b/node"', 'the executable is not variable-expanded: its $ stays');
  assert.is(execArg('/opt/50%/node', true), '"/opt/50%%/node"');
  assert.is(unitPath('/srv/my dir %i'), '/srv/my dir %%i', 'WorkingDirectory: never quoted, spaces kept, % doubled');
  assert.throws(() => unitPath('relative/dir'), /expected an absolute path/);
  assert.throws(() => unitPath('/a\nb'), /cannot be written in a unit/);
  assert.is(envAssignment('PMOVES_HOME', '/var/lib/pmoves'), 'PMOVES_HOME=/var/lib/pmoves');
  assert.is(envAssignment('CODEX_HOME', '/home/e/my codex %h'), '"CODEX_HOME=/home/e/my codex %%h"');
  assert.is(envAssignment('X', '$literal "q"'), '"X=$literal \\"q\\""', 'Environment= does not expand $');
});

test('--print-systemd-unit: a manifest path with a space and a %, the agents\' and profiles\' environment carried over; systemd-analyze verify accepts it', async () => {
  const t = tempDir('pmoves-watch-unit-');
  try {
    const dir = path.join(t.dir, 'edge config 100%');
    const profiles = path.join(t.dir, 'my profiles');
    mkdirSync(dir);
    mkdirSync(profiles);
    writeFileSync(path.join(dir, 'pmoves.mini.yaml'), 'apiVersion: pmoves.ai/mini/v1\n');
    const home = path.join(t.dir, 'home $x');
    const env = { CODEX_HOME: path.join(t.dir, 'codex home'), XDG_CONFIG_HOME: path.join(t.dir, 'xdg'), CRUSH_GLOBAL_CONFIG: path.join(t.dir, 'crush'), PMOVES_PROFILES_DIR: undefined };
    const r = await cli(['mini', 'watch', '--profiles-dir', profiles, '--removal-settle', '30s', '--print-systemd-unit'], { home, cwd: dir, env });
    assert.is(r.exitCode, 0, String(r.stderr));
    const unit = String(r.stdout);
    const pct = (s: string) => s.replace(/%/g, '%%');
    const line = (k: string) => unit.split('\n').find((l) => l.startsWith(`${k}=`));
    assert.is(line('WorkingDirectory'), `WorkingDirectory=${pct(dir)}`);
    const exec = line('ExecStart')!;
    assert.ok(exec.includes(` --manifest "${pct(path.join(dir, 'pmoves.mini.yaml'))}" `), exec);
    assert.ok(exec.includes(` --profiles-dir "${profiles}" `), exec);
    assert.ok(exec.includes(' --removal-settle 30s '), exec);
    const envLines = unit.split('\n').filter((l) => l.startsWith('Environment='));
    assert.ok(envLines.includes(`Environment="PMOVES_HOME=${home}"`), envLines.join('\n'));
    assert.ok(envLines.includes(`Environment="CODEX_HOME=${env.CODEX_HOME}"`), envLines.join('\n'));
    assert.ok(envLines.includes(`Environment=XDG_CONFIG_HOME=${env.XDG_CONFIG_HOME}`), envLines.join('\n'));
    assert.ok(envLines.includes(`Environment=CRUSH_GLOBAL_CONFIG=${env.CRUSH_GLOBAL_CONFIG}`), envLines.join('\n'));
    const which = await execa('sh', ['-c', 'command -v systemd-analyze'], { reject: false });
    if (which.exitCode === 0) {
      const file = path.join(t.dir, 'pmoves-mini-watch.service');
      writeFileSync(file, unit.replace(/^User=.*\n/m, '')); // the unit names the current user, who may be a system one
      const v = await execa('systemd-analyze', ['verify', file], { reject: false });
      assert.is(v.exitCode, 0, String(v.stderr));
      assert.not.match(String(v.stderr), /pmoves-mini-watch\.service:\d+:/, String(v.stderr));
    }
  } finally {
    t.cleanup();
  }
});

test.run();
