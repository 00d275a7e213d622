// kill -9 in the middle of a real `apply`, for every kind but stacks (their own test): MCP between
// config writes, secrets between env-file writes, models during a file download and during an Ollama
// pull. After each kill: nothing half-written (every file parses, no temp files, the user's own entries
// intact), the next apply converges ("No changes" after it), and removal from the manifest still takes
// away exactly what pmoves made.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readTomlEntry } from '../src/providers/mcp/toml-edit.js';
import { repoRoot, waitFor } from './helpers.js';
import { killApplyWhen, killBox, type KillBox } from './kill-helpers.js';
import { OllamaPeer, registryModel } from './ollama-peer.js';

const out = (r: { stdout?: unknown; stderr?: unknown }) => `${String(r.stdout)}\n${String(r.stderr)}`;
const bundle = path.join(repoRoot, 'examples', 'quickstart', 'env.cgp.json');

/** Spawn apply (one resource at a time), wait for `point` (polled), kill -9. */
const killAt = (b: KillBox, point: () => boolean, what: string) => killApplyWhen(b, ['--parallelism', '1'], point, what);

function tmpFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.tmp|\.pmoves-tmp|~$/.test(e.name) && !e.name.endsWith('.partial')) found.push(p);
    }
  };
  walk(dir);
  return found;
}

const converges = async (b: KillBox) => {
  const again = await b.run(['apply', '--auto-approve', '--no-probe']);
  assert.is(again.exitCode, 0, out(again));
  const plan = await b.run(['plan', '--no-probe', '--detailed-exitcode']);
  assert.is(plan.exitCode, 0, out(plan));
  assert.match(String(plan.stdout), 'No changes. Actual state matches the manifest.');
};

test('MCP: killed between config writes (several points), the next apply converges; removal gives the user files back', async () => {
  const node = process.execPath;
  const memory = path.join(repoRoot, 'node_modules', '@modelcontextprotocol', 'server-memory', 'dist', 'index.js');
  const servers = ['ka', 'kb', 'kc'].map((n) => `  ${n}:\n    command: ${node}\n    args: [${memory}]\n    scope: local\n`).join('');
  const yaml = `mcp_clients: [cursor, codex, claude-code, crush]\nmcp:\n${servers}`;
  // each point: the first sign of progress it waits for (any file edited, the second client, the registry)
  const points: [string, (b: KillBox) => boolean][] = [
    ['the lock taken', (b) => existsSync(path.join(b.pm, 'lock'))],
    ['a first entry written', (b) => readFileSync(path.join(b.home, '.cursor', 'mcp.json'), 'utf8').includes('"ka"')],
    ['codex written', (b) => readFileSync(path.join(b.home, '.codex', 'config.toml'), 'utf8').includes('[mcp_servers.ka]')],
    ['the registry written', (b) => existsSync(path.join(b.pm, 'mcp', 'registry.json'))],
  ];
  for (const [what, point] of points) {
    const b = killBox('pmoves-kill-mcp-');
    try {
      const files = {
        cursor: path.join(b.home, '.cursor', 'mcp.json'),
        codex: path.join(b.home, '.codex', 'config.toml'),
        claude: path.join(b.home, '.claude.json'),
        crush: path.join(b.home, '.config', 'crush', 'crush.json'),
      };
      const originals = {
        cursor: '{\n  "mcpServers": {\n    "mine": { "command": "mine" }\n  }\n}\n',
        codex: 'model = "o3"\n\n[mcp_servers.mine]\ncommand = "mine"\n',
        claude: '{\n  "numStartups": 3,\n  "mcpServers": { "mine": { "type": "stdio", "command": "mine" } }\n}\n',
        crush: '{\n  "mcp": {\n    "mine": { "type": "stdio", "command": "mine" }\n  }\n}\n',
      };
      for (const [k, f] of Object.entries(files)) {
        mkdirSync(path.dirname(f), { recursive: true });
        writeFileSync(f, originals[k as keyof typeof originals]);
      }
      mkdirSync(path.join(b.home, '.claude'), { recursive: true });
      b.write(yaml);
      await killAt(b, () => { try { return point(b); } catch { return false; } }, what);

      // nothing half-written: every file parses and keeps the user's own server
      for (const f of [files.cursor, files.claude, files.crush]) JSON.parse(readFileSync(f, 'utf8'));
      assert.ok((JSON.parse(readFileSync(files.cursor, 'utf8')) as { mcpServers: Record<string, unknown> }).mcpServers.mine, what);
      assert.ok(readTomlEntry(readFileSync(files.codex, 'utf8'), 'mine').entry, what);

      await converges(b);
      assert.equal(tmpFiles(b.dir), [], `${what}: the killed write's temp file is swept by the next write`);
      const claude = JSON.parse(readFileSync(files.claude, 'utf8')) as { projects: Record<string, { mcpServers: Record<string, unknown> }> };
      assert.equal(Object.keys(claude.projects[b.dir]!.mcpServers).sort(), ['ka', 'kb', 'kc'], what);

      b.write('mcp_clients: [cursor, codex, claude-code, crush]\n');
      const gone = await b.run(['apply', '--auto-approve', '--no-probe']);
      assert.is(gone.exitCode, 0, out(gone));
      assert.is(readFileSync(files.cursor, 'utf8'), originals.cursor, `${what}: cursor`);
      assert.is(readFileSync(files.codex, 'utf8'), originals.codex, `${what}: codex`);
      assert.is(readFileSync(files.crush, 'utf8'), originals.crush, `${what}: crush`);
      const left = JSON.parse(readFileSync(files.claude, 'utf8')) as { numStartups: number; mcpServers: object; projects?: Record<string, { mcpServers: object }> };
      assert.equal([left.numStartups, Object.keys(left.mcpServers), Object.keys(left.projects?.[b.dir]?.mcpServers ?? {})], [3, ['mine'], []], what);
    } finally {
      b.cleanup();
    }
  }
});

test('secrets: killed between env-file writes, each file is whole or absent; the next apply converges; removal deletes them', async () => {
  const names = ['s1', 's2', 's3', 's4'];
  const yaml = `secrets:\n${names.map((n, i) => `  ${n}:\n    bundle: ${bundle}\n    env_file: out/${n}.env\n${i ? `    depends_on: [secrets.${names[i - 1]}]\n` : ''}`).join('')}`;
  const points: [string, (b: KillBox) => boolean][] = [
    ['the first env file', (b) => existsSync(path.join(b.dir, 'out', 's1.env'))],
    ['the third env file', (b) => existsSync(path.join(b.dir, 'out', 's3.env'))],
  ];
  let whole: string | null = null;
  for (const [what, point] of points) {
    const b = killBox('pmoves-kill-secrets-');
    try {
      b.write(yaml);
      await killAt(b, () => point(b), what);
      const outDir = path.join(b.dir, 'out');
      const written = readdirSync(outDir).filter((f) => f.endsWith('.env'));
      assert.ok(written.length >= 1, what);
      await converges(b);
      assert.equal(tmpFiles(b.dir), [], `${what}: the killed write's temp file is swept by the next write`);
      whole ??= readFileSync(path.join(outDir, 's1.env'), 'utf8');
      for (const n of names) assert.is(readFileSync(path.join(outDir, `${n}.env`), 'utf8'), whole, `${what}: ${n}.env is whole`);
      b.write('secrets: {}\n');
      const gone = await b.run(['apply', '--auto-approve']);
      assert.is(gone.exitCode, 0, out(gone));
      assert.equal(readdirSync(outDir).filter((f) => f.endsWith('.env')), [], `${what}: every env file pmoves wrote is deleted`);
    } finally {
      b.cleanup();
    }
  }
  assert.ok(whole && whole.length > 100);
});

/** A file server that sends half of the body and then holds the connection, once; Range requests work. */
async function halfServer(body: Buffer) {
  let first = true;
  const held: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    if (req.method === 'HEAD') return void res.writeHead(200, { 'content-length': body.length, 'accept-ranges': 'bytes' }).end();
    const head = range ? { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : { 'content-length': body.length };
    res.writeHead(range ? 206 : 200, { ...head, 'accept-ranges': 'bytes' });
    if (first && !range) {
      first = false;
      res.write(body.subarray(0, body.length / 2));
      held.push(res);
      return;
    }
    res.end(body.subarray(start));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/m.bin`,
    close: () =>
      new Promise<void>((r) => {
        for (const h of held) h.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

test('models: killed during a file download and during an Ollama pull; the next apply converges; removal deletes what pmoves got', async () => {
  const body = Buffer.alloc(2 * 1024 * 1024, 7);
  const sha = createHash('sha256').update(body).digest('hex');
  const srv = await halfServer(body);
  const peer = new OllamaPeer();
  await peer.start();
  peer.addRegistry('kill-me:7b', registryModel('kill', 40_000));
  let release!: () => void;
  peer.pullGate = new Promise<void>((r) => (release = r));
  const b = killBox('pmoves-kill-models-', { OLLAMA_HOST: peer.url, OLLAMA_MODELS: '' });
  try {
    const file = `  f:\n    provider: file\n    url: ${srv.url}\n    sha256: ${sha}\n    path: out/f.bin\n`;
    const ollama = `  o:\n    provider: ollama\n    model: kill-me:7b\n    depends_on: [models.f]\n`;
    b.write(`models:\n${file}${ollama}`);
    // 1. during the download (half of it on disk, the server holding the rest)
    await killAt(b, () => existsSync(path.join(b.dir, 'out')) && readdirSync(path.join(b.dir, 'out')).some((f) => f.endsWith('.partial')), 'half of the file');
    assert.not.ok(existsSync(path.join(b.dir, 'out', 'f.bin')), 'no file under its final name before it is verified');
    // 2. during the Ollama pull (after the file is in place)
    await killAt(b, () => peer.requests.some((r) => r.path === '/api/pull'), 'the pull under way');
    assert.ok(readFileSync(path.join(b.dir, 'out', 'f.bin')).equals(body));
    assert.not.ok(peer.models.has('kill-me:7b'), 'the pull was still under way');
    // the peer finishes the pull it had started (as Ollama may): the model appears without the client
    release();
    peer.pullGate = null;
    await waitFor(() => peer.models.has('kill-me:7b'), 'the peer to finish the pull');
    assert.equal(tmpFiles(b.dir), []);
    await converges(b);
    // removal: both go, because pmoves got both
    b.write('models: {}\n');
    const gone = await b.run(['apply', '--auto-approve']);
    assert.is(gone.exitCode, 0, out(gone));
    assert.not.ok(existsSync(path.join(b.dir, 'out', 'f.bin')), 'the downloaded file is deleted');
    assert.not.ok(peer.models.has('kill-me:7b'), `the model pulled under pmoves is deleted\n${out(gone)}`);
  } finally {
    release();
    b.cleanup();
    await peer.stop();
    await srv.close();
  }
});

test.run();
