// The page in a real browser: headless Chromium (Debian's `chromium`, driven by puppeteer-core) against
// a real `watch --ui` daemon converging a small stack on the test engine and a secret, and a fleet of
// three devices on a real mosquitto: one a real device (its own `watch --report`, labels from its
// device.yaml), two whose retained status and online messages are published here in the reporter's
// format (a failed one, and an offline one that comes back). Checks the DOM, a
// manifest edit followed live without reloading, a device changing live, the filters, a rollback
// through the page with consent (cancel, a stale plan refused, then confirmed), a canary secret in no
// page, snapshot, graph or event stream, no CSP violation and no request leaving the tool, and an axe
// scan without serious violations. Screenshots are checked not blank; with PMOVES_UI_SCREENSHOTS=DIR
// they are also written there (README's come from `PMOVES_UI_SCREENSHOTS=docs/img`).
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'puppeteer-core';
import { cli, freePort, repoRoot, tempDir } from './helpers.js';
import { startBroker, type Broker } from './fleet-helpers.js';
import { startWatch, writeBundle, type WatchProc } from './watch-helpers.js';

const CANARY = 'canary-ui-5e1d7c93a04b86f2';
const IMAGE = 'pmoves-test/busybox:latest';
const tmp = tempDir('pmoves-ui-browser-');
const home = path.join(tmp.dir, 'home');
const manifest = path.join(tmp.dir, 'pmoves.mini.yaml');
const project = `pmui-${process.pid}-${Date.now().toString(36)}`;
const prefix = `uitest${process.pid}`;
const chromium = process.env.PMOVES_CHROMIUM ?? (process.env.PATH ?? '').split(path.delimiter).flatMap((d) => ['chromium', 'chromium-browser'].map((n) => path.join(d, n))).find((p) => existsSync(p));

let broker: Broker | undefined;
let w: WatchProc | undefined;
let device: WatchProc | undefined;
let browser: Browser | undefined;
let page: Page;
let base = '';
let sse = '';
let sseReq: http.ClientRequest | undefined;
const consoleErrors: string[] = [];
const outside: string[] = [];

const manifestText = (more: boolean) =>
  [
    'apiVersion: pmoves.ai/mini/v1',
    'secrets:',
    '  env:',
    '    bundle: env.cgp.json',
    '    env_file: out/env.shared',
    ...(more ? ['  more:', '    bundle: env.cgp.json', '    env_file: out/more.env'] : []),
    'stacks:',
    '  app:',
    `    project: ${project}`,
    '    files: [docker-compose.yml]',
    '    env_files: [out/env.shared]',
    '    depends_on: [secrets.env]',
    '',
  ].join('\n');

/** Distinct byte values of a PNG's decoded image data: a blank image has a handful. */
function pngVariety(png: Buffer): number {
  assert.is(png.subarray(1, 4).toString(), 'PNG');
  const idat: Buffer[] = [];
  for (let i = 8; i < png.length; ) {
    const len = png.readUInt32BE(i);
    if (png.subarray(i + 4, i + 8).toString() === 'IDAT') idat.push(png.subarray(i + 8, i + 8 + len));
    i += 12 + len;
  }
  return new Set(inflateSync(Buffer.concat(idat))).size;
}

async function shot(name: string, el: string): Promise<void> {
  const handle = (await page.$(el))!;
  const png = Buffer.from(await handle.screenshot({ type: 'png' }));
  assert.ok(pngVariety(png) > 40, `${name}: the screenshot looks blank`);
  const dir = process.env.PMOVES_UI_SCREENSHOTS;
  if (dir) {
    mkdirSync(path.resolve(repoRoot, dir), { recursive: true });
    writeFileSync(path.resolve(repoRoot, dir, `ui-${name}.png`), png);
  }
}

const text = (sel: string) => page.$eval(sel, (e) => (e as HTMLElement).innerText);
const rows = (sel: string) => page.$$eval(sel, (es) => es.map((e) => ({ ...(e as HTMLElement).dataset })));

async function publishDevices(devices: { id: string; group: string; result: string; online: string; labels: Record<string, string>; reason?: string }[]) {
  const { connectAsync } = await import('mqtt');
  const c = await connectAsync(`mqtt://127.0.0.1:${broker!.port}`, { username: 'fleet', password: 'fleet-pass', clientId: `ui-test-${process.pid}` });
  for (const d of devices) {
    const status = {
      v: 1, device: d.id, hostname: d.id, group: d.group, labels: d.labels, profile: null, commit: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678', generation: 3,
      result: d.result, ...(d.reason ? { reason: d.reason } : {}), counts: { added: 0, changed: 0, destroyed: 0, failed: d.result === 'failed' ? 1 : 0, excluded: 0 },
      failing: d.result === 'failed' ? [{ address: 'stacks.vision', reason: 'compose up failed: no such image' }] : [], last_apply: new Date().toISOString(), time: new Date().toISOString(),
    };
    await c.publishAsync(`${prefix}/${d.id}/status`, JSON.stringify(status), { retain: true, qos: 1 });
    await c.publishAsync(`${prefix}/${d.id}/online`, d.online, { retain: true, qos: 1 });
  }
  await c.endAsync();
}

async function cleanupProject(): Promise<void> {
  const ids = (await execa('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`], { reject: false })).stdout.split('\n').filter(Boolean);
  if (ids.length) await execa('docker', ['rm', '-f', ...ids], { reject: false });
  const nets = (await execa('docker', ['network', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`], { reject: false })).stdout.split('\n').filter(Boolean);
  if (nets.length) await execa('docker', ['network', 'rm', ...nets], { reject: false });
}

test.before(async () => {
  if (!chromium) throw new Error('no Chromium: apt-get install chromium (scripts/test-setup.sh), or set PMOVES_CHROMIUM');
  writeFileSync(path.join(tmp.dir, 'docker-compose.yml'), ['services:', '  app:', `    image: ${IMAGE}`, '    init: true', '    command: ["sleep", "2147483647"]', '    environment:', '      SERVICE_KEY: ${SUPABASE_SERVICE_ROLE_KEY}', ''].join('\n'));
  writeBundle(path.join(tmp.dir, 'env.cgp.json'), { SUPABASE_SERVICE_ROLE_KEY: CANARY });
  writeBundle(path.join(tmp.dir, 'mqtt.cgp.json'), { MQTT_USERNAME: 'fleet', MQTT_PASSWORD: 'fleet-pass' });
  writeFileSync(manifest, manifestText(false));
  const bdir = path.join(tmp.dir, 'broker');
  mkdirSync(bdir);
  broker = await startBroker(bdir, { users: { fleet: 'fleet-pass' } });
  // jetson-a is a real device: its own watcher (labels from its device.yaml) reports to the broker
  const devDir = path.join(tmp.dir, 'jetson-a');
  mkdirSync(devDir);
  writeBundle(path.join(devDir, 'env.cgp.json'), { OTHER_KEY: 'not-the-canary' });
  writeFileSync(path.join(devDir, 'pmoves.mini.yaml'), ['apiVersion: pmoves.ai/mini/v1', 'secrets:', '  env:', '    bundle: env.cgp.json', '    env_file: out/env.shared', ''].join('\n'));
  const devEnv = { PMOVES_HOSTNAME: 'jetson-a' };
  const label = await cli(['mini', 'device', 'label', 'site=lab'], { home: path.join(devDir, 'home'), env: devEnv });
  assert.is(label.exitCode, 0, String(label.stderr));
  device = startWatch(['-m', path.join(devDir, 'pmoves.mini.yaml'), '--interval', '1h', '--report', `mqtt://127.0.0.1:${broker.port}/${prefix}`, '--report-auth', path.join(tmp.dir, 'mqtt.cgp.json')], { home: path.join(devDir, 'home'), cwd: devDir, env: devEnv });
  await device.next((e) => e.event === 'apply', 'the device converged', 0, 60_000);
  await publishDevices([
    { id: 'jetson-b', group: 'edge', result: 'failed', online: 'online', labels: { site: 'shop' } },
    { id: 'esp32-c', group: 'sensors', result: 'unknown', online: 'offline', labels: { site: 'lab' } },
  ]);
  const port = await freePort();
  w = startWatch(['-m', manifest, '--interval', '1h', '--ui', `127.0.0.1:${port}`, '--ui-broker', `mqtt://127.0.0.1:${broker.port}/${prefix}`, '--ui-broker-auth', path.join(tmp.dir, 'mqtt.cgp.json')], { home, cwd: tmp.dir });
  base = (await w.next((e) => e.event === 'ui', 'the page to listen')).url;
  assert.is(base, `http://127.0.0.1:${port}/`);
  sseReq = http.get(`${base}events`, (res) => res.on('data', (c: Buffer) => (sse += c.toString())));
  sseReq.on('error', () => {});
  await w.next((e) => e.event === 'generation', 'generation 1 recorded', 0, 120_000);
  const puppeteer = (await import('puppeteer-core')).default;
  browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 900 });
  // script errors, and the CSP's refusals; a refused POST (the stale consent below) is expected
  page.on('pageerror', (err) => consoleErrors.push(String(err)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 409/.test(m.text())) consoleErrors.push(m.text());
  });
  page.on('request', (r) => {
    if (!r.url().startsWith(base)) outside.push(r.url());
  });
});

test('machine view: every resource with its status, the plan, the generation, the graph', async () => {
  await page.goto(base);
  await page.waitForFunction(() => document.querySelectorAll('#resources tr[data-address][data-status="in-sync"]').length === 2, { timeout: 60_000 });
  const res = await rows('#resources tbody tr');
  assert.equal(res.filter((r) => r.address).map((r) => `${r.address} ${r.status}`).sort(), ['secrets.env in-sync', 'stacks.app in-sync']);
  assert.equal(res.filter((r) => r.part).map((r) => `${r.part} ${r.status}`), ['stacks.app.app in-sync']); // one line per service
  // the watcher's last run (from watch.json) beside the status
  await page.waitForFunction(() => /in-sync\s+ok/.test((document.querySelector('#resources tr[data-address="stacks.app"]') as HTMLElement).innerText), { timeout: 30_000 });
  assert.match(await text('#plan'), /No changes/);
  assert.equal((await rows('#generations tbody tr')).map((r) => r.generation), ['1']);
  assert.match(await text('#generations tbody tr'), /in force/);
  const img = await page.$eval('#graph', (e) => ({ w: (e as HTMLImageElement).naturalWidth, src: (e as HTMLImageElement).src }));
  assert.ok(img.w > 50, 'the graph is drawn');
  assert.match(await text('#summary'), /watch daemon/);
  await shot('machine', '#machine');
});

test('fleet view: three devices from the retained messages, live updates, filters by group and label', async () => {
  await page.waitForFunction(() => document.querySelectorAll('#devices tr[data-device]').length === 3, { timeout: 30_000 });
  await page.waitForSelector('#devices tr[data-device="jetson-a"][data-result="converged"]', { timeout: 30_000 });
  const devs = await rows('#devices tbody tr');
  assert.equal(devs.map((d) => `${d.device} ${d.result} ${d.online}`), ['esp32-c unknown offline', 'jetson-a converged online', 'jetson-b failed online']);
  assert.match(await text('#devices tr[data-device="jetson-a"]'), /site=lab/); // published by the device's reporter
  assert.match(await text('#devices tr[data-device="jetson-b"]'), /stacks\.vision: compose up failed/);
  await shot('fleet', '#fleet');
  await page.evaluate(() => ((window as unknown as { mark: number }).mark = 42));
  await publishDevices([{ id: 'esp32-c', group: 'sensors', result: 'converged', online: 'online', labels: { site: 'lab' } }]);
  await page.waitForSelector('#devices tr[data-device="esp32-c"][data-online="online"][data-result="converged"]', { timeout: 30_000 });
  await page.select('#group-filter', 'edge');
  assert.equal((await rows('#devices tbody tr')).map((d) => d.device), ['jetson-b']);
  await page.select('#group-filter', '');
  await page.type('#label-filter', 'site=lab');
  assert.equal((await rows('#devices tbody tr')).map((d) => d.device), ['esp32-c', 'jetson-a']);
  assert.is(await page.evaluate(() => (window as unknown as { mark: number }).mark), 42, 'no reload');
});

test('a manifest edit is followed live: the events and the new resource appear without reloading', async () => {
  const from = w!.mark();
  writeFileSync(manifest, manifestText(true));
  await w!.next((e) => e.event === 'generation' && e.generation === 2, 'generation 2', from, 120_000);
  await page.waitForSelector('#resources tr[data-address="secrets.more"][data-status="in-sync"]', { timeout: 60_000 });
  await page.waitForSelector('#events li[data-event="apply"]', { timeout: 30_000 });
  await page.waitForFunction(() => document.querySelectorAll('#generations tr[data-generation]').length === 2, { timeout: 30_000 });
  assert.ok(existsSync(path.join(tmp.dir, 'out', 'more.env')));
  assert.is(await page.evaluate(() => (window as unknown as { mark: number }).mark), 42, 'no reload');
  await shot('events', '#events-view');
});

test('rollback through the page: the plan is shown and asks; cancel changes nothing; a stale consent is refused; yes rolls back', async () => {
  await page.$eval('button[data-generation="1"]', (b) => (b as HTMLButtonElement).click()); // query and click at once: the table is redrawn when a run ends
  await page.waitForSelector('#rollback-dialog[open]');
  assert.match(await text('#rb-plan'), /secrets\.more/);
  assert.match(await text('#rb-plan'), /delete/);
  await shot('rollback', '#rollback-dialog');
  await page.click('#rb-cancel');
  await page.waitForFunction(() => /cancelled/.test(document.getElementById('rollback-result')!.textContent!));
  assert.ok(existsSync(path.join(tmp.dir, 'out', 'more.env')), 'cancel changed nothing');
  // consent to a plan other than the one the rollback would apply: refused, nothing changed
  const stale = await page.evaluate(async () => {
    const csrf = document.querySelector('meta[name="pmoves-csrf"]')!.getAttribute('content')!;
    const r = await fetch('/api/rollback', { method: 'POST', headers: { 'content-type': 'application/json', 'x-pmoves-csrf': csrf }, body: JSON.stringify({ generation: 1, digest: '0'.repeat(32) }) });
    return { status: r.status, body: await r.json() };
  });
  assert.is(stale.status, 409);
  assert.match(stale.body.error, /the plan changed since it was shown/);
  assert.ok(existsSync(path.join(tmp.dir, 'out', 'more.env')), 'a stale consent changed nothing');
  await page.$eval('button[data-generation="1"]', (b) => (b as HTMLButtonElement).click()); // query and click at once: the table is redrawn when a run ends
  await page.waitForSelector('#rollback-dialog[open]');
  await page.click('#rb-confirm');
  await page.waitForFunction(() => /Rolled back to generation 1/.test(document.getElementById('rollback-result')!.textContent!), { timeout: 120_000 });
  assert.not.ok(existsSync(path.join(tmp.dir, 'out', 'more.env')), 'generation 2 added it; generation 1 has it not');
  const hold = JSON.parse(readFileSync(path.join(home, 'history', 'hold.json'), 'utf8'));
  assert.is(hold.generation, 1);
  await page.waitForFunction(() => /in force/.test(document.querySelector('#generations tr[data-generation="1"]')!.textContent!), { timeout: 60_000 });
  await page.waitForSelector('#events li[data-event="rollback"]');
});

test('no secret value anywhere; no CSP violation; nothing loaded from outside; axe finds no serious violation', async () => {
  const snapshot = await (await fetch(`${base}api/snapshot`)).text();
  const svg = await (await fetch(`${base}api/graph.svg`)).text();
  for (const [what, body] of [['page', await page.content()], ['snapshot', snapshot], ['graph', svg], ['event stream', sse]] as const) {
    assert.ok(body.length > 100, `${what} is not empty`);
    assert.not.ok(body.includes(CANARY), `${what} holds the canary`);
  }
  assert.match(sse, /event: log\ndata: \{[^\n]*"event":"apply"/);
  assert.ok(existsSync(path.join(tmp.dir, 'out', 'env.shared')) && readFileSync(path.join(tmp.dir, 'out', 'env.shared'), 'utf8').includes(CANARY), 'the canary was really applied');
  assert.equal(consoleErrors, []);
  assert.equal(outside, []);
  const axeSource = ((await import('axe-core')).default as unknown as { source: string }).source;
  await page.evaluate(axeSource); // through DevTools: the page's CSP (rightly) admits no injected script
  const violations = await page.evaluate(async () => {
    const r = await (window as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }> } }).axe.run();
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  });
  assert.equal(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical'), []);
});

test.after(async () => {
  sseReq?.destroy();
  await browser?.close().catch(() => {});
  for (const d of [w, device]) {
    if (!d) continue;
    await d.term().catch(() => {});
    await d.stop();
  }
  await broker?.stop();
  await cleanupProject();
  tmp.cleanup();
});

test.run();
