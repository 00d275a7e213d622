// Issue 14's figures, each beside its peer measured in the same run (pairs A B A B …, ratio pair by
// pair): start-up against `node -e 0`, no-op plans of stacks against `docker compose up -d` with
// nothing to do (compose v2), plans of 1,000 and 10,000 resources against the empty plan, and
// `npm run quickstart` in a fresh copy of the repository right after `npm ci`.
// BENCH_SPEED_PAIRS sets the number of pairs (default 9).
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliPath as cli, pairs, peakRss, runBare, runCmd, runNode, type PairStats } from './measure.js';
import type { Row } from './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bundle = path.join(root, 'examples', 'quickstart', 'env.cgp.json');
const N = Number(process.env.BENCH_SPEED_PAIRS ?? 9);

const x = (r: number) => `${r.toFixed(2)}×`;
const ms = (v: number) => `${v.toFixed(0)} ms`;

function row(name: string, p: PairStats, peer: string, target: string, ok: boolean | undefined, extra = ''): Row {
  // a missed ratio target says by how much
  const limit = /^≤ ([\d.]+)×/.exec(target);
  if (ok === false && limit) extra = `missed by ${(p.ratio - Number(limit[1])).toFixed(2)}×${extra ? `; ${extra}` : ''}`;
  return {
    name,
    ms: p.a.ms,
    rssMb: p.a.rssMb,
    target,
    ...(ok === undefined ? {} : { ok }),
    note: `${peer}: ${ms(p.b.ms)}; ratio ${x(p.ratio)} (median of ${p.n} pairs)${extra ? `; ${extra}` : ''}`,
  };
}

function secretsManifest(dir: string, n: number): string {
  copyFileSync(bundle, path.join(dir, 'env.cgp.json'));
  const lines = ['apiVersion: pmoves.ai/mini/v1', 'secrets:'];
  for (let i = 0; i < n; i++) lines.push(`  s${i}:`, '    bundle: env.cgp.json', `    env_file: out/env.${i}`);
  const file = path.join(dir, `secrets-${n}.yaml`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function composeVersion(): string | null {
  const r = spawnSync('docker', ['compose', 'version', '--short'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Both sides timed bare (no preload in either), then the measured side's peak RSS from a separate run. */
function barePairs(n: number, args: string[], peer: string[], env: NodeJS.ProcessEnv, cwd?: string): PairStats {
  const p = pairs(n, () => runBare(args, env, cwd), () => runBare(peer, env, cwd));
  return { ...p, a: { ...p.a, rssMb: peakRss(args, env, cwd) } };
}

async function startUp(env: NodeJS.ProcessEnv, dir: string): Promise<Row[]> {
  const v = barePairs(N, [cli, '--version'], ['-e', '0'], env);
  const empty = path.join(dir, 'empty.yaml');
  writeFileSync(empty, 'apiVersion: pmoves.ai/mini/v1\n');
  runNode([cli, 'mini', 'plan', '-m', empty], env); // the state key is made once
  const p = barePairs(N, [cli, 'mini', 'plan', '-m', empty], ['-e', '0'], env);
  return [
    row('start: pmoves --version', v, 'node -e 0', '≤ 1.3× node -e 0', v.ratio <= 1.3),
    row('no-op plan, empty manifest', p, 'node -e 0', '≤ 1.6× node -e 0', p.ratio <= 1.6),
  ];
}

async function scale(env: NodeJS.ProcessEnv, dir: string): Promise<Row[]> {
  const rows: Row[] = [];
  const empty = path.join(dir, 'empty.yaml');
  for (const [n, limit, rssLimit] of [
    [1000, 400, undefined],
    [10000, 3000, 300],
  ] as const) {
    const file = secretsManifest(dir, n);
    const first = runNode([cli, 'mini', 'apply', '--auto-approve', '-m', file], env, dir);
    if (first.status !== 0) throw new Error(`apply of ${n} secrets exited ${first.status}`);
    rows.push({ name: `first apply, ${n} secrets`, ms: first.ms, rssMb: first.rssMb });
    const k = n >= 10000 ? Math.max(3, Math.ceil(N / 3)) : N;
    // The peer plans an empty manifest in a home of its own (in this home, the state's n resources would
    // be planned for removal, so that "empty" plan read all their files too).
    const emptyEnv = { ...env, PMOVES_HOME: path.join(dir, 'empty-home') };
    const p = pairs(k, () => runNode([cli, 'mini', 'plan', '-m', file], env, dir), () => runNode([cli, 'mini', 'plan', '-m', empty], emptyEnv, dir));
    const ok = p.a.ms < limit && (rssLimit === undefined || p.a.rssMb < rssLimit);
    const target = `< ${limit} ms${rssLimit ? `, RSS < ${rssLimit} MB` : ''}`;
    const missed = ok ? '' : `missed: ${p.a.ms >= limit ? `${(p.a.ms - limit).toFixed(0)} ms over` : ''}${rssLimit !== undefined && p.a.rssMb >= rssLimit ? ` RSS ${(p.a.rssMb - rssLimit).toFixed(0)} MB over` : ''}; `;
    rows.push(row(`no-op plan, ${n} secrets`, p, 'empty plan', target, ok, `${missed}${((p.a.ms - p.b.ms) / n * 1000).toFixed(0)} µs per resource over the empty plan`));
    rmSync(path.join(dir, 'out'), { recursive: true, force: true });
    rmSync(path.join(env.PMOVES_HOME!, 'state.json'), { force: true });
  }
  return rows;
}

function composeFile(services: number): string {
  const lines = ['services:'];
  for (let i = 0; i < services; i++) {
    lines.push(`  s${i}:`, '    image: pmoves-test/busybox:latest', '    init: true', '    command: ["sleep", "2147483647"]');
  }
  return lines.join('\n') + '\n';
}

async function stacks(env: NodeJS.ProcessEnv, dir: string): Promise<Row[]> {
  const version = composeVersion();
  if (!version || spawnSync('docker', ['info'], { stdio: 'ignore' }).status !== 0) {
    return [{ name: 'no-op plan of a stack vs docker compose up -d (skipped: no Docker Engine or compose v2)', ms: NaN }];
  }
  const rows: Row[] = [];
  const cases: { name: string; services: number; file: string; target: number }[] = [
    // A plain stack on both sides (no healthcheck): `up -d` of the healthchecked example waits on its
    // service_healthy condition even with nothing to do (827 ms against 127 ms), which flattered the ratio.
    { name: '3-service stack', services: 3, file: '', target: 2 },
    { name: '30-service stack', services: 30, file: '', target: 1 },
  ];
  for (const c of cases) {
    const sd = mkdtempSync(path.join(dir, 'stack-'));
    const project = `pmoves-bench-speed-${c.services}-${process.pid}`;
    const compose = path.join(sd, 'docker-compose.yml');
    if (c.file) copyFileSync(c.file, compose);
    else writeFileSync(compose, composeFile(c.services));
    const e = { ...env, EXAMPLE_WEB_PORT: String(20000 + ((process.pid + c.services) % 20000)) };
    const manifest = path.join(sd, 'pmoves.mini.yaml');
    writeFileSync(manifest, `apiVersion: pmoves.ai/mini/v1\nstacks:\n  bench:\n    files: [docker-compose.yml]\n    project: ${project}\n`);
    try {
      const first = runNode([cli, 'mini', 'apply', '--auto-approve', '-m', manifest], e, sd);
      if (first.status !== 0) throw new Error(`apply of the ${c.name} exited ${first.status}`);
      runNode([cli, 'mini', 'plan', '-m', manifest], e, sd); // warm
      const up = ['compose', '-p', project, '-f', compose, 'up', '-d'];
      runCmd('docker', up, e, sd);
      const p = pairs(N, () => runBare([cli, 'mini', 'plan', '-m', manifest], e, sd), () => runCmd('docker', up, e, sd));
      p.a.rssMb = peakRss([cli, 'mini', 'plan', '-m', manifest], e, sd);
      rows.push(row(`no-op plan, ${c.name}`, p, `docker compose up -d, nothing to do (compose ${version})`, `≤ ${c.target}× compose up -d`, p.ratio <= c.target));
    } finally {
      spawnSync('docker', ['compose', '-p', project, '-f', compose, 'down', '-v', '--remove-orphans'], { env: e, cwd: sd, stdio: 'ignore' });
    }
  }
  return rows;
}

/** `npm run quickstart` in a fresh copy of the repository, after `npm ci` (which builds the bundle once). */
async function quickstart(env: NodeJS.ProcessEnv, dir: string): Promise<Row[]> {
  const copy = path.join(dir, 'clone');
  const files = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' });
  if (files.status !== 0) return [{ name: 'quickstart after npm ci (skipped: not a git checkout)', ms: NaN }];
  for (const f of files.stdout.split('\0').filter(Boolean)) {
    mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
    try {
      cpSync(path.join(root, f), path.join(copy, f));
    } catch {
      /* deleted in the work tree */
    }
  }
  const e = { ...env, PMOVES_HOME: path.join(dir, 'qs-home') };
  const ci = runCmd('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], e, copy);
  const fresh = () => {
    rmSync(e.PMOVES_HOME!, { recursive: true, force: true });
    rmSync(path.join(copy, 'examples', 'quickstart', 'out'), { recursive: true, force: true });
  };
  const p = pairs(
    Math.max(3, Math.ceil(N / 3)),
    () => {
      fresh();
      return runCmd('npm', ['run', 'quickstart'], e, copy);
    },
    () => runCmd('npm', ['run', 'env'], e, copy),
  );
  fresh();
  return [
    {
      ...row('npm run quickstart after npm ci (plan + apply, first run)', p, "npm's own start (npm run env)", '< 2000 ms', p.a.ms < 2000),
      rssMb: undefined,
      note: `npm run env: ${ms(p.b.ms)}; ratio ${x(p.ratio)} (median of ${p.n} pairs); ${ms(p.a.ms - p.b.ms)} over npm's own start; npm ci took ${(ci.ms / 1000).toFixed(0)} s`,
    },
  ];
}

export async function bench(): Promise<Row[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pmoves-bench-speed-'));
  const env = { ...process.env, NO_COLOR: '1', PMOVES_HOME: path.join(dir, 'home') };
  try {
    return [...(await startUp(env, dir)), ...(await stacks(env, dir)), ...(await scale(env, dir)), ...(await quickstart(env, dir))];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
