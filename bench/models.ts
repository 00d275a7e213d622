// Models figures: a 256 MB model file downloaded and verified through the CLI (wall time, throughput,
// peak RSS: the download streams, it is never held in memory), the no-op plan afterwards (the digest is
// trusted from state, not re-hashed), and a plan of 50 Ollama models against the test peer.
// The servers run in child processes: runNode blocks this one.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repeat, runNode } from './measure.js';
import type { Row } from './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'dist', 'src', 'cli.js');

async function child(script: string, dir: string): Promise<{ proc: ChildProcess; url: string }> {
  const file = path.join(dir, `server-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, script);
  const proc = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = /^URL (\S+)$/m.exec(buf);
      if (m) resolve(m[1]!);
    });
    proc.on('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  return { proc, url };
}

const FILE_SERVER = (file: string) => `
import http from 'node:http';
import { readFileSync } from 'node:fs';
const body = readFileSync(${JSON.stringify(file)});
const s = http.createServer((req, res) => {
  const m = /^bytes=(\\d+)-$/.exec(req.headers.range ?? '');
  const start = m ? Number(m[1]) : 0;
  res.writeHead(m ? 206 : 200, { 'content-length': body.length - start, ...(m ? { 'content-range': 'bytes ' + start + '-' + (body.length - 1) + '/' + body.length } : {}) });
  res.end(body.subarray(start));
});
s.listen(0, '127.0.0.1', () => console.log('URL http://127.0.0.1:' + s.address().port + '/model.bin'));
`;

const PEER = (n: number) => `
import { OllamaPeer, registryModel } from ${JSON.stringify(path.join(root, 'dist', 'test', 'ollama-peer.js'))};
const p = new OllamaPeer();
for (let i = 0; i < ${n}; i++) p.install('m' + i + ':7b', registryModel('m' + i, 1000 + i));
await p.start();
console.log('URL ' + p.url);
`;

export async function bench(): Promise<Row[]> {
  const rows: Row[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pmoves-bench-models-'));
  const procs: ChildProcess[] = [];
  try {
    const size = 256 * 1024 * 1024;
    const body = randomBytes(size);
    const blob = path.join(dir, 'model.bin');
    writeFileSync(blob, body);
    const sha = createHash('sha256').update(body).digest('hex');
    const files = await child(FILE_SERVER(blob), dir);
    procs.push(files.proc);
    const manifest = path.join(dir, 'pmoves.mini.yaml');
    writeFileSync(manifest, `apiVersion: pmoves.ai/mini/v1\nmodels:\n  big:\n    provider: file\n    url: ${files.url}\n    sha256: ${sha}\n    path: out/model.bin\n`);
    const env = { ...process.env, NO_COLOR: '1', PMOVES_HOME: path.join(dir, 'home') };
    // The machine's own cost of a plan (load, manifest, state): the models rows say what they add to it.
    const emptyManifest = path.join(dir, 'empty.yaml');
    writeFileSync(emptyManifest, 'apiVersion: pmoves.ai/mini/v1\n');
    const base = repeat(5, () => runNode([cli, 'mini', 'plan', '-m', emptyManifest], env, dir));
    rows.push({ name: 'baseline: plan of an empty manifest', ms: base.ms, rssMb: base.rssMb });
    const over = (ms: number) => `+${Math.max(0, ms - base.ms).toFixed(0)} ms over the baseline`;
    const first = runNode([cli, 'mini', 'apply', '--auto-approve', '-m', manifest], env, dir);
    if (first.status !== 0) throw new Error(`download apply exited ${first.status}`);
    const mbps = size / 1e6 / (first.ms / 1000);
    rows.push({ name: 'apply: download + sha256 of a 256 MB model file (loopback)', ms: first.ms, rssMb: first.rssMb, target: 'RSS < 200 MB (streamed)', ok: first.rssMb < 200, note: `${mbps.toFixed(0)} MB/s end to end` });
    const noop = repeat(5, () => runNode([cli, 'mini', 'plan', '-m', manifest], env, dir));
    rows.push({ name: 'no-op plan, one 256 MB model file (digest from state)', ms: noop.ms, rssMb: noop.rssMb, target: '< 300 ms over the baseline', ok: noop.ms - base.ms < 300, note: over(noop.ms) });
    rmSync(path.join(dir, 'home', 'state.json'), { force: true });
    const hashed = repeat(3, () => {
      rmSync(path.join(dir, 'home', 'cache'), { recursive: true, force: true });
      return runNode([cli, 'mini', 'plan', '-m', manifest], env, dir);
    });
    rows.push({ name: 'plan, one 256 MB model file neither in state nor in the digest cache (hashed)', ms: hashed.ms, rssMb: hashed.rssMb, note: `${over(hashed.ms)}; once per file: then the digest cache answers` });

    const n = 50;
    const peer = await child(PEER(n), dir);
    procs.push(peer.proc);
    const lines = ['apiVersion: pmoves.ai/mini/v1', 'models:'];
    for (let i = 0; i < n; i++) lines.push(`  m${i}:`, '    provider: ollama', `    model: m${i}:7b`);
    const om = path.join(dir, 'ollama.yaml');
    writeFileSync(om, lines.join('\n') + '\n');
    const oenv = { ...env, OLLAMA_HOST: peer.url };
    const p = repeat(5, () => runNode([cli, 'mini', 'plan', '-m', om], oenv, dir));
    rows.push({ name: `no-op plan, ${n} Ollama models (one /api/tags + /api/ps)`, ms: p.ms, rssMb: p.rssMb, target: '< 300 ms over the baseline', ok: p.ms - base.ms < 300, note: over(p.ms) });
  } finally {
    for (const pr of procs) pr.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
