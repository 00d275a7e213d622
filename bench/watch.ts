// Watch mode figures: reaction time (saving a manifest change, in place or by an atomic rename → the
// apply finished, the 50 ms settle included)
// and idle footprint (RSS and CPU of a watcher over an idle window, watching a manifest with a stack,
// secrets and MCP servers). The idle window is BENCH_WATCH_IDLE_S seconds (default 15; the issue's
// figure is over a minute: BENCH_WATCH_IDLE_S=60 npm run bench watch).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './measure.js';
import type { Row } from './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'dist', 'src', 'cli.js');
const bundle = path.join(root, 'examples', 'quickstart', 'env.cgp.json');
const CLK_TCK = 100;

interface Watch {
  child: ChildProcess;
  events: { event: string; [k: string]: any }[];
  next(pred: (e: any) => boolean, ms?: number): Promise<{ e: any; at: bigint }>;
  stop(): Promise<void>;
}

function startWatch(args: string[], env: NodeJS.ProcessEnv, cwd: string): Watch {
  const child = spawn(process.execPath, [cli, 'mini', 'watch', '--json', ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const events: { event: string; [k: string]: any }[] = [];
  const times: bigint[] = [];
  let buf = '';
  let waiters: (() => void)[] = [];
  child.stdout!.on('data', (c: Buffer) => {
    const at = process.hrtime.bigint();
    buf += c.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        events.push(JSON.parse(line));
        times.push(at);
      } catch {
        /* not an event */
      }
    }
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  let seen = 0;
  return {
    child,
    events,
    async next(pred, ms = 120_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        for (; seen < events.length; seen++) {
          if (pred(events[seen])) {
            const i = seen++;
            return { e: events[i], at: times[i]! };
          }
        }
        if (child.exitCode !== null) throw new Error(`watcher exited: ${err.slice(-300)}`);
        if (Date.now() > deadline) throw new Error(`timed out; last events: ${JSON.stringify(events.slice(-3))}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    },
    async stop() {
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(t);
    },
  };
}

function secretsManifest(labels: string[]): string {
  return [
    'apiVersion: pmoves.ai/mini/v1',
    'secrets:',
    '  env:',
    '    bundle: env.cgp.json',
    '    env_file: out/env.shared',
    '  supabase:',
    '    bundle: env.cgp.json',
    '    env_file: out/env.supabase',
    `    include_labels: [${labels.map((l) => JSON.stringify(l)).join(', ')}]`,
    '',
  ].join('\n');
}

async function reaction(env: NodeJS.ProcessEnv, how: 'in-place write' | 'atomic rename'): Promise<Row> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pmoves-bench-watch-'));
  const w0 = { ...env, PMOVES_HOME: path.join(dir, 'home') };
  const file = path.join(dir, 'pmoves.mini.yaml');
  copyFileSync(bundle, path.join(dir, 'env.cgp.json'));
  writeFileSync(file, secretsManifest(['SUPABASE_*']));
  const w = startWatch(['-m', file, '--interval', '1h'], w0, dir);
  try {
    await w.next((e) => e.event === 'apply');
    const samples: number[] = [];
    const runs: number[] = [];
    for (let i = 0; i < 15; i++) {
      const labels = i % 2 ? ['SUPABASE_*'] : ['SUPABASE_*', 'MEILI_*'];
      await new Promise((r) => setTimeout(r, 150)); // not a burst: each save is its own change
      const t0 = process.hrtime.bigint();
      if (how === 'atomic rename') {
        writeFileSync(file + '.tmp', secretsManifest(labels));
        renameSync(file + '.tmp', file);
      } else writeFileSync(file, secretsManifest(labels));
      const { e, at } = await w.next((e) => e.event === 'apply' && e.changed >= 1);
      samples.push(Number(at - t0) / 1e6);
      runs.push(e.ms);
    }
    const ms = median(samples);
    const run = median(runs);
    // 75 ms: the figure with node's fs.watch before chokidar (README's table of 28dd123)
    return {
      name: `watch: save (${how}) → applied, chokidar file events`,
      ms,
      target: '≤ 75 ms (fs.watch before chokidar)',
      ok: ms <= 75,
      note: `${samples.length} edits, min ${Math.min(...samples).toFixed(0)} max ${Math.max(...samples).toFixed(0)} ms; 50 ms settle, then the run itself (load, lock, refresh, plan, apply): median ${run.toFixed(0)} ms, so event + settle took ${(ms - run).toFixed(0)} ms${ms > 75 ? ` (over by ${(ms - 75).toFixed(0)} ms: ${ms - run > 75 ? 'the event and settle' : 'the run itself'})` : ''}`,
    };
  } finally {
    await w.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Private (this process's own) and file-backed shared memory, from smaps_rollup, in MB. */
function smaps(pid: number): { privateMb: number; sharedFileMb: number } {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(t)?.[1] ?? NaN);
  return { privateMb: (kb('Private_Dirty') + kb('Private_Clean')) / 1024, sharedFileMb: kb('Shared_Clean') / 1024 };
}

/** The peer: a node process that loaded what a network daemon loads (http, crypto, child_process) and idles. */
async function nodeIdle(): Promise<{ rssMb: number; privateMb: number; sharedFileMb: number }> {
  const code = "require('http');require('crypto').createHmac('sha256','k').update('x').digest();require('child_process').spawnSync('true');setInterval(()=>{},1e9)";
  const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 2000));
    return { rssMb: procStat(child.pid!).rssKb / 1024, ...smaps(child.pid!) };
  } finally {
    child.kill('SIGKILL');
  }
}

function procStat(pid: number): { cpuTicks: number; rssKb: number; hwmKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]); // utime + stime (own, not children)
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { cpuTicks, rssKb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN), hwmKb: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN) };
}

async function idle(env: NodeJS.ProcessEnv): Promise<Row[]> {
  const seconds = Number(process.env.BENCH_WATCH_IDLE_S ?? 15);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pmoves-bench-watch-idle-'));
  const fakeHome = path.join(dir, 'user');
  mkdirSync(fakeHome);
  const docker = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
  const project = `pmoves-bench-${randomBytes(3).toString('hex')}`;
  const e = { ...env, PMOVES_HOME: path.join(dir, 'home'), HOME: fakeHome, XDG_CONFIG_HOME: '', CODEX_HOME: '' };
  copyFileSync(bundle, path.join(dir, 'env.cgp.json'));
  const mod = (p: string) => path.join(root, 'node_modules', '@modelcontextprotocol', p, 'dist', 'index.js');
  const lines = [secretsManifest(['SUPABASE_*']).trimEnd(), 'mcp_clients: [crush, codex]', 'mcp:', '  memory:', '    command: node', `    args: [${JSON.stringify(mod('server-memory'))}]`, `    env: { MEMORY_FILE_PATH: ${JSON.stringify(path.join(dir, 'memory.jsonl'))} }`, '  everything:', '    command: node', `    args: [${JSON.stringify(mod('server-everything'))}, stdio]`];
  if (docker) {
    writeFileSync(path.join(dir, 'docker-compose.yml'), ['services:', '  app:', '    image: pmoves-test/busybox:latest', '    init: true', '    command: ["sleep", "2147483647"]', ''].join('\n'));
    lines.push('stacks:', '  app:', '    files: [docker-compose.yml]', `    project: ${project}`);
  }
  writeFileSync(path.join(dir, 'pmoves.mini.yaml'), lines.join('\n') + '\n');
  const w = startWatch(['-m', path.join(dir, 'pmoves.mini.yaml')], e, dir);
  try {
    const first = await w.next((x) => x.event === 'apply', 180_000);
    if (first.e.result === 'failed') process.stderr.write(`bench watch: first apply did not converge: ${JSON.stringify(first.e.failed)}\n`);
    await new Promise((r) => setTimeout(r, 2000)); // let the first run's garbage settle
    const pid = w.child.pid!;
    const a = procStat(pid);
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const b = procStat(pid);
    const mem = smaps(pid);
    const peer = await nodeIdle();
    const wall = (Date.now() - t0) / 1000;
    const cpuPct = ((b.cpuTicks - a.cpuTicks) / CLK_TCK / wall) * 100;
    const runs = w.events.filter((x) => x.event === 'trigger').length - 1;
    const what = `${docker ? 'a stack, ' : ''}2 secrets, 2 MCP servers${docker ? '' : ' (no Docker: stack left out)'}`;
    return [
      { name: `watch idle ${seconds}s: RSS at the end (${what})`, ms: first.e.ms, rssMb: b.rssKb / 1024, target: '< 50 MB', ok: b.rssKb / 1024 < 50, note: `ms: the first run; peak RSS incl. it ${(b.hwmKb / 1024).toFixed(0)} MB; RSS at the start of the window ${(a.rssKb / 1024).toFixed(0)} MB; of the RSS at the end, ${mem.privateMb.toFixed(0)} MB is the daemon's own (private) memory and ${mem.sharedFileMb.toFixed(0)} MB clean shared pages (the node executable and libraries, shared with every node process); peer, an idle node with http/crypto/child_process loaded: RSS ${peer.rssMb.toFixed(0)} MB, private ${peer.privateMb.toFixed(0)} MB, shared ${peer.sharedFileMb.toFixed(0)} MB (ratio of RSS ${(b.rssKb / 1024 / peer.rssMb).toFixed(2)}×)` },
      { name: `watch idle ${seconds}s: CPU ms used`, ms: (b.cpuTicks - a.cpuTicks) * 10, note: `${cpuPct.toFixed(2)} % of one core (${(b.cpuTicks - a.cpuTicks) * 10} ms CPU in ${wall.toFixed(0)} s; ${runs} interval run(s), default 60 s interval)`, target: '~0 % (< 1 % of a core)', ok: cpuPct < 1 },
    ];
  } finally {
    await w.stop();
    if (docker) {
      const ids = spawnSync('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      if (ids.length) spawnSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
      const nets = spawnSync('docker', ['network', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      if (nets.length) spawnSync('docker', ['network', 'rm', ...nets], { stdio: 'ignore' });
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function bench(): Promise<Row[]> {
  const env = { ...process.env, NO_COLOR: '1' };
  return [await reaction(env, 'in-place write'), await reaction(env, 'atomic rename'), ...(await idle(env))];
}
