// The page and the graph: first render of the page on loopback (headless Chromium, a warmed `watch
// --ui` daemon), an event from the daemon's log to the page, the RSS the page adds to an idle daemon,
// and `graph --format svg` of upstream's core stack. Each beside a peer measured in the same run.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { cliPath, median, pairs, runNode } from './measure.js';
import type { Row } from './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = process.env.PMOVES_FIXTURES ?? path.resolve(root, '..', 'shared', 'fixtures', 'pmoves');
const bundle = path.join(root, 'examples', 'quickstart', 'env.cgp.json');

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });

interface Daemon {
  child: ChildProcess;
  events: { e: Record<string, any>; at: number }[];
  until(pred: (e: Record<string, any>) => boolean, from?: number): Promise<{ e: Record<string, any>; at: number }>;
  stop(): Promise<void>;
}

function watch(args: string[], env: NodeJS.ProcessEnv, cwd: string): Daemon {
  const child = spawn(process.execPath, [cliPath, 'mini', 'watch', '--json', ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const events: { e: Record<string, any>; at: number }[] = [];
  let buf = '';
  child.stdout!.on('data', (c: Buffer) => {
    const at = performance.timeOrigin + performance.now();
    buf += c.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      try {
        events.push({ e: JSON.parse(buf.slice(0, nl)), at });
      } catch {
        /* not an event */
      }
      buf = buf.slice(nl + 1);
    }
  });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return {
    child,
    events,
    async until(pred, from = 0) {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const hit = events.slice(from).find((x) => pred(x.e));
        if (hit) return hit;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`watch: ${err.slice(-300)}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    async stop() {
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    },
  };
}

const manifestText = (labels: string[]) =>
  ['apiVersion: pmoves.ai/mini/v1', 'secrets:', '  env:', '    bundle: env.cgp.json', '    env_file: out/env.shared', `    include_labels: [${labels.map((l) => JSON.stringify(l)).join(', ')}]`, ''].join('\n');

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

async function pageRows(): Promise<Row[]> {
  const chromium = process.env.PMOVES_CHROMIUM ?? (process.env.PATH ?? '').split(path.delimiter).flatMap((d) => ['chromium', 'chromium-browser'].map((n) => path.join(d, n))).find((p) => existsSync(p));
  if (!chromium) return [{ name: 'ui page (skipped: no chromium)', ms: NaN }];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pmoves-bench-ui-'));
  copyFileSync(bundle, path.join(dir, 'env.cgp.json'));
  const file = path.join(dir, 'pmoves.mini.yaml');
  writeFileSync(file, manifestText(['SUPABASE_*']));
  const env = { ...process.env, NO_COLOR: '1', PMOVES_HOME: path.join(dir, 'home') };
  const port = await freePort();
  const plain = watch(['-m', file, '--interval', '1h'], { ...env, PMOVES_HOME: path.join(dir, 'home-plain') }, dir);
  const w = watch(['-m', file, '--interval', '1h', '--ui', `127.0.0.1:${port}`], env, dir);
  const puppeteer = (await import('puppeteer-core')).default;
  const browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    await plain.until((e) => e.event === 'apply');
    await w.until((e) => e.event === 'apply');
    const base = `http://127.0.0.1:${port}/`;
    const page = await browser.newPage();
    // recorded inside the page (DevTools, not subject to the page's CSP): when the data is drawn, and
    // when each server-sent `log` event arrives (wall clock, as the daemon's event time)
    await page.evaluateOnNewDocument(() => {
      const w = window as unknown as { loadedAt?: number; arrivals: [number, string, string][]; EventSource: typeof EventSource };
      w.arrivals = [];
      new MutationObserver((_m, obs) => {
        if (document.body?.dataset.loaded !== undefined) {
          w.loadedAt = performance.now();
          obs.disconnect();
        }
      }).observe(document, { subtree: true, attributes: true, childList: true });
      const ES = w.EventSource;
      w.EventSource = function (url: string) {
        const es = new ES(url);
        es.addEventListener('log', (m) => {
          const d = JSON.parse((m as MessageEvent).data);
          w.arrivals.push([performance.timeOrigin + performance.now(), d.time, d.event]);
        });
        return es;
      } as unknown as typeof EventSource;
    });
    const loads: number[] = [];
    const snaps: number[] = [];
    for (let i = 0; i < 7; i++) {
      await page.goto(base);
      await page.waitForFunction(() => (window as unknown as { loadedAt?: number }).loadedAt !== undefined);
      loads.push(await page.evaluate(() => (window as unknown as { loadedAt: number }).loadedAt));
      const t0 = performance.now();
      await (await fetch(`${base}api/snapshot`)).text();
      snaps.push(performance.now() - t0);
    }
    // events: 10 saves, each one's `trigger` event, from the daemon's time stamp to the page
    const lat: number[] = [];
    const stdoutLat: number[] = [];
    for (let i = 0; i < 10; i++) {
      const from = w.events.length;
      writeFileSync(file, manifestText(i % 2 ? ['SUPABASE_*'] : ['SUPABASE_*', 'MEILI_*']));
      const t = await w.until((e) => e.event === 'apply', from);
      const trig = w.events.slice(from).find((x) => x.e.event === 'trigger')!;
      await page.waitForFunction((n: number) => (window as unknown as { arrivals: unknown[] }).arrivals.length >= n, {}, 1);
      const arrivals = await page.evaluate(() => (window as unknown as { arrivals: [number, string, string][] }).arrivals.splice(0));
      const a = arrivals.find((x) => x[2] === 'trigger');
      if (a) lat.push(a[0] - Date.parse(a[1]));
      stdoutLat.push(trig.at - Date.parse(trig.e.time));
      void t;
      await new Promise((r) => setTimeout(r, 150));
    }
    // idle RSS: the same manifest, one daemon with the page (loaded 7 times, its event stream open)
    // and one without; after 3 s of quiet, the median of 10 samples over 5 s each
    await new Promise((r) => setTimeout(r, 3000));
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < 10; i++) {
      a.push(rssMb(w.child.pid!));
      b.push(rssMb(plain.child.pid!));
      await new Promise((r) => setTimeout(r, 500));
    }
    const withUi = median(a);
    const without = median(b);
    const first = median(loads);
    const ev = median(lat);
    return [
      { name: 'ui: page first render on loopback (warmed daemon, 1 resource)', ms: first, target: '≤ 300 ms', ok: first <= 300, note: `navigation → data drawn in headless Chromium, median of ${loads.length}; peer: GET /api/snapshot alone ${median(snaps).toFixed(0)} ms` },
      { name: 'ui: event logged by the daemon → in the page (SSE)', ms: ev, target: '≤ 100 ms', ok: ev <= 100, note: `median of ${lat.length} trigger events (ms precision: the event's time stamp); peer: the same event on the daemon's stdout, ${median(stdoutLat).toFixed(1)} ms` },
      { name: 'ui: idle RSS added to the daemon', ms: NaN, rssMb: withUi - without, target: '≤ 5 MB', ok: withUi - without <= 5, note: `watch --ui ${withUi.toFixed(1)} MB (page loaded ${loads.length}×) vs watch ${without.toFixed(1)} MB, same manifest, 3 s after the last run, median of 10 samples over 5 s` },
    ];
  } finally {
    await browser.close().catch(() => {});
    await w.stop();
    await plain.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Upstream's core stack (its compose file and GPU overlay, every profile) with the files it names made empty. */
function coreManifest(dir: string): { file: string; services: number } {
  const compose = path.join(fixtures, 'compose', 'deployment');
  const files = [path.join(compose, 'docker-compose.yml'), path.join(compose, 'docker-compose.gpu.yml')];
  const proj = path.join(dir, 'proj');
  mkdirSync(proj, { recursive: true });
  const names = new Set<string>();
  for (const f of files) {
    const doc = parse(readFileSync(f, 'utf8'), { merge: true, uniqueKeys: false }) as { services?: Record<string, any> };
    for (const [n, s] of Object.entries(doc.services ?? {})) {
      names.add(n);
      const ctx = typeof s?.build === 'string' ? s.build : s?.build?.context;
      if (ctx) mkdirSync(path.resolve(proj, ctx), { recursive: true });
      for (const e of [s?.env_file ?? []].flat()) {
        const p = typeof e === 'string' ? e : e?.path;
        if (p) {
          mkdirSync(path.dirname(path.resolve(proj, p)), { recursive: true });
          writeFileSync(path.resolve(proj, p), '');
        }
      }
    }
  }
  const file = path.join(dir, 'pmoves.mini.yaml');
  writeFileSync(file, ['apiVersion: pmoves.ai/mini/v1', 'stacks:', '  core:', `    files: [${files.map((f) => JSON.stringify(f)).join(', ')}]`, `    project_directory: ${JSON.stringify(proj)}`, '    profiles: [data, workers, gpu, agents, orchestration, tensorzero, monitoring, n8n, yt]', ''].join('\n'));
  return { file, services: names.size };
}

function graphRow(): Row {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pmoves-bench-graph-'));
  try {
    const { file, services } = coreManifest(dir);
    const env = { ...process.env, NO_COLOR: '1', PMOVES_HOME: path.join(dir, 'home') };
    const svg = runNode([cliPath, 'mini', 'graph', '-m', file, '--format', 'svg'], env, dir);
    if (svg.status !== 0) throw new Error('graph --format svg failed on the core stack');
    const p = pairs(5, () => runNode([cliPath, 'mini', 'graph', '-m', file, '--format', 'svg'], env, dir), () => runNode([cliPath, 'mini', 'graph', '-m', file, '--format', 'dot'], env, dir));
    return { name: `graph --format svg, upstream's core stack (${services} services in its files)`, ms: p.a.ms, rssMb: p.a.rssMb, target: '≤ 1 s', ok: p.a.ms <= 1000, note: `peer: graph --format dot (no layout) ${p.b.ms.toFixed(0)} ms; svg/dot ${p.ratio.toFixed(2)}× over ${p.n} pairs` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function bench(): Promise<Row[]> {
  return [graphRow(), ...(await pageRows())];
}
