// The differential runner: one case of test/fixtures/upstream/cases.json run with either CLI, upstream's
// (`python3 -m pmoves.tools.mini_cli` from an upstream checkout) or this one (`pmoves mini`), in the same
// sandbox: a copy of test/fixtures/upstream/checkout (upstream's own files, recorded from its checkout),
// a fresh HOME, stdin from the case or /dev/null, and stand-ins on PATH for the tools that must not run
// for real. It records stdout, stderr and exit code of each step, the files the case names (bytes as
// text or base64, and mode), whole trees (path, mode, sha256) and the stand-ins' argv log, with the
// sandbox's path written as <ROOT> and HOME's as <HOME>.
//
// scripts/record-upstream.sh runs `node dist/test/upstream-runner.js record UPSTREAM_DIR` to write
// test/fixtures/upstream/recorded/; test/upstream-differential.test.ts runs the same cases here.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixtureDir = path.join(repo, 'test', 'fixtures', 'upstream');
export const recordedDir = path.join(fixtureDir, 'recorded');
const STANDINS = ['tailscale', 'apt-get', 'dnf', 'yum', 'brew', 'uv', 'sudo', 'systemctl', 'docker'];

export interface Step {
  args: string[];
  /** This CLI's spelling where upstream's reads a terminal this one needs a flag for. */
  project_args?: string[];
  stdin?: string;
}
export interface Case {
  id: string;
  about: string;
  setup: string;
  steps: Step[];
  env?: Record<string, string>;
  files?: string[];
  tree?: string[];
  log?: boolean;
  /** The checkout sits in another git repository and has no .git of its own. */
  nest?: boolean;
  /** Run the steps in this sub-folder of the checkout. */
  cwd?: string;
}
export interface StepResult {
  args: string[];
  stdout: string;
  stderr: string;
  rc: number;
}
export interface FileRecord {
  mode: string;
  text?: string;
  b64?: string;
}
export interface Recorded {
  id: string;
  steps: StepResult[];
  files: Record<string, FileRecord | null>;
  tree: Record<string, [string, string, string][]>;
  log: string | null;
}
export type Cli = { kind: 'upstream'; dir: string; python: string } | { kind: 'project' };

export function loadCases(): { help_paths: string[]; cases: Case[] } {
  return JSON.parse(readFileSync(path.join(fixtureDir, 'cases.json'), 'utf8')) as { help_paths: string[]; cases: Case[] };
}

/** The help case: every upstream command path with --help (exit code and the usage line's command). */
export function helpCase(paths: string[]): Case {
  return { id: 'help', about: 'command paths', setup: '', steps: paths.map((p) => ({ args: [...p.split(' '), '--help'] })) };
}

function copyPython(from: string, to: string): void {
  // upstream's code, only for running it: never committed into the fixtures
  for (const rel of ['pmoves/__init__.py', 'pmoves/services', 'pmoves/tools', 'pmoves/chit', 'pmoves/scripts']) {
    const src = path.join(from, rel);
    if (!existsSync(src)) continue;
    cpSync(src, path.join(to, rel), { recursive: true, filter: (s) => statSync(s).isDirectory() || s.endsWith('.py') || s.endsWith('.sh') });
  }
}

function fileRecord(file: string, norm: (s: string) => string): FileRecord | null {
  if (!existsSync(file)) return null;
  const st = statSync(file);
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
  if (st.isDirectory()) return { mode, text: '(folder)' };
  const data = readFileSync(file);
  const text = data.toString('utf8');
  return Buffer.from(text, 'utf8').equals(data) ? { mode, text: norm(text) } : { mode, b64: data.toString('base64') };
}

function treeRecord(dir: string): [string, string, string][] {
  const out: [string, string, string][] = [];
  const walk = (d: string, rel: string) => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d).sort()) {
      const full = path.join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = statSync(full);
      if (st.isDirectory()) walk(full, r);
      else out.push([r, (st.mode & 0o777).toString(8).padStart(4, '0'), createHash('sha256').update(readFileSync(full)).digest('hex')]);
    }
  };
  walk(dir, '');
  return out;
}

function spawnAsync(cmd: string, argv: string[], o: { cwd: string; env: Record<string, string>; input: string }): Promise<{ stdout: string; stderr: string; status: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, argv, { cwd: o.cwd, env: o.env });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, status: code ?? -1 });
    });
    p.stdin.on('error', () => {}); // a CLI that never reads its stdin
    p.stdin.end(o.input);
  });
}

/** Run one case with one CLI. */
export async function runCase(c: Case, cli: Cli): Promise<Recorded> {
  const tmp = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'pmoves-diff-')));
  try {
    const root = c.nest ? path.join(tmp, 'outer', 'checkout') : path.join(tmp, 'checkout');
    if (c.nest) mkdirSync(path.join(tmp, 'outer', '.git'), { recursive: true });
    cpSync(path.join(fixtureDir, 'checkout'), root, { recursive: true });
    if (cli.kind === 'upstream') copyPython(cli.dir, root);
    const home = path.join(tmp, 'home');
    const bin = path.join(tmp, 'bin');
    mkdirSync(home);
    mkdirSync(bin);
    for (const t of STANDINS) symlinkSync(path.join(fixtureDir, 'standins', 'standin.sh'), path.join(bin, t));
    const log = path.join(tmp, 'standins.log');
    const PATH = `${bin}:${process.env.PATH ?? ''}`;
    // upstream's join runs `bash -lc`, and Debian's /etc/profile resets PATH: put the stand-ins back
    writeFileSync(path.join(home, '.bash_profile'), `export PATH=${bin}:$PATH\n`);
    const env: Record<string, string> = { PATH, HOME: home, LANG: 'C.UTF-8', STANDIN_LOG: log, IN: path.join(fixtureDir, 'inputs'), NO_COLOR: '1', ...c.env };
    if (c.setup) {
      const r = spawnSync('bash', ['-c', `set -e; ${c.setup}`], { cwd: root, env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`case ${c.id}: setup failed: ${r.stderr}`);
    }
    const norm = (s: string) => s.split(root).join('<ROOT>').split(home).join('<HOME>');
    const steps: StepResult[] = [];
    for (const s of c.steps) {
      const args = cli.kind === 'project' ? (s.project_args ?? s.args) : s.args;
      const [cmd, argv, extra] =
        cli.kind === 'upstream'
          ? [cli.python, ['-m', 'pmoves.tools.mini_cli', ...args], { PYTHONPATH: root }]
          : [process.execPath, [path.join(repo, 'dist', 'src', 'cli.js'), 'mini', ...args], { PMOVES_HOME: path.join(home, '.pmoves') }];
      const r = await spawnAsync(cmd, argv, { cwd: path.join(root, c.cwd ?? '.'), env: { ...env, ...extra }, input: s.stdin ?? '' });
      steps.push({ args: s.args, stdout: norm(r.stdout), stderr: norm(r.stderr), rc: r.status });
    }
    const files: Record<string, FileRecord | null> = {};
    for (const f of c.files ?? []) files[f] = fileRecord(f.startsWith('~/') ? path.join(home, f.slice(2)) : path.join(root, f), norm);
    const tree: Record<string, [string, string, string][]> = {};
    for (const d of c.tree ?? []) tree[d] = treeRecord(path.join(root, d));
    return { id: c.id, steps, files, tree, log: c.log ? (existsSync(log) ? norm(readFileSync(log, 'utf8')) : '') : null };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function readRecorded(id: string): Recorded {
  return JSON.parse(readFileSync(path.join(recordedDir, `${id}.json`), 'utf8')) as Recorded;
}

// `node dist/test/upstream-runner.js record UPSTREAM_DIR [PYTHON] [ID…]`: record upstream's runs.
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1]) && process.argv[2] === 'record') {
  const [dir, python = 'python3', ...only] = process.argv.slice(3);
  if (!dir) throw new Error('usage: upstream-runner.js record UPSTREAM_DIR [PYTHON] [ID…]');
  const { help_paths, cases } = loadCases();
  mkdirSync(recordedDir, { recursive: true });
  for (const c of [helpCase(help_paths), ...cases]) {
    if (only.length && !only.includes(c.id)) continue;
    const rec = await runCase(c, { kind: 'upstream', dir: path.resolve(dir), python });
    writeFileSync(path.join(recordedDir, `${c.id}.json`), JSON.stringify(rec, null, 1) + '\n');
    process.stdout.write(`${c.id}: ${rec.steps.map((s) => s.rc).join(' ')}\n`);
  }
}
