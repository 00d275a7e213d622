// Ollama models end to end: the built CLI against test/ollama-peer.ts (a real HTTP server following
// Ollama's documented API). Pull with progress, load, unload, digest drift, a mid-stream error, delete
// of what this tool pulled only, and Ollama not running.
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { statfsSync } from 'node:fs';
import { cli, repoRoot, tempDir } from './helpers.js';
import { fakeDigest, OllamaPeer, registryModel } from './ollama-peer.js';

const QWEN = 'qwen2.5:14b-instruct-q4_K_M';

function setup(peer: OllamaPeer, models: string) {
  const t = tempDir('pmoves-models-ollama-');
  const home = path.join(t.dir, 'home');
  const write = (m: string) => writeFileSync(path.join(t.dir, 'pmoves.mini.yaml'), `apiVersion: pmoves.ai/mini/v1\nmodels:\n${m}`);
  write(models);
  const run = (args: string[], env: Record<string, string> = {}) =>
    cli(['mini', ...args], { cwd: t.dir, home, env: { OLLAMA_HOST: peer.url, OLLAMA_MODELS: path.join(t.dir, 'ollama-models'), PMOVES_PROGRESS_INTERVAL_MS: '0', ...env } });
  return { ...t, home, run, write };
}

async function withPeer(fn: (peer: OllamaPeer) => Promise<void>): Promise<void> {
  const peer = new OllamaPeer();
  await peer.start();
  try {
    await fn(peer);
  } finally {
    await peer.stop();
  }
}

const text = (r: { stdout: unknown; stderr: unknown }) => String(r.stdout) + String(r.stderr);

test('pull with progress, then no changes; load with keep_alive; stop unloads; start loads', () =>
  withPeer(async (peer) => {
    peer.addRegistry(QWEN, registryModel('qwen14', 40_000));
    const s = setup(peer, `  chat:\n    provider: ollama\n    model: ${QWEN}\n    size: 9.0 GB\n`);
    try {
      const plan = await s.run(['plan']);
      assert.is(plan.exitCode, 0, text(plan));
      assert.match(String(plan.stdout), /# models\.chat will be pulled \(because qwen2\.5:14b-instruct-q4_K_M is not in Ollama at http:\/\/127\.0\.0\.1:\d+\)/);
      assert.match(String(plan.stdout), /Plan: 1 to add, 0 to change, 0 to destroy\. Downloads: 9\.0 GB; disk: needs 9\.1 GB, [\d.]+ [GT]B free/);

      const apply = await s.run(['apply', '--auto-approve']);
      assert.is(apply.exitCode, 0, text(apply));
      const out = String(apply.stdout);
      assert.match(out, /models\.chat: pulling qwen2\.5:14b-instruct-q4_K_M from http:\/\/127\.0\.0\.1:\d+/);
      assert.match(out, /models\.chat: pulling manifest/);
      const weights = fakeDigest('weights qwen14').slice(0, 12);
      assert.match(out, new RegExp(`models\\.chat: pulling ${weights}: 10\\.0 KB of 40\\.0 KB \\(25%\\)`));
      assert.match(out, new RegExp(`models\\.chat: pulling ${weights}: 40\\.0 KB of 40\\.0 KB \\(100%\\)`));
      assert.match(out, new RegExp(`models\\.chat: pulling ${fakeDigest('params qwen14').slice(0, 12)}: 96 B of 96 B \\(100%\\)`));
      assert.match(out, /models\.chat: verifying sha256 digest/);
      assert.match(out, /models\.chat: success/);
      assert.match(out, new RegExp(`models\\.chat: pulled qwen2\\.5:14b-instruct-q4_K_M \\(digest ${fakeDigest('manifest qwen14').slice(0, 12)}…, 41\\.6 KB\\)`));
      assert.ok(peer.models.has(QWEN));
      assert.is(peer.loaded.size, 0, 'state: present does not load');

      const again = await s.run(['plan']);
      assert.is(again.exitCode, 0);
      assert.match(String(again.stdout), /No changes\. Actual state matches the manifest\./);

      const start = await s.run(['models', 'start', 'chat', '--auto-approve']);
      assert.is(start.exitCode, 0, text(start));
      assert.match(String(start.stdout), /models\.chat: loaded qwen2\.5:14b-instruct-q4_K_M \(keep_alive -1\)/);
      assert.ok(peer.loaded.has(QWEN));
      const gen = peer.requests.filter((r) => r.path === '/api/generate');
      assert.equal(gen.at(-1)!.body, { model: QWEN, keep_alive: -1, stream: false });

      const list = await s.run(['models', 'list', '--json']);
      assert.is(list.exitCode, 0, text(list));
      const rows = (JSON.parse(String(list.stdout)) as { models: Record<string, unknown>[] }).models;
      assert.is(rows.length, 1);
      assert.is(rows[0]!.name, 'chat');
      assert.is(rows[0]!.present, true);
      assert.is(rows[0]!.loaded, true);
      assert.is(rows[0]!.declared, 'present');
      assert.is(rows[0]!.size_bytes, 41_578);

      const stop = await s.run(['models', 'stop', '--auto-approve']);
      assert.is(stop.exitCode, 0, text(stop));
      assert.match(String(stop.stdout), /# models\.chat will be unloaded/);
      assert.match(String(stop.stdout), /models\.chat: unloaded qwen2\.5:14b-instruct-q4_K_M/);
      assert.is(peer.loaded.size, 0);
      assert.equal(peer.requests.filter((r) => r.path === '/api/generate').at(-1)!.body, { model: QWEN, keep_alive: 0, stream: false });

      const table = await s.run(['models', 'list']);
      assert.match(String(table.stdout), /^NAME\s+PROVIDER\s+MODEL\s+DECLARED\s+PRESENT\s+LOADED\s+SIZE\s+RUNTIME\s+IMAGE\s+PORT\s+READY\s+FROM$/m);
      assert.match(String(table.stdout), /^chat\s+ollama\s+qwen2\.5:14b-instruct-q4_K_M\s+present\s+yes\s+no\s+41\.6 KB\s+ollama\s+-\s+-\s+-\s+manifest$/m);
    } finally {
      s.cleanup();
    }
  }));

test('state: loaded pulls and loads with the declared keep_alive; plan is then no-op; a model that expired shows as drift', () =>
  withPeer(async (peer) => {
    peer.addRegistry('embeddinggemma:300m', registryModel('gemma', 6000));
    const s = setup(peer, `  embed:\n    provider: ollama\n    model: embeddinggemma:300m\n    state: loaded\n    keep_alive: 10m\n`);
    try {
      const apply = await s.run(['apply', '--auto-approve']);
      assert.is(apply.exitCode, 0, text(apply));
      assert.match(String(apply.stdout), /# models\.embed will be pulled and loaded/);
      assert.equal(peer.requests.filter((r) => r.path === '/api/generate').at(-1)!.body, { model: 'embeddinggemma:300m', keep_alive: '10m', stream: false });
      assert.match(String((await s.run(['plan'])).stdout), /No changes/);
      peer.loaded.clear(); // keep_alive ran out
      const drift = await s.run(['plan']);
      assert.match(String(drift.stdout), /# models\.embed will be loaded \(because not loaded\)/);
      const stop = await s.run(['models', 'stop', 'embed', '--auto-approve']);
      assert.match(String(stop.stdout), /manifest declares models\.embed with state: loaded; the next `pmoves mini apply` \(or watch\) will load it again/);
    } finally {
      s.cleanup();
    }
  }));

test('digest drift: a digest other than the pinned one is an update; apply pulls the pinned one', () =>
  withPeer(async (peer) => {
    const oldM = registryModel('qwen-old', 5000);
    const newM = registryModel('qwen-new', 7000);
    peer.install(QWEN, oldM).addRegistry(QWEN, newM);
    const s = setup(peer, `  chat:\n    provider: ollama\n    model: ${QWEN}\n    digest: ${newM.digest.slice(0, 12)}\n`);
    try {
      const plan = await s.run(['plan']);
      assert.is(plan.exitCode, 0, text(plan));
      const o = String(plan.stdout);
      assert.match(o, new RegExp(`# models\\.chat will be pulled again \\(because digest ${oldM.digest.slice(0, 12)}… -> ${newM.digest.slice(0, 12)}…\\)`));
      assert.match(o, new RegExp(`~ digest = "${oldM.digest.slice(0, 12)}…" -> "${newM.digest.slice(0, 12)}…"`));
      const apply = await s.run(['apply', '--auto-approve']);
      assert.is(apply.exitCode, 0, text(apply));
      assert.is(peer.models.get(QWEN)!.digest, newM.digest);
      assert.match(String((await s.run(['plan'])).stdout), /No changes/);

      // A pin the registry does not have: the pull succeeds but the digest is still wrong → failure, said plainly.
      s.write(`  chat:\n    provider: ollama\n    model: ${QWEN}\n    digest: "${'0'.repeat(64)}"\n`);
      const bad = await s.run(['apply', '--auto-approve']);
      assert.is(bad.exitCode, 1);
      assert.match(String(bad.stdout), /pulled qwen2\.5:14b-instruct-q4_K_M, but its digest is [0-9a-f]{12}… and the manifest pins 000000000000…/);
    } finally {
      s.cleanup();
    }
  }));

test('an {"error"} line inside the 200 pull stream fails the apply; nothing is recorded as pulled', () =>
  withPeer(async (peer) => {
    peer.addRegistry(QWEN, { ...registryModel('qwen-err', 40_000), failAfter: 15_000 });
    const s = setup(peer, `  chat:\n    provider: ollama\n    model: ${QWEN}\n  missing:\n    provider: ollama\n    model: no-such-model:7b\n`);
    try {
      const r = await s.run(['apply', '--auto-approve']);
      assert.is(r.exitCode, 1);
      const o = String(r.stdout);
      assert.match(o, new RegExp(`models\\.chat: pulling ${fakeDigest('weights qwen-err').slice(0, 12)}: 10\\.0 KB of 40\\.0 KB \\(25%\\)`), 'progress came before the error');
      assert.match(o, /models\.chat: Failed: pull qwen2\.5:14b-instruct-q4_K_M: max retries exceeded: .*connection reset by peer/);
      assert.match(o, /models\.missing: Failed: pull no-such-model:7b: pull model manifest: file does not exist/);
      assert.match(o, /Apply failed: 2 failed, 0 skipped/);
      assert.ok(!peer.models.has(QWEN));
      // The failure is not remembered as a success: the next plan still wants to pull.
      assert.match(String((await s.run(['plan'])).stdout), /Plan: 2 to add/);
      peer.addRegistry(QWEN, registryModel('qwen-ok', 1000));
      const ok = await s.run(['models', 'pull', 'chat', '--auto-approve']);
      assert.is(ok.exitCode, 0, text(ok));
    } finally {
      s.cleanup();
    }
  }));

test('delete only what this tool pulled: removed from the manifest → deleted; a model pulled by hand and declared absent → kept (unless --force)', () =>
  withPeer(async (peer) => {
    peer.addRegistry(QWEN, registryModel('q', 1000));
    peer.install('llama3.2', registryModel('llama', 2000));
    const s = setup(peer, `  chat:\n    provider: ollama\n    model: ${QWEN}\n  llama:\n    provider: ollama\n    model: llama3.2\n    state: absent\n`);
    try {
      const a = await s.run(['apply', '--auto-approve']);
      assert.is(a.exitCode, 0, text(a));
      assert.match(String(a.stdout), /! models\.llama llama3\.2 is declared absent but was not pulled by pmoves mini, so it is not deleted \(apply --force deletes it\)/);
      assert.match(String(a.stdout), /Apply complete! Resources: 1 added/);
      assert.ok(peer.models.has('llama3.2:latest'), 'hand-pulled model kept');

      s.write(`  llama:\n    provider: ollama\n    model: llama3.2\n    state: absent\n`);
      const plan = await s.run(['plan']);
      assert.match(String(plan.stdout), /# models\.chat will be deleted from Ollama \(because it is no longer in the manifest and this tool pulled it\)/);
      const d = await s.run(['apply', '--auto-approve']);
      assert.is(d.exitCode, 0, text(d));
      assert.ok(!peer.models.has(QWEN));
      assert.equal(peer.requests.filter((r) => r.method === 'DELETE').map((r) => r.body), [{ model: QWEN }]);

      const forced = await s.run(['apply', '--auto-approve', '--force']);
      assert.is(forced.exitCode, 0, text(forced));
      assert.ok(!peer.models.has('llama3.2:latest'));
    } finally {
      s.cleanup();
    }
  }));

test('a recorded RTX 5090 desktop with profile: auto gets upstream\'s bundles as models, with the download budget', () =>
  withPeer(async (peer) => {
    const m = path.join(repoRoot, 'test', 'fixtures', 'machines', 'rtx-desktop');
    const t = tempDir('pmoves-models-profile-');
    try {
      writeFileSync(path.join(t.dir, 'pmoves.mini.yaml'), 'apiVersion: pmoves.ai/mini/v1\nprofile: auto\n');
      const r = await cli(['mini', 'plan', '--no-probe'], {
        cwd: t.dir,
        home: path.join(t.dir, 'home'),
        env: { OLLAMA_HOST: peer.url, OLLAMA_MODELS: path.join(t.dir, 'ollama'), PMOVES_SYSROOT: path.join(m, 'root'), PMOVES_RECORDED_COMMANDS: path.join(m, 'commands.json') },
      });
      const o = String(r.stdout);
      assert.match(o, /Hardware profile: desktop-9950xd/);
      for (const [name, bundle] of [
        ['agent-zero-llm', 'ollama-high'],
        ['archon-embedding', 'ollama-high'],
        ['mixtral-8x7b', 'vllm-large'],
        ['reranker-qwen3-4b', 'reranker-qwen-large'],
      ]) {
        assert.match(o, new RegExp(`# models\\.${name} will be pulled \\(because .* is not in Ollama at ${peer.url.replace(/[.]/g, '\\.')}\\)\\n  # \\(from profile desktop-9950xd, bundle ${bundle}\\)`), o);
      }
      assert.match(o, /# models\.agent-zero-llm will be pulled[^\n]*\n[^\n]*\n  \+ models "agent-zero-llm" \{\n      \+ provider = "ollama"\n      \+ model    = "qwen2\.5:32b-instruct-q4_K_M"/);
      // 19.9 GB + 622 MB + 26.4 GB + 2.5 GB
      const m2 = /Downloads: 49\.4 GB; disk: needs 49\.9 GB, ([\d.]+) ([GT])B free/.exec(o);
      assert.ok(m2, o);
      const fs = statfsSync(t.dir);
      const fits = Number(fs.bavail) * Number(fs.bsize) >= 49.9e9 + 1e8;
      if (!fits) assert.match(o, /not enough disk space/);
      assert.equal(peer.requests.map((x) => `${x.method} ${x.path}`).sort(), ['GET /api/ps', 'GET /api/tags'], 'one tags and one ps call for all models; nothing pulled by a plan');
    } finally {
      t.cleanup();
    }
  }));

test('Ollama not running: one error per model naming OLLAMA_HOST; exit 1', async () => {
  const port = await new Promise<number>((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
  const peer = new OllamaPeer();
  peer.url = `127.0.0.1:${port}`;
  const s = setup(peer, `  a:\n    provider: ollama\n    model: ${QWEN}\n  b:\n    provider: ollama\n    model: embeddinggemma:300m\n`);
  try {
    const r = await s.run(['plan']);
    assert.is(r.exitCode, 1);
    const o = String(r.stdout);
    for (const m of ['a', 'b']) assert.match(o, new RegExp(`! models\\.${m} Ollama is not reachable at http://127\\.0\\.0\\.1:${port} \\(OLLAMA_HOST\\): ECONNREFUSED`), o + String(r.stderr));
    assert.match(o, /start Ollama \(`ollama serve`\) or point OLLAMA_HOST at it/);
    const list = await s.run(['models', 'list']);
    assert.is(list.exitCode, 1);
    assert.match(String(list.stdout), /^a\s+ollama\s+qwen2\.5:14b-instruct-q4_K_M\s+present\s+error\s+\?/m);
  } finally {
    s.cleanup();
  }
});

test('models pull|start|stop: unknown names, file models and an empty manifest are clear errors (exit 1, nothing changed)', () =>
  withPeer(async (peer) => {
    const s = setup(peer, `  chat:\n    provider: ollama\n    model: ${QWEN}\n  weights:\n    provider: file\n    url: http://127.0.0.1:9/w.bin\n    sha256: ${'a'.repeat(64)}\n`);
    try {
      const unknown = await s.run(['models', 'pull', 'chta', '--auto-approve']);
      assert.is(unknown.exitCode, 1);
      assert.match(String(unknown.stderr), /^Error: models\.chta is not declared in the manifest \(declared models: chat, weights\)$/m);
      const file = await s.run(['models', 'start', 'weights', '--auto-approve']);
      assert.is(file.exitCode, 1);
      assert.match(String(file.stderr), /models\.weights is a model file \(provider: file\) without a runtime; only Ollama models and models with runtime: whisper\.cpp \| llama\.cpp \| vllm \| trt-llm can be started or stopped/);
      writeFileSync(path.join(s.dir, 'pmoves.mini.yaml'), 'apiVersion: pmoves.ai/mini/v1\n');
      const none = await s.run(['models', 'pull', '--auto-approve']);
      assert.is(none.exitCode, 1);
      assert.match(String(none.stderr), /no models are declared in the manifest/);
      assert.equal(peer.requests.filter((r) => r.method !== 'GET'), [], 'nothing was pulled, loaded or deleted');
    } finally {
      s.cleanup();
    }
  }));

test.run();
