// --report over TLS (mqtts, CA, client certificate and key made here with openssl, password from a
// CHIT bundle) against a real mosquitto; and a broker that is not there: the watch loop keeps
// converging, apply events beyond --report-queue are dropped and counted in /metrics, and the status
// arrives once the broker starts.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, tempDir, waitFor } from './helpers.js';
import { fleetStatus, freePort, makeCerts, startBroker, type Broker } from './fleet-helpers.js';
import { isApply, startWatch, writeBundle, type WatchProc } from './watch-helpers.js';

const VALUES = { SUPABASE_URL: 'http://127.0.0.1:54321', SUPABASE_KEY: 'report-secret-1' };
const PASSWORD = 'report-secret-mqtt';

function device(dir: string, labels: string[]) {
  writeBundle(path.join(dir, 'env.cgp.json'), VALUES);
  const m = path.join(dir, 'pmoves.mini.yaml');
  const write = (l: string[]) =>
    writeFileSync(m, ['apiVersion: pmoves.ai/mini/v1', 'secrets:', '  env:', '    bundle: env.cgp.json', `    env_file: ${path.join(dir, 'out', 'env.shared')}`, `    include_labels: [${l.map((x) => JSON.stringify(x)).join(', ')}]`, ''].join('\n'));
  write(labels);
  return { manifest: m, write };
}

async function metric(w: WatchProc, name: string): Promise<number> {
  const listen = await w.next((e) => e.event === 'listen', 'listen');
  const text = await (await fetch(`http://${listen.address}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

test('mqtts with a CA, a client certificate and a password from a CHIT bundle', async () => {
  const t = tempDir('pmoves-fleet-tls-');
  let broker: Broker | undefined;
  let w: WatchProc | undefined;
  try {
    const certs = path.join(t.dir, 'certs');
    mkdirSync(certs);
    const c = await makeCerts(certs);
    const bdir = path.join(t.dir, 'broker');
    mkdirSync(bdir);
    broker = await startBroker(bdir, { users: { device: PASSWORD }, tls: c });
    const creds = path.join(t.dir, 'mqtt.cgp.json');
    writeBundle(creds, { MQTT_USERNAME: 'device', MQTT_PASSWORD: PASSWORD });
    const d = device(t.dir, ['SUPABASE_*']);
    const home = path.join(t.dir, 'home');
    await cli(['mini', 'device', 'hostname', 'tls-dev'], { home });
    const url = broker.tlsUrl('secure');
    w = startWatch(['-m', d.manifest, '--report', url, '--report-ca', c.ca, '--report-cert', c.clientCert, '--report-key', c.clientKey, '--report-auth', creds], { home, cwd: t.dir });
    await w.next((e) => isApply(e) && e.result === 'ok', 'first apply');
    await w.next((e) => e.event === 'report' && e.action === 'connected', 'connected over TLS');
    const tls = ['--broker', url, '--ca', c.ca, '--cert', c.clientCert, '--key', c.clientKey, '--auth', creds];
    const s = (await waitFor(async () => {
      const r = await fleetStatus(tls);
      return r.devices['tls-dev']?.result === 'converged' ? r : null;
    }, 'the device over mqtts', 60_000))!;
    assert.is(s.devices['tls-dev'].online, 'online');
    assert.is(s.devices['tls-dev'].commit, null);
    for (const v of [...Object.values(VALUES), PASSWORD]) assert.not.ok(s.raw.includes(v));

    // a CA that did not sign the broker's certificate: refused, one line, exit 1
    const bad = await cli(['mini', 'fleet', 'status', '--broker', url, '--ca', c.otherCa, '--cert', c.clientCert, '--key', c.clientKey, '--auth', creds, '--wait', '5s']);
    assert.is(bad.exitCode, 1);
    assert.match(String(bad.stderr), /^Error: broker mqtts:\/\/127\.0\.0\.1:\d+: .*(certificate|verify)/i);
    assert.not.match(String(bad.stderr), /\n\s+at /);
    // a wrong password (another label of the bundle): refused, never echoed
    const wrong = path.join(t.dir, 'wrong.cgp.json');
    writeBundle(wrong, { MQTT_USERNAME: 'device', MQTT_PASSWORD: 'not-the-password' });
    const denied = await cli(['mini', 'fleet', 'status', '--broker', url, '--ca', c.ca, '--cert', c.clientCert, '--key', c.clientKey, '--auth', wrong, '--wait', '5s']);
    assert.is(denied.exitCode, 1);
    assert.match(String(denied.stderr), /Not authorized|Bad username or password/i);
    assert.not.match(String(denied.stderr), /not-the-password/);
    assert.is(await w.term(), 0);
  } finally {
    await w?.stop();
    await broker?.stop();
    t.cleanup();
  }
});

test('no broker: the loop keeps converging, events beyond the queue are dropped and counted, the status lands when the broker starts', async () => {
  const t = tempDir('pmoves-fleet-outage-');
  let broker: Broker | undefined;
  let w: WatchProc | undefined;
  try {
    const port = await freePort();
    const creds = path.join(t.dir, 'mqtt.cgp.json');
    writeBundle(creds, { MQTT_USERNAME: 'device', MQTT_PASSWORD: PASSWORD });
    const d = device(t.dir, ['SUPABASE_*']);
    const home = path.join(t.dir, 'home');
    await cli(['mini', 'device', 'hostname', 'outage-dev'], { home });
    const url = `mqtt://127.0.0.1:${port}/outage`;
    w = startWatch(['-m', d.manifest, '--debounce', '50ms', '--report', url, '--report-auth', creds, '--report-queue', '2', '--listen', '127.0.0.1:0'], { home, cwd: t.dir });
    await w.next((e) => isApply(e) && e.result === 'ok', 'first apply without a broker');
    const labels = [['SUPABASE_URL'], ['SUPABASE_KEY'], ['SUPABASE_*']];
    for (const l of labels) {
      const m = w.mark();
      d.write(l);
      await w.next((e) => isApply(e) && e.result === 'ok' && e.changed === 1, `apply of ${l}`, m);
    }
    assert.is(await metric(w, 'pmoves_fleet_report_dropped_total'), 2, '4 apply events, a queue of 2');
    assert.is(await metric(w, 'pmoves_fleet_report_queued'), 2);
    assert.is(await metric(w, 'pmoves_fleet_broker_connected'), 0);

    const bdir = path.join(t.dir, 'broker');
    mkdirSync(bdir);
    broker = await startBroker(bdir, { users: { device: PASSWORD }, port });
    await w.next((e) => e.event === 'report' && e.action === 'connected', 'connected once the broker is up', 0, 60_000);
    const s = (await waitFor(async () => {
      const r = await fleetStatus(['--broker', url, '--auth', creds]);
      return r.devices['outage-dev']?.result === 'converged' ? r : null;
    }, 'the status after the broker came up', 60_000))!;
    assert.is(s.devices['outage-dev'].online, 'online');
    await waitFor(async () => (await metric(w!, 'pmoves_fleet_report_queued')) === 0, 'the queue flushed');
    assert.is(await w.term(), 0);
  } finally {
    await w?.stop();
    await broker?.stop();
    t.cleanup();
  }
});

test.run();
