// The docs runner: the fenced shell blocks that README.md and docs/*.md mark as runnable are run as
// written, in order, one bash per page (so a walkthrough's variables carry from block to block), as
// rustdoc runs the examples in Rust's docs. Markers (an HTML comment on the line before the fence,
// blank lines allowed between):
//
//   <!-- runnable -->                     run this block
//   <!-- runnable: port=1884 -->          … with these documented substitutions (below)
//   <!-- not runnable here: REASON -->    never run (a real Jetson, a GPU, sudo, a synopsis…); counted
//   <!-- output -->                       before a plain fence: lines the runnable block above prints
//
// Every ```sh / ```bash / ```shell block of a page carries one of the first three, so no walkthrough is
// left out silently. The only substitutions are these, and each is written on the page's marker or
// here:
//   - `pmoves` is the built CLI of this checkout (a shim first on PATH), as after `npm link`;
//   - the page runs in a fresh temporary folder, with HOME there too (cwd=repo: a copy of the
//     repository's examples/, profiles/, schemas/, tasks/ and pmoves.mini.yaml.example, and of the
//     paths listed in copy=a,b);
//   - copy=SRC:DEST (with or without cwd=repo): the repository's SRC is copied to DEST in the page's
//     folder, e.g. copy=test/fixtures/upstream/checkout:PMOVES.AI stands in for a clone of upstream;
//   - port=N: the number N in the page's blocks, expected output and copied files becomes a free port;
//   - project=NAME: after the page, that compose project's containers, networks and volumes are
//     removed (what the walkthrough leaves on purpose, such as a named volume, or after a failure);
//   - image=NAME: NAME in the page's blocks and in the files they use becomes the test image
//     pmoves-test/busybox:latest (no registry here);
//   - ollama=MODEL[,MODEL…]: the Ollama-protocol peer (test/ollama-peer.ts, real HTTP on loopback)
//     stands in for a running `ollama serve`, with these models in its registry (a 600 MB weights
//     layer each; pulls report progress, no bytes are stored), and OLLAMA_HOST points at it;
//   - esp32=PATH: a protocol peer of an ESP32-S3's ROM bootloader and flasher stub (test/esp32-peer.ts,
//     4 MB of blank flash) on a socat pseudo-terminal pair stands in for the board; PATH (the page's
//     serial port, e.g. /dev/ttyACM0) in the page's blocks and files becomes the pty's path;
//   - approve=yes: `pmoves mini approve …` runs on a pseudo-terminal (util-linux `script`) where `yes`
//     is typed, as the human at a terminal does (approve reads its answer only from a terminal);
//   - npx=local: `npx [-y] PKG ARGS…` runs PKG's bin from this checkout's node_modules when it is
//     installed there (the MCP reference servers are devDependencies), so nothing is fetched from
//     the registry; any other package goes to the real npx.
// A block fails on the first command that fails (bash -e). Expected output: each line must appear in
// the block's output, in order; `…` matches anything, and commit hashes, clock times and ages match
// any value. After a page, every process it left is stopped: its process group, and each pid named
// in a *.pid file under its folder (daemons that detach, like `mosquitto -d`), and the containers of
// compose projects whose folder is under it.
import { execa } from 'execa';
import { processAlive } from '../src/core/fs.js';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Esp32Peer } from './esp32-peer.js';
import { OllamaPeer, registryModel } from './ollama-peer.js';

export type Marker = { kind: 'runnable'; opts: Record<string, string> } | { kind: 'skip'; reason: string } | { kind: 'none' };

export interface Block {
  page: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  code: string;
  marker: Marker;
  /** Expected output lines (from an <!-- output --> block after it). */
  expect: string[];
}

const SHELL = new Set(['sh', 'bash', 'shell']);
export const TEST_IMAGE = 'pmoves-test/busybox:latest';

/** The shell blocks of a page, with their markers and expected output. Pure. */
export function parsePage(page: string, text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let last: Block | null = null;
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const lang = open[1]!;
    let j = i + 1;
    while (j < lines.length && !/^```\s*$/.test(lines[j]!)) j++;
    const code = lines.slice(i + 1, j).join('\n');
    // the marker: the nearest non-blank line before the fence
    let k = i - 1;
    while (k >= 0 && !lines[k]!.trim()) k--;
    const comment = k >= 0 ? /^<!--\s*(.*?)\s*-->\s*$/.exec(lines[k]!.trim()) : null;
    const c = comment?.[1] ?? '';
    if (SHELL.has(lang)) {
      let marker: Marker = { kind: 'none' };
      const run = /^runnable(?::\s*(.*))?$/.exec(c);
      const skip = /^not runnable here:\s*(.+)$/.exec(c);
      if (run) marker = { kind: 'runnable', opts: Object.fromEntries((run[1] ?? '').split(/\s+/).filter(Boolean).map((kv) => [kv.split('=')[0]!, kv.split('=').slice(1).join('=') || 'true'])) };
      else if (skip) marker = { kind: 'skip', reason: skip[1]! };
      last = { page, line: i + 1, lang, code, marker, expect: [] };
      blocks.push(last);
    } else if (c === 'output' && last?.marker.kind === 'runnable') {
      last.expect.push(...code.split('\n').filter((l) => l.trim()));
    }
    i = j;
  }
  return blocks;
}

const norm = (s: string) => s.trim().replace(/\s+/g, ' ');
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** An expected line as a pattern: `…` anything; hashes, clock times and ages any value. */
export function linePattern(expected: string): RegExp {
  const parts = norm(expected).split(/(…|\b[0-9a-f]{7,40}\b|\b\d\d:\d\d:\d\d\b|\b\d+[smhd]\b)/);
  const src = parts
    .map((p, i) => {
      if (i % 2 === 0) return esc(p);
      if (p === '…') return '.*';
      if (/^[0-9a-f]+$/.test(p)) return '[0-9a-f]{7,40}';
      if (p.includes(':')) return '\\d\\d:\\d\\d:\\d\\d';
      return '\\d+[smhd]';
    })
    .join('');
  return new RegExp(`^${src}$`);
}

/** Expected lines not found (in order) in `output`. */
export function missingLines(expect: string[], output: string): string[] {
  const actual = output.split('\n').map(norm);
  let at = 0;
  const missing: string[] = [];
  for (const e of expect) {
    const re = linePattern(e);
    const found = actual.findIndex((l, i) => i >= at && re.test(l));
    if (found < 0) missing.push(e);
    else at = found + 1;
  }
  return missing;
}

export interface BlockResult {
  block: Block;
  status: 'ok' | 'failed' | 'not-run' | 'skipped';
  output: string;
  reason?: string;
}

export interface RunOptions {
  /** The repository root (for the pmoves shim and cwd=repo). */
  repo: string;
  /** Free ports, one per call. */
  freePort(): Promise<number>;
  tmp: string;
  timeoutMs?: number;
  env?: Record<string, string>;
}

/** Run a page's runnable blocks in one bash, in order. */
export async function runPage(blocks: Block[], o: RunOptions): Promise<BlockResult[]> {
  const runnable = blocks.filter((b) => b.marker.kind === 'runnable');
  const results: BlockResult[] = blocks.filter((b) => b.marker.kind !== 'runnable').map((b) => ({ block: b, status: 'skipped' as const, output: '', reason: b.marker.kind === 'skip' ? b.marker.reason : 'no marker' }));
  if (!runnable.length) return results;
  const opts: Record<string, string> = Object.assign({}, ...runnable.map((b) => (b.marker as { opts: Record<string, string> }).opts));
  const work = path.join(o.tmp, 'work');
  const bin = path.join(o.tmp, 'bin');
  mkdirSync(work, { recursive: true });
  mkdirSync(bin, { recursive: true });
  const cliJs = path.join(o.repo, 'dist', 'src', 'cli.js');
  // approve=yes: `pmoves mini approve …` gets a pseudo-terminal (script) on which `yes` is typed
  const approve = opts.approve === 'yes' ? `if [ "$1 $2" = "mini approve" ]; then printf 'yes\\n' | script -qec "$(printf '%q ' "${process.execPath}" "${cliJs}" "$@")" /dev/null; exit $?; fi\n` : '';
  writeFileSync(path.join(bin, 'pmoves'), `#!/bin/bash\n${approve}exec "${process.execPath}" "${cliJs}" "$@"\n`);
  chmodSync(path.join(bin, 'pmoves'), 0o755);
  if (opts.npx === 'local') writeNpxShim(bin, o.repo);
  const copies = [...(opts.cwd === 'repo' ? ['examples', 'profiles', 'schemas', 'tasks', 'pmoves.mini.yaml.example'] : []), ...(opts.copy?.split(',') ?? [])];
  for (const c of copies) {
    const [from, to = from] = c.split(':') as [string, string?];
    if (opts.cwd !== 'repo' && !c.includes(':')) continue; // a plain path is copied only with cwd=repo
    if (existsSync(path.join(o.repo, from))) cpSync(path.join(o.repo, from), path.join(work, to), { recursive: true });
  }
  // substitutions
  const subst: [string, string][] = [];
  if (opts.port) for (const p of opts.port.split(',')) subst.push([p, String(await o.freePort())]);
  if (opts.image) for (const i of opts.image.split(',')) subst.push([i, TEST_IMAGE]);
  const apply = (s: string) => subst.reduce((acc, [from, to]) => acc.split(from).join(to), s);
  // the peers that stand in for hardware and services: stopped after the page, whatever happens
  const peers: { stop(): Promise<void> }[] = [];
  const env: Record<string, string> = {};
  let r: Awaited<ReturnType<typeof execa>>;
  try {
    if (opts.esp32) {
      const esp32 = await Esp32Peer.start(o.tmp);
      peers.push(esp32);
      subst.push([opts.esp32, esp32.hostPath]);
    }
    if (opts.ollama) {
      const ollama = new OllamaPeer();
      peers.push(ollama);
      for (const m of opts.ollama.split(',')) ollama.addRegistry(m, registryModel(m, 600_000_000));
      env.OLLAMA_HOST = await ollama.start();
    }
    if (subst.length) substituteFiles(work, apply);
    const script = ['set -e', `cd ${JSON.stringify(work)}`, ...runnable.flatMap((b, i) => [`echo "@@block ${i}@@"`, apply(b.code)]), 'echo "@@end@@"', ''].join('\n');
    const file = path.join(o.tmp, 'page.sh');
    writeFileSync(file, script);
    const child = execa('bash', [file], {
      cwd: work,
      reject: false,
      stdin: 'ignore',
      all: true,
      detached: true,
      timeout: o.timeoutMs ?? 240_000,
      env: { PATH: `${bin}:${process.env.PATH}`, HOME: o.tmp, LANG: 'C.UTF-8', NO_COLOR: '1', ...env, ...o.env },
      extendEnv: false,
    });
    try {
      r = await child;
    } finally {
      await stopLeftovers(child.pid, o.tmp, opts.project ? opts.project.split(',') : []);
    }
  } finally {
    for (const p of peers) await p.stop();
  }
  const all = String(r.all ?? '');
  const pieces = all.split(/^@@(block \d+|end)@@$/m);
  const outputs = new Map<number, string>();
  let reached = -1;
  for (let i = 1; i < pieces.length; i += 2) {
    const m = /^block (\d+)$/.exec(pieces[i]!);
    if (m) {
      reached = Number(m[1]);
      outputs.set(reached, pieces[i + 1] ?? '');
    }
  }
  const ended = /^@@end@@$/m.test(all) && r.exitCode === 0;
  runnable.forEach((b, i) => {
    const output = outputs.get(i) ?? '';
    if (i > reached) return results.push({ block: b, status: 'not-run', output, reason: 'an earlier block failed' });
    if (i === reached && !ended) return results.push({ block: b, status: 'failed', output: (pieces[0] ?? '') + output, reason: r.timedOut ? 'timed out' : `exit ${r.exitCode}` });
    const missing = missingLines(b.expect.map(apply), output);
    results.push(missing.length ? { block: b, status: 'failed', output, reason: `expected output not printed:\n    ${missing.join('\n    ')}` } : { block: b, status: 'ok', output });
  });
  return results;
}

/** npx=local: a `npx` first on PATH that runs packages installed in the checkout, else the real npx. */
function writeNpxShim(bin: string, repo: string): void {
  const realNpx = path.join(path.dirname(process.execPath), 'npx');
  const modules = path.join(repo, 'node_modules');
  const script = `#!/bin/sh
yes=
if [ "$1" = "-y" ] || [ "$1" = "--yes" ]; then yes=-y; shift; fi
pkg="$1"
main="$(${JSON.stringify(process.execPath)} -e 'const p=require("path"),f=require("fs");const d=p.join(process.argv[1],process.argv[2]);try{const j=JSON.parse(f.readFileSync(p.join(d,"package.json"),"utf8"));const b=typeof j.bin==="string"?j.bin:Object.values(j.bin||{})[0];if(b)process.stdout.write(p.join(d,b))}catch{}' ${JSON.stringify(modules)} "$pkg" 2>/dev/null)"
if [ -n "$main" ]; then shift; exec ${JSON.stringify(process.execPath)} "$main" "$@"; fi
exec ${JSON.stringify(realNpx)} $yes "$@"
`;
  writeFileSync(path.join(bin, 'npx'), script);
  chmodSync(path.join(bin, 'npx'), 0o755);
}

function substituteFiles(dir: string, apply: (s: string) => string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) substituteFiles(p, apply);
    else if (/\.(ya?ml|json|env)$/.test(e.name)) {
      const s = readFileSync(p, 'utf8');
      const t = apply(s);
      if (t !== s) writeFileSync(p, t);
    }
  }
}

/** The page's process group, and daemons that left it (pid files under its folder); waits until they are gone. */
async function stopLeftovers(pgid: number | undefined, dir: string, projects: string[]): Promise<void> {
  const alive = processAlive;
  const kill = (pid: number, sig: NodeJS.Signals = 'SIGTERM') => {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  };
  const pids: number[] = [];
  if (pgid) pids.push(-pgid);
  const walk = (d: string, depth: number) => {
    if (depth > 4 || !existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules') walk(p, depth + 1);
      else if (e.isFile() && e.name.endsWith('.pid')) {
        const pid = Number(readFileSync(p, 'utf8').trim());
        if (Number.isInteger(pid) && pid > 1) pids.push(pid);
      }
    }
  };
  walk(dir, 0);
  for (const p of pids) kill(p);
  for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  for (const p of pids) if (alive(p)) kill(p, 'SIGKILL');
  await removeContainers(dir, projects);
}

/** Containers and networks of compose projects whose folder is under `dir`; volumes of the `projects` the page names. */
async function removeContainers(dir: string, projects: string[]): Promise<void> {
  const ps = await execa('docker', ['ps', '-a', '--format', '{{.ID}} {{.Label "com.docker.compose.project"}} {{.Label "com.docker.compose.project.working_dir"}}'], { reject: false, stdin: 'ignore' });
  if (ps.exitCode !== 0) return; // no Docker here: nothing to remove
  const mine = String(ps.stdout).split('\n').map((l) => l.split(' ')).filter((f) => f[2] && (f[2] === dir || f[2].startsWith(dir + path.sep)));
  if (mine.length) await execa('docker', ['rm', '-f', '-v', ...mine.map((f) => f[0]!)], { reject: false, stdin: 'ignore' });
  for (const project of new Set([...mine.map((f) => f[1]!), ...projects])) {
    for (const kind of ['network', 'volume']) {
      const ls = await execa('docker', [kind, 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`], { reject: false, stdin: 'ignore' });
      const ids = String(ls.stdout).split('\n').filter(Boolean);
      if (ids.length) await execa('docker', [kind, 'rm', ...ids], { reject: false, stdin: 'ignore' });
    }
  }
}
