// A fleet that cannot wedge itself. Five real `watch --git --fleet --report` devices, a real mosquitto
// and real Git repositories; each device is held for a minute in one failure state:
//   storm-1  a resource in retry backoff, then its group's overrides turn invalid (the retry storm of
//            findings A5: ~100 runs a second and no git fetch, before the one scheduler)
//   retry-1  a resource that keeps failing (waits in backoff)
//   lost-1   no group matches it (blocked)
//   git-1    its repository is gone (every fetch fails)
//   mute-1   its broker is not there (reports go nowhere)
// Runs, log lines and MQTT messages stay bounded, the interval (and with it the git fetch) goes on,
// `fleet status` and /metrics say why each one fails while it waits, and one fix commit is applied
// by every device.
import { execa } from 'execa';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempDir, waitFor } from './helpers.js';
import { fleetStatus, freePort, startBroker, type Broker } from './fleet-helpers.js';
import { isApply, startWatch, writeBundle, type WatchProc } from './watch-helpers.js';

const HOLD_MS = 60_000;
const MQTT_PASSWORD = 'storm-secret-mqtt-1';
const VALUES = { SUPABASE_URL: 'http://127.0.0.1:54321', MEILI_MASTER_KEY: 'storm-secret-meili-2' };

const manifest = (envFile: string, labels: string[]) =>
  ['apiVersion: pmoves.ai/mini/v1', 'secrets:', '  env:', '    bundle: env.cgp.json', `    env_file: ${envFile}`, `    include_labels: [${labels.map((l) => JSON.stringify(l)).join(', ')}]`, ''].join('\n');
const GOOD = '${DEVICE_OUT}/env.shared';
const BAD = '/dev/null/sub/env.shared'; // ENOTDIR: fails on every try

function fleetYaml(o: { storm: string; stormOverride: boolean; retry: string; lost: boolean }): string {
  return [
    'apiVersion: pmoves.ai/fleet/v1',
    'groups:',
    '  - name: storm',
    '    match: { hostname: "storm-*" }',
    `    manifest: ${o.storm}/pmoves.mini.yaml`,
    ...(o.stormOverride ? ['    overrides:', '      secrets: { env: { include_labels: 5 } }'] : []),
    '  - name: retry',
    '    match: { hostname: "retry-*" }',
    `    manifest: ${o.retry}/pmoves.mini.yaml`,
    ...(o.lost ? ['  - name: lost', '    match: { hostname: "lost-*" }', '    manifest: ok/pmoves.mini.yaml'] : []),
    '  - name: ok',
    '    match: { hostname: ["git-*", "mute-*"] }',
    '    manifest: ok/pmoves.mini.yaml',
    '',
  ].join('\n');
}

test('each failure state held for a minute: bounded runs, log lines and MQTT messages; the reason shown; the fix commit applied', async () => {
  const t = tempDir('pmoves-fleet-storm-');
  const gitconfig = path.join(t.dir, 'gitconfig');
  writeFileSync(gitconfig, '[user]\n\tname = Fleet Test\n\temail = fleet@example.invalid\n[init]\n\tdefaultBranch = main\n');
  const genv = { GIT_CONFIG_GLOBAL: gitconfig, GIT_CONFIG_NOSYSTEM: '1' };
  const remote = path.join(t.dir, 'remote.git');
  const remote2 = path.join(t.dir, 'remote2.git');
  const work = path.join(t.dir, 'work');
  const git = (args: string[]) => execa('git', args, { cwd: work, env: genv });
  const watchers: WatchProc[] = [];
  let broker: Broker | undefined;
  let sub: ReturnType<typeof execa> | undefined;
  try {
    await execa('git', ['init', '-q', '--bare', '-b', 'main', remote], { env: genv });
    await execa('git', ['init', '-q', '--bare', '-b', 'main', remote2], { env: genv });
    await execa('git', ['clone', '-q', remote, work], { env: genv });
    await git(['remote', 'add', 'two', remote2]);
    for (const g of ['ok', 'bad']) {
      mkdirSync(path.join(work, g));
      writeBundle(path.join(work, g, 'env.cgp.json'), VALUES);
    }
    const commit = async (fleet: string, okLabels: string[], msg: string, remotes = ['origin', 'two']) => {
      writeFileSync(path.join(work, 'ok', 'pmoves.mini.yaml'), manifest(GOOD, okLabels));
      writeFileSync(path.join(work, 'bad', 'pmoves.mini.yaml'), manifest(BAD, ['SUPABASE_URL']));
      writeFileSync(path.join(work, 'fleet.yaml'), fleet);
      await git(['add', '-A']);
      await git(['commit', '-q', '-m', msg]);
      for (const r of remotes) await git(['push', '-q', r, 'main']);
      return (await git(['rev-parse', 'HEAD'])).stdout.trim();
    };
    const c1 = await commit(fleetYaml({ storm: 'bad', stormOverride: false, retry: 'bad', lost: false }), ['SUPABASE_URL'], 'first');

    const bdir = path.join(t.dir, 'broker');
    mkdirSync(bdir);
    broker = await startBroker(bdir, { users: { device: MQTT_PASSWORD } });
    const creds = path.join(t.dir, 'mqtt.cgp.json');
    writeBundle(creds, { MQTT_USERNAME: 'device', MQTT_PASSWORD });
    const url = broker.url('storm');
    const deadUrl = `mqtt://127.0.0.1:${await freePort()}/storm`;
    // every message the devices publish, counted per device (retained ones included once)
    let subOut = '';
    sub = execa('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(broker.port), '-u', 'device', '-P', MQTT_PASSWORD, '-t', 'storm/#', '-v'], { reject: false, stdin: 'ignore' });
    sub.stdout!.on('data', (c: Buffer) => (subOut += c.toString()));

    const names = ['storm-1', 'retry-1', 'lost-1', 'git-1', 'mute-1'] as const;
    const by: Record<string, WatchProc> = {};
    for (const name of names) {
      const w = startWatch(
        ['--git', name === 'git-1' ? remote2 : remote, '--fleet', '--interval', '3s', '--min-backoff', '500ms', '--max-backoff', '4s', '--report', name === 'mute-1' ? deadUrl : url, '--report-auth', creds, '--listen', '127.0.0.1:0'],
        { home: path.join(t.dir, name, 'home'), cwd: t.dir, env: { ...genv, PMOVES_HOSTNAME: name, DEVICE_OUT: path.join(t.dir, name, 'out') } },
      );
      watchers.push(w);
      by[name] = w;
    }
    const metricsOf = async (name: string) => {
      const address = (await by[name]!.next((e) => e.event === 'listen', `${name} listens`)).address as string;
      return (await fetch(`http://${address}/metrics`)).text();
    };

    // into the failure states
    await by['storm-1']!.next((e) => isApply(e) && e.result === 'failed', 'storm-1 fails (retry backoff)');
    await by['retry-1']!.next((e) => isApply(e) && e.result === 'failed', 'retry-1 fails');
    await by['lost-1']!.next((e) => e.event === 'fleet' && e.action === 'no-match', 'lost-1 matches no group');
    await by['git-1']!.next((e) => isApply(e) && e.result === 'ok' && e.commit === c1, 'git-1 converges');
    await by['mute-1']!.next((e) => isApply(e) && e.result === 'ok' && e.commit === c1, 'mute-1 converges without its broker');
    renameSync(remote2, remote2 + '.away');
    const c2 = await commit(fleetYaml({ storm: 'bad', stormOverride: true, retry: 'bad', lost: false }), ['SUPABASE_URL'], 'storm: a bad override', ['origin']);
    await by['storm-1']!.next((e) => e.event === 'fleet' && e.action === 'invalid', 'storm-1 reads the invalid override');
    await by['git-1']!.next((e) => e.event === 'git' && e.action === 'fetch-failed', 'git-1 cannot fetch');

    // hold for a minute
    const marks = Object.fromEntries(names.map((n) => [n, by[n]!.mark()]));
    const subMark = subOut.length;
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, HOLD_MS / 2));
    // half-way: fleet status and /metrics say why, whatever moment they are read
    const s = await fleetStatus(['--broker', url, '--auth', creds, '--repo', remote], genv);
    const storm = s.devices['storm-1'];
    assert.is(storm.result, 'blocked');
    assert.is(storm.commit, c2, 'a blocked device reports the commit it read');
    assert.not.ok(storm.behind, 'so it is not flagged behind');
    assert.match(storm.reason, /fleet\.yaml:\d+:\d+: .*include_labels/, 'the validation error with its location');
    assert.match(s.devices['retry-1'].failing[0].reason, /ENOTDIR/, 'the last error, not "in retry backoff"');
    assert.ok(s.devices['retry-1'].failing[0].next_try, 'and the time of the next try');
    assert.is(s.devices['lost-1'].result, 'blocked');
    assert.match(s.devices['lost-1'].reason, /no group in fleet\.yaml matches this device \(lost-1\)/);
    const m = await metricsOf('storm-1');
    assert.match(m, /pmoves_watch_manifest_valid 0/, 'the metric matches the state');
    assert.match(m, /pmoves_watch_blocked 1/);
    assert.match(await metricsOf('retry-1'), /pmoves_watch_resource_next_retry_timestamp_seconds\{address="secrets\.env",error="[^"]*ENOTDIR/);
    await new Promise((r) => setTimeout(r, HOLD_MS - (Date.now() - t0)));

    const published = subOut.slice(subMark).split('\n').filter(Boolean);
    for (const n of names) {
      const ev = by[n]!.events.slice(marks[n]);
      const runs = ev.filter((e) => e.event === 'trigger');
      const intervalRuns = runs.filter((e) => (e.reasons as string[]).includes('interval'));
      const mqtt = published.filter((l) => l.startsWith(`storm/${n}/`)).length;
      const what = `${n}: ${runs.length} runs (${intervalRuns.length} on the interval), ${ev.length} log lines, ${mqtt} MQTT messages in ${HOLD_MS / 1000} s`;
      process.stdout.write(`  ${what}\n`);
      assert.ok(runs.length <= 60, what);
      assert.ok(ev.length <= 400, what);
      assert.ok(mqtt <= 150, what);
      assert.ok(intervalRuns.length >= 10, `${what}: the interval goes on whatever the last run left`);
    }
    assert.ok(published.some((l) => l.startsWith('storm/storm-1/status')), 'the blocked device still reports');

    // one fix commit (and the lost repository back): every device applies it
    renameSync(remote2 + '.away', remote2);
    const c3 = await commit(fleetYaml({ storm: 'ok', stormOverride: false, retry: 'ok', lost: true }), ['SUPABASE_URL', 'MEILI_*'], 'fix');
    for (const n of names) await by[n]!.next((e) => isApply(e) && e.commit === c3 && e.result === 'ok', `${n} applies the fix commit`, marks[n], 30_000);
    await waitFor(async () => {
      const r = await fleetStatus(['--broker', url, '--auth', creds, '--repo', remote], genv);
      return ['storm-1', 'retry-1', 'lost-1', 'git-1'].every((n) => r.devices[n]?.result === 'converged' && r.devices[n]?.commit === c3);
    }, 'fleet status shows the fixed devices converged on the fix commit', 30_000);
  } finally {
    await Promise.all(watchers.map((w) => w.stop()));
    sub?.kill();
    await broker?.stop();
    t.cleanup();
  }
});

test.run();
