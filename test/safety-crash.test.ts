// Ownership across kill -9, through the built CLI with real processes: what an apply killed half-way was
// making is named by its write-ahead (pending) state entry, so removal takes away exactly that: a
// model file's `.partial` (and never an Ollama model of the same name), env files and their temp files,
// MCP entries in every agent's config file.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from './helpers.js';
import { killApplyWhen, killBox, type KillBox } from './kill-helpers.js';
import { OllamaPeer, registryModel } from './ollama-peer.js';

const out = (r: { stdout?: unknown; stderr?: unknown }) => `${String(r.stdout)}\n${String(r.stderr)}`;
const bundle = path.join(repoRoot, 'examples', 'quickstart', 'env.cgp.json');

async function killWhen(b: KillBox, args: string[], point: () => boolean, what: string): Promise<void> {
  const ended = await killApplyWhen(b, args, point, what);
  assert.not.ok(ended && !point(), `${what}: the apply ended before the kill`);
}

/** Serves one file slowly (64 KiB every 50 ms), so that a kill lands mid-download. */
async function slowServer(body: Buffer) {
  const server = http.createServer((req, res) => {
    if (req.method === 'HEAD') return void res.writeHead(200, { 'content-length': body.length }).end();
    res.writeHead(200, { 'content-length': body.length });
    let at = 0;
    const tick = () => {
      if (res.destroyed) return;
      if (at >= body.length) return void res.end();
      res.write(body.subarray(at, (at += 65536)));
      setTimeout(tick, 50);
    };
    tick();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/big.bin`,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

test('model file killed mid-download: removal deletes its .partial and never an Ollama model of the same name', async () => {
  const body = Buffer.alloc(4 * 1024 * 1024, 3);
  const sha = createHash('sha256').update(body).digest('hex');
  const srv = await slowServer(body);
  const peer = new OllamaPeer();
  await peer.start();
  peer.install('big:latest', registryModel('users-own', 10_000)); // the user's own model, named like ours
  const b = killBox('pmoves-crash-model-', { OLLAMA_HOST: peer.url, OLLAMA_MODELS: '' });
  try {
    b.write(`models:\n  big:\n    provider: file\n    url: ${srv.url}\n    sha256: "${sha}"\n    path: models/big.bin\n`);
    const partial = () => readdirSync(path.join(b.dir, 'models')).find((f) => f.endsWith('.partial'));
    await killWhen(b, [], () => Boolean(partial()), 'a .partial on disk');
    const state = JSON.parse(readFileSync(path.join(b.pm, 'state.json'), 'utf8')) as { resources: Record<string, { pending?: string; data?: { provider?: string; path?: string } }> };
    assert.is(state.resources['models.big']?.pending, 'create');
    assert.is(state.resources['models.big']?.data?.provider, 'file', 'the write-ahead entry names the provider');

    b.write('models: {}\n');
    // Ollama down: the removal of a file model never needs it
    const down = await b.run(['plan'], { OLLAMA_HOST: '127.0.0.1:9' });
    assert.is(down.exitCode, 0, out(down));
    assert.match(String(down.stdout), 'interrupted download');
    const gone = await b.run(['apply', '--auto-approve']);
    assert.is(gone.exitCode, 0, out(gone));
    assert.equal(readdirSync(path.join(b.dir, 'models')), [], 'the .partial is deleted');
    assert.equal(peer.requests.filter((r) => r.method === 'DELETE'), [], 'no DELETE reached Ollama');
    assert.ok(peer.models.has('big:latest'), "the user's model is still there");
    const again = await b.run(['plan', '--detailed-exitcode']);
    assert.is(again.exitCode, 0, out(again));
  } finally {
    b.cleanup();
    await peer.stop();
    await srv.close();
  }
});

test('an older write-ahead entry that names nothing: removal touches nothing outside and drops it', async () => {
  const peer = new OllamaPeer();
  await peer.start();
  peer.install('old:latest', registryModel('users-old', 10_000));
  const b = killBox('pmoves-crash-old-', { OLLAMA_HOST: peer.url });
  try {
    b.write('models: {}\n');
    mkdirSync(b.pm, { recursive: true });
    writeFileSync(path.join(b.pm, 'state.json'), JSON.stringify({ version: 1, serial: 1, resources: { 'models.old': { section: 'models', owned: true, pending: 'create' } } }));
    const r = await b.run(['apply', '--auto-approve']);
    assert.is(r.exitCode, 0, out(r));
    assert.equal(peer.requests.filter((q) => q.method === 'DELETE'), []);
    assert.ok(peer.models.has('old:latest'));
    const again = await b.run(['plan', '--detailed-exitcode']);
    assert.is(again.exitCode, 0, out(again));
  } finally {
    b.cleanup();
    await peer.stop();
  }
});

test('secrets killed mid-apply (parallel writes): removal leaves no env file and no temp file; the plan then says No changes', async () => {
  const b = killBox('pmoves-crash-secrets-');
  try {
    const n = 150;
    b.write(`secrets:\n${Array.from({ length: n }, (_, i) => `  s${i}: { bundle: ${bundle}, env_file: out/e${i}.env }\n`).join('')}`);
    const outDir = path.join(b.dir, 'out');
    await killWhen(b, ['--parallelism', '8'], () => readdirSync(outDir).length >= 20, '20 env files');
    b.write('secrets: {}\n');
    const gone = await b.run(['apply', '--auto-approve']);
    assert.is(gone.exitCode, 0, out(gone));
    assert.equal(readdirSync(outDir), [], 'every env file and temp file of the killed apply is deleted');
    const plan = await b.run(['plan', '--detailed-exitcode']);
    assert.is(plan.exitCode, 0, out(plan));
  } finally {
    b.cleanup();
  }
});

test('MCP killed between agent-file edits: removal takes every entry pmoves wrote out of every agent file', async () => {
  const b = killBox('pmoves-crash-mcp-');
  try {
    const files = {
      cursor: path.join(b.home, '.cursor', 'mcp.json'),
      crush: path.join(b.home, '.config', 'crush', 'crush.json'),
      codex: path.join(b.home, '.codex', 'config.toml'),
    };
    const originals = {
      cursor: '{\n  "mcpServers": {\n    "mine": { "command": "mine" }\n  }\n}\n',
      crush: '{\n  "mcp": {\n    "mine": { "type": "stdio", "command": "mine" }\n  }\n}\n',
      codex: 'model = "o3"\n\n[mcp_servers.mine]\ncommand = "mine"\n',
    };
    for (const [k, f] of Object.entries(files)) {
      mkdirSync(path.dirname(f), { recursive: true });
      writeFileSync(f, originals[k as keyof typeof originals]);
    }
    const names = Array.from({ length: 60 }, (_, i) => `k${i}`);
    b.write(`mcp_clients: [cursor, crush, codex]\nmcp:\n${names.map((n) => `  ${n}: { command: "true", args: ["${n}"] }\n`).join('')}`);
    await killWhen(b, ['--parallelism', '8'], () => (readFileSync(files.codex, 'utf8').match(/\[mcp_servers\.k/g) ?? []).length >= 5, 'five entries in codex');
    b.write('mcp_clients: [cursor, crush, codex]\nmcp: {}\n');
    const gone = await b.run(['apply', '--auto-approve', '--no-probe']);
    assert.is(gone.exitCode, 0, out(gone));
    for (const [k, f] of Object.entries(files)) assert.is(readFileSync(f, 'utf8'), originals[k as keyof typeof originals], k);
    assert.not.ok(existsSync(path.join(b.pm, 'mcp', 'registry.json')) && readFileSync(path.join(b.pm, 'mcp', 'registry.json'), 'utf8').includes('"k'), 'the registry holds none');
  } finally {
    b.cleanup();
  }
});

test.run();
