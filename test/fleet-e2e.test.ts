// The fleet end to end: a real mosquitto (with a password), a real bare Git repository with ssh-signed
// commits and fleet.yaml, three devices each a real `watch --git --fleet --report` process with its
// own PMOVES_HOME, hostname override and labels; `fleet status` read with the built CLI.
import { execa } from 'execa';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, tempDir, waitFor } from './helpers.js';
import { fleetStatus, startBroker, type Broker } from './fleet-helpers.js';
import { isApply, startWatch, writeBundle, type WatchProc } from './watch-helpers.js';

const VALUES = { SUPABASE_URL: 'http://127.0.0.1:54321', SUPABASE_KEY: 'fleet-secret-supabase-1', MEILI_MASTER_KEY: 'fleet-secret-meili-2' };
const MQTT_PASSWORD = 'fleet-secret-mqtt-3';

const manifest = (labels: string[]) =>
  ['apiVersion: pmoves.ai/mini/v1', 'secrets:', '  env:', '    bundle: env.cgp.json', '    env_file: ${DEVICE_OUT}/env.shared', `    include_labels: [${labels.map((l) => JSON.stringify(l)).join(', ')}]`, ''].join('\n');

const FLEET = [
  'apiVersion: pmoves.ai/fleet/v1',
  'groups:',
  '  - name: edge',
  '    match: { hostname: "edge-*" }',
  '    manifest: edge/pmoves.mini.yaml',
  '  - name: lab',
  '    match: { labels: { site: lab } }',
  '    manifest: lab/pmoves.mini.yaml',
  '    overrides:',
  '      secrets: { env: { include_labels: ["SUPABASE_URL"] } }',
  '',
].join('\n');

test('three devices from one repository: one group changes, only its devices apply; status over MQTT survives a kill and a broker restart', async () => {
  const t = tempDir('pmoves-fleet-e2e-');
  const gitconfig = path.join(t.dir, 'gitconfig');
  writeFileSync(gitconfig, '[user]\n\tname = Fleet Test\n\temail = fleet@example.invalid\n[init]\n\tdefaultBranch = main\n');
  const genv = { GIT_CONFIG_GLOBAL: gitconfig, GIT_CONFIG_NOSYSTEM: '1' };
  const remote = path.join(t.dir, 'remote.git');
  const work = path.join(t.dir, 'work');
  const git = (args: string[]) => execa('git', args, { cwd: work, env: genv });
  const watchers: WatchProc[] = [];
  let broker: Broker | undefined;
  try {
    // the repository: fleet.yaml + one manifest per group, ssh-signed commits
    await execa('git', ['init', '-q', '--bare', '-b', 'main', remote], { env: genv });
    await execa('git', ['clone', '-q', remote, work], { env: genv });
    const key = path.join(t.dir, 'signing_key');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fleet@example.invalid', '-f', key]);
    const pub = readFileSync(key + '.pub', 'utf8').trim().split(' ');
    const allowed = path.join(t.dir, 'allowed_signers');
    writeFileSync(allowed, `fleet@example.invalid ${pub[0]} ${pub[1]}\n`);
    await git(['config', 'gpg.format', 'ssh']);
    await git(['config', 'user.signingkey', `${key}.pub`]);
    for (const g of ['edge', 'lab']) {
      mkdirSync(path.join(work, g));
      writeBundle(path.join(work, g, 'env.cgp.json'), VALUES);
    }
    writeFileSync(path.join(work, 'fleet.yaml'), FLEET);
    const commit = async (edge: string[], lab: string[], msg: string) => {
      writeFileSync(path.join(work, 'edge', 'pmoves.mini.yaml'), manifest(edge));
      writeFileSync(path.join(work, 'lab', 'pmoves.mini.yaml'), manifest(lab));
      await git(['add', '-A']);
      await git(['commit', '-q', '-S', '-m', msg]);
      await git(['push', '-q', 'origin', 'main']);
      return (await git(['rev-parse', 'HEAD'])).stdout.trim();
    };
    const c1 = await commit(['SUPABASE_*'], ['SUPABASE_*'], 'first');

    // the broker, with a password; the devices read theirs from a CHIT bundle
    const bdir = path.join(t.dir, 'broker');
    mkdirSync(bdir);
    broker = await startBroker(bdir, { users: { device: MQTT_PASSWORD } });
    const creds = path.join(t.dir, 'mqtt.cgp.json');
    writeBundle(creds, { MQTT_USERNAME: 'device', MQTT_PASSWORD });
    const url = broker.url('fleet-test');
    const status = (extra: string[] = []) => fleetStatus(['--broker', url, '--auth', creds, '--repo', remote, ...extra], genv);

    // three devices: own PMOVES_HOME, hostname override, labels
    const devices = [
      { name: 'edge-1', labels: ['site=field'] },
      { name: 'edge-2', labels: ['site=field', 'ram=8g'] },
      { name: 'lab-1', labels: ['site=lab'] },
    ].map((d) => ({ ...d, home: path.join(t.dir, d.name, 'home'), out: path.join(t.dir, d.name, 'out') }));
    for (const d of devices) {
      assert.is((await cli(['mini', 'device', 'hostname', d.name], { home: d.home })).exitCode, 0);
      const l = await cli(['mini', 'device', 'label', ...d.labels], { home: d.home });
      assert.is(l.exitCode, 0, String(l.stderr));
    }
    const plan = await cli(['mini', 'fleet', 'plan', '-f', path.join(work, 'fleet.yaml')], { home: devices[2]!.home, env: { DEVICE_OUT: '/nonexistent' } });
    assert.match(String(plan.stdout), /lab-1 \(this device.*\n\s+group:\s+lab /);
    const byName: Record<string, WatchProc> = {};
    for (const d of devices) {
      const w = startWatch(
        ['--git', remote, '--fleet', '--verify-signatures', '--allowed-signers', allowed, '--interval', '300ms', '--min-backoff', '200ms', '--max-backoff', '1s', '--report', url, '--report-auth', creds, '--listen', '127.0.0.1:0'],
        { home: d.home, cwd: t.dir, env: { ...genv, DEVICE_OUT: d.out } },
      );
      watchers.push(w);
      byName[d.name] = w;
    }
    const keys = (name: string) => readFileSync(path.join(t.dir, name, 'out', 'env.shared'), 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0]);
    for (const d of devices) {
      const w = byName[d.name]!;
      const ev = await w.next((e) => e.event === 'fleet' && e.action === 'group', `${d.name} picks its group`);
      assert.is(ev.group, d.name.startsWith('edge') ? 'edge' : 'lab');
      await w.next((e) => isApply(e) && e.result === 'ok' && e.commit === c1, `${d.name} converges to the first commit`);
      await w.next((e) => e.event === 'report' && e.action === 'connected', `${d.name} connects to the broker`);
    }
    assert.equal(keys('edge-1'), ['SUPABASE_KEY', 'SUPABASE_URL']);
    assert.equal(keys('lab-1'), ['SUPABASE_URL'], 'the lab group\'s override (lists replace) is applied');

    type S = Awaited<ReturnType<typeof status>>;
    let s: S = (await waitFor<S | null>(async () => {
      const r = await status();
      return Object.values(r.devices).filter((x) => x.commit === c1 && x.result === 'converged' && x.online === 'online').length === 3 ? r : null;
    }, 'three devices converged on the first commit in fleet status', 90_000))!;
    assert.is(s.head, c1);
    assert.is(s.devices['edge-1'].group, 'edge');
    assert.is(s.devices['lab-1'].group, 'lab');
    assert.ok(!s.devices['edge-2'].behind);

    // one commit changes the edge group's manifest only
    const marks = Object.fromEntries(devices.map((d) => [d.name, byName[d.name]!.mark()]));
    const c2 = await commit(['SUPABASE_*', 'MEILI_*'], ['SUPABASE_*'], 'edge: add meili');
    const behind = await status();
    assert.is(behind.head, c2);
    for (const n of ['edge-1', 'edge-2']) {
      const ev = await byName[n]!.next((e) => isApply(e) && e.commit === c2, `${n} applies the edge change`, marks[n]);
      assert.is(ev.result, 'ok');
      assert.is(ev.changed, 1);
      assert.equal(keys(n), ['MEILI_MASTER_KEY', 'SUPABASE_KEY', 'SUPABASE_URL']);
    }
    const lab = await byName['lab-1']!.next((e) => isApply(e) && e.commit === c2, 'lab-1 runs on the new commit', marks['lab-1']);
    assert.is(lab.result, 'no-changes', 'the lab group did not change: nothing applied');
    assert.is(lab.changed, 0);
    assert.equal(keys('lab-1'), ['SUPABASE_URL']);
    s = (await waitFor<S | null>(async () => {
      const r = await status();
      return Object.values(r.devices).every((x) => x.commit === c2 && !x.behind) && Object.keys(r.devices).length === 3 ? r : null;
    }, 'every device on the new commit in fleet status', 90_000))!;
    const table = await cli(['mini', 'fleet', 'status', '--broker', url, '--auth', creds, '--repo', remote], { env: genv });
    assert.is(table.exitCode, 0, String(table.stderr));
    assert.match(String(table.stdout), new RegExp(`edge-1\\s+edge\\s+${c2.slice(0, 12)}\\s+converged\\s+\\d+s\\s+online`));
    assert.match(String(table.stdout), /3 device\(s\): 3 converged, 0 failed, 0 blocked; 3 online, 0 offline; head [0-9a-f]{12}, 0 behind/);

    // killing a device: the broker publishes its last will
    await byName['lab-1']!.stop();
    s = (await waitFor<S | null>(async () => {
      const r = await status();
      return r.devices['lab-1']?.online === 'offline' ? r : null;
    }, 'lab-1 offline', 90_000))!;
    assert.is(s.devices['lab-1'].commit, c2, 'its last status stays');
    assert.is(s.devices['edge-1'].online, 'online');

    // the broker stops; the devices keep converging (a new commit lands meanwhile); it comes back
    await broker.stop();
    const m2 = Object.fromEntries(['edge-1', 'edge-2'].map((n) => [n, byName[n]!.mark()]));
    const c3 = await commit(['MEILI_*'], ['SUPABASE_*'], 'edge: only meili');
    for (const n of ['edge-1', 'edge-2']) {
      await byName[n]!.next((e) => isApply(e) && e.commit === c3 && e.result === 'ok', `${n} applies while the broker is down`, m2[n]);
      assert.equal(keys(n), ['MEILI_MASTER_KEY']);
    }
    await broker.start();
    s = (await waitFor<S | null>(async () => {
      const r = await status();
      return r.devices['edge-1']?.commit === c3 && r.devices['edge-2']?.commit === c3 && r.devices['edge-1'].online === 'online' ? r : null;
    }, 'the edge devices\' final status after the broker restart', 90_000))!;
    assert.is(s.devices['lab-1'].online, 'offline');
    assert.is(s.devices['lab-1'].commit, c2, 'the killed device\'s last status survived the restart');
    assert.is(s.devices['lab-1'].behind, true);
    assert.is(s.devices['edge-2'].result, 'converged');

    // never a secret value in a message
    for (const v of [...Object.values(VALUES), MQTT_PASSWORD]) assert.not.ok(s.raw.includes(v), 'no secret value in the status');
    const sub = await execa('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(broker.port), '-u', 'device', '-P', MQTT_PASSWORD, '-t', 'fleet-test/#', '-v', '-W', '2'], { reject: false, stdin: 'ignore' });
    assert.match(String(sub.stdout), /fleet-test\/edge-1\/status \{/);
    for (const v of [...Object.values(VALUES), MQTT_PASSWORD]) assert.not.ok(String(sub.stdout).includes(v), 'no secret value on the broker');

    // a clean stop says offline itself
    assert.is(await byName['edge-1']!.term(), 0);
    s = (await waitFor<S | null>(async () => {
      const r = await status();
      return r.devices['edge-1']?.online === 'offline' ? r : null;
    }, 'edge-1 offline after SIGTERM', 90_000))!;
    assert.is(s.devices['edge-1'].commit, c3);
    for (const w of watchers) for (const e of w.events) assert.not.ok(JSON.stringify(e).includes(MQTT_PASSWORD), 'no secret in the watch log');
  } finally {
    for (const w of watchers) await w.stop();
    await broker?.stop();
    t.cleanup();
  }
});

test.run();
