// Fleet figures: 1,000 simulated devices (each a real MQTT client with its last will, publishing a
// real retained status and `online` through a real mosquitto on 127.0.0.1), then `fleet status --json`
// aggregating them (wall time and peak RSS, as a user runs it); and what --report adds to an idle
// watch daemon's RSS (the same manifest watched with and without it). BENCH_FLEET_DEVICES sets the
// device count (default 1000).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { foldEvent, newStatus, topics } from '../src/fleet/status-message.js';
import { median, pairs, runCmd, runNode } from './measure.js';
import type { Row } from './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'dist', 'src', 'cli.js');
const bundle = path.join(root, 'examples', 'quickstart', 'env.cgp.json');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function broker(dir: string): Promise<{ port: number; child: ChildProcess; rssKb(): number }> {
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'max_connections -1', ...(process.getuid?.() === 0 ? ['user root'] : []), ''].join('\n'));
  const child = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((r) => net.connect(port, '127.0.0.1').once('connect', function (this: net.Socket) { this.destroy(); r(true); }).once('error', () => r(false)));
    if (ok) break;
    await sleep(50);
  }
  return { port, child, rssKb: () => rssKb(child.pid!) };
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function simulate(port: number, n: number, prefix: string) {
  const mqtt = await import('mqtt');
  const clients: import('mqtt').MqttClient[] = [];
  const head = 'c0ffee'.padEnd(40, '0');
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, async (_, j) => {
        const id = `sim-${String(i + j).padStart(4, '0')}`;
        const t = topics(prefix, id);
        const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `pmoves-${id}`, clean: true, reconnectPeriod: 0, will: { topic: t.online, payload: Buffer.from('offline'), qos: 1, retain: true } });
        const s = newStatus(id, id, (i + j) % 3 ? 'rpi5-8gb' : 'jetson-orin-nano');
        s.group = (i + j) % 2 ? 'edge' : 'lab';
        foldEvent(s, { event: 'apply', message: '', result: (i + j) % 50 ? 'ok' : 'failed', added: 1, changed: 2, destroyed: 0, failed: (i + j) % 50 ? [] : [{ address: 'stacks.core', error: 'compose up failed: port 8080 in use' }], skipped: [], errors: [], excluded: [], commit: head, ms: 800 });
        foldEvent(s, { event: 'generation', message: '', generation: 3 });
        await c.publishAsync(t.online, 'online', { qos: 1, retain: true });
        await c.publishAsync(t.status, JSON.stringify(s), { qos: 1, retain: true });
        clients.push(c);
      }),
    );
  }
  return { clients, bytes: JSON.stringify(newStatus('sim-0000', 'sim-0000', 'rpi5-8gb')).length };
}

/**
 * `fleet status --json` beside `mosquitto_sub` reading the same retained topics (status and online of
 * n devices: 2n messages), pair by pair in the same run.
 */
function versusSub(port: number, prefix: string, n: number): Row {
  const env = { ...process.env, NO_COLOR: '1', PMOVES_HOME: mkdtempSync(path.join(os.tmpdir(), 'pmoves-bench-fs-')) };
  const p = pairs(
    7,
    () => runNode([cli, 'mini', 'fleet', 'status', '--broker', `mqtt://127.0.0.1:${port}/${prefix}`, '--json'], env),
    () => runCmd('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-t', `${prefix}/+/status`, '-t', `${prefix}/+/online`, '--retained-only', '-C', String(2 * n)], env),
  );
  const version = median(Array.from({ length: 3 }, () => runNode([cli, '--version'], env).ms));
  const bare = median(Array.from({ length: 3 }, () => runNode(['-e', ''], env).ms)); // any node CLI's floor
  rmSync(env.PMOVES_HOME, { recursive: true, force: true });
  return {
    name: `fleet status vs mosquitto_sub, ${n} devices (${2 * n} retained messages)`,
    ms: p.a.ms,
    rssMb: p.a.rssMb,
    target: '≤ 3× mosquitto_sub',
    ok: p.ratio <= 3,
    note: `${p.ratio.toFixed(1)}× mosquitto_sub (${p.b.ms.toFixed(0)} ms), median of ${p.n} pairs; what bounds it: node's own start (\`node -e ''\`) ${bare.toFixed(0)} ms = ${(bare / p.b.ms).toFixed(1)}× mosquitto_sub, \`pmoves --version\` ${version.toFixed(0)} ms`,
  };
}

async function watchRss(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  const child = spawn(process.execPath, [cli, 'mini', 'watch', '--json', ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const wanted = args.includes('--report') ? /"event":"report".*"action":"connected"/ : /"event":"apply"/;
  for (let i = 0; i < 1200 && !(/"event":"apply"/.test(out) && wanted.test(out)); i++) await sleep(50);
  await sleep(5000); // idle: the first run's garbage collected, the client's keepalive going
  const kb = rssKb(child.pid!);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return kb;
}

export async function bench(): Promise<Row[]> {
  const n = Number(process.env.BENCH_FLEET_DEVICES ?? 1000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pmoves-bench-fleet-'));
  const b = await broker(dir);
  const rows: Row[] = [];
  try {
    const idleBroker = b.rssKb();
    const small = await simulate(b.port, 10, 'bench10');
    rows.push(versusSub(b.port, 'bench10', 10));
    await Promise.all(small.clients.map((c) => c.endAsync(true)));
    const sim = await simulate(b.port, n, 'bench');
    rows.push(versusSub(b.port, 'bench', n));
    const brokerKb = b.rssKb();
    const env = { ...process.env, NO_COLOR: '1', PMOVES_HOME: path.join(dir, 'home') };
    const runs = Array.from({ length: 3 }, () => runNode([cli, 'mini', 'fleet', 'status', '--broker', `mqtt://127.0.0.1:${b.port}/bench`, '--json'], env));
    const check = spawnSync(process.execPath, [cli, 'mini', 'fleet', 'status', '--broker', `mqtt://127.0.0.1:${b.port}/bench`, '--json'], { env, encoding: 'utf8', maxBuffer: 1 << 28 });
    const seen = JSON.parse(check.stdout.trim()).devices.length as number;
    const version = median(Array.from({ length: 3 }, () => runNode([cli, '--version'], env).ms));
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    const ms = median(runs.map((r) => r.ms));
    const rss = Math.max(...runs.map((r) => r.rssMb));
    rows.push({ name: `fleet status, ${n} devices through mosquitto (${seen} seen)`, ms, rssMb: rss, target: '< 2000 ms, < 150 MB', ok: ms < 2000 && rss < 150 && seen === n, note: `wall time of the whole command, node start included (\`pmoves --version\` took ${version.toFixed(0)} ms here; load average ${load})` });
    rows.push({ name: `broker: ${n} connected devices with a retained status each`, ms: NaN, rssMb: brokerKb / 1024, note: `mosquitto RSS ${(idleBroker / 1024).toFixed(1)} → ${(brokerKb / 1024).toFixed(1)} MB: ${(((brokerKb - idleBroker) * 1024) / n / 1024).toFixed(1)} KB per device (status ≈ ${sim.bytes + 300} bytes)` });
    await Promise.all(sim.clients.map((c) => c.endAsync(true)));

    // --report's cost in the daemon: the same local manifest watched without and with it
    const wdir = path.join(dir, 'watch');
    mkdirSync(wdir);
    writeFileSync(path.join(wdir, 'env.cgp.json'), readFileSync(bundle));
    writeFileSync(path.join(wdir, 'pmoves.mini.yaml'), ['apiVersion: pmoves.ai/mini/v1', 'secrets:', '  env:', '    bundle: env.cgp.json', `    env_file: ${path.join(wdir, 'out', 'env.shared')}`, ''].join('\n'));
    const without: number[] = [];
    const withReport: number[] = [];
    for (let i = 0; i < 3; i++) {
      without.push(await watchRss(['-m', 'pmoves.mini.yaml'], { ...env, PMOVES_HOME: path.join(dir, `h-a${i}`) }, wdir));
      withReport.push(await watchRss(['-m', 'pmoves.mini.yaml', '--report', `mqtt://127.0.0.1:${b.port}/bench`], { ...env, PMOVES_HOME: path.join(dir, `h-b${i}`) }, wdir));
    }
    const delta = (median(withReport) - median(without)) / 1024;
    rows.push({ name: 'watch daemon idle RSS: --report adds', ms: NaN, rssMb: delta, target: '< 5 MB', ok: delta < 5, note: `median of 3: ${(median(without) / 1024).toFixed(1)} MB without, ${(median(withReport) / 1024).toFixed(1)} MB with --report` });
  } finally {
    b.child.kill('SIGTERM');
    await new Promise((r) => b.child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
