// Model runtimes end to end, as a user runs them: the built CLI, the real Docker Engine and compose
// (v2, or v1 with PMOVES_COMPOSE=docker-compose), stand-in images built from the test image whose
// containers answer the runtimes' own APIs (OpenAI-compatible /v1/models and /v1/chat/completions;
// whisper.cpp's /health and /inference). A whisper.cpp model and a llama.cpp model: plan, apply, ready
// from their APIs, status, models list, drift (a stopped container; the model file changed under a
// running server; a new file version), models stop/start, and teardown leaving nothing behind.
import { execa } from 'execa';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, tempDir } from './helpers.js';
import { buildStandIns, fileServer, freePort, projectLeftovers, removeImages, request, sha256 } from './models-runtime-helpers.js';

const tmp = tempDir('pmoves-runtime-');
const home = path.join(tmp.dir, 'home');
const files = path.join(tmp.dir, 'files');
const manifest = path.join(tmp.dir, 'pmoves.mini.yaml');
const id = `${process.pid}${Date.now().toString(36)}`;
const W = `rtw${id}`;
const L = `rtl${id}`;
const projects = [`pmoves-runtime-${W}`, `pmoves-runtime-${L}`];
let images = { openai: '', whisper: '' };
let server: Awaited<ReturnType<typeof fileServer>>;
let wPort = 0;
let lPort = 0;
const llmV1 = Buffer.from(`gguf stand-in v1 ${id}\n`.repeat(500));
const llmV2 = Buffer.from(`gguf stand-in v2 ${id}\n`.repeat(600));
const whisperBin = Buffer.from(`ggml whisper stand-in ${id}\n`.repeat(300));

function writeManifest(llm: { file: string; data: Buffer }, extra = ''): void {
  writeFileSync(
    manifest,
    `apiVersion: pmoves.ai/mini/v1
models:
  ${W}:
    provider: file
    url: ${server.url}/whisper.bin
    sha256: ${sha256(whisperBin)}
    path: ./models/whisper.bin
    runtime: whisper.cpp
    port: ${wPort}
    image: ${images.whisper}
    ready_timeout: 60s
  ${L}:
    provider: file
    url: ${server.url}/${llm.file}
    sha256: ${sha256(llm.data)}
    path: ./models/llm.gguf
    runtime: llama.cpp
    port: ${lPort}
    context_size: 4096
    image: ${images.openai}
    ready_timeout: 60s
${extra}`,
  );
}

const run = (...args: string[]) => cli(['mini', ...args, '-m', manifest], { home, cwd: tmp.dir, timeout: 180_000 });
const out = (r: { stdout: unknown; stderr: unknown }) => `${String(r.stdout)}\n${String(r.stderr)}`;

async function containerOf(project: string): Promise<{ id: string; started: string; running: boolean }> {
  const ps = await execa('docker', ['ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.ID}}']);
  const cid = ps.stdout.split('\n')[0]!;
  const i = await execa('docker', ['inspect', '--format', '{{.State.StartedAt}} {{.State.Running}}', cid]);
  const [started, running] = i.stdout.split(' ');
  return { id: cid, started: started!, running: running === 'true' };
}

test.before(async () => {
  mkdirSync(files, { recursive: true });
  writeFileSync(path.join(files, 'whisper.bin'), whisperBin);
  writeFileSync(path.join(files, 'llm-v1.gguf'), llmV1);
  writeFileSync(path.join(files, 'llm-v2.gguf'), llmV2);
  server = await fileServer(files);
  images = await buildStandIns(id);
  wPort = await freePort();
  lPort = await freePort();
  writeManifest({ file: 'llm-v1.gguf', data: llmV1 });
});

test.after(async () => {
  await run('apply', '--auto-approve').catch(() => undefined);
  for (const p of projects) await execa('docker', ['rm', '-f', ...(await projectLeftovers(p))], { reject: false });
  await server.close();
  await removeImages(images.whisper, images.openai);
  tmp.cleanup();
});

test('plan: both runtimes to be created, with their image, a port on 127.0.0.1 and the model mounted read-only', async () => {
  const r = await run('plan');
  assert.is(r.exitCode, 0, out(r));
  const o = String(r.stdout);
  assert.match(o, `runtimes.${W} will be created`);
  assert.match(o, `runtimes.${L} will be created`);
  assert.match(o, `then waits until its API answers with ${L}`);
  assert.match(o, `127.0.0.1:${lPort}:8080/tcp`);
  // (compose v1 prints the mount's keys sorted, v2 in the file's order)
  assert.match(o, /"target":"\/models\/llm\.gguf"[^\n]*"read_only":true|"read_only":true[^\n]*"target":"\/models\/llm\.gguf"/);
  assert.match(o, /hardware = "cpu"/);
  assert.match(o, `Runtimes: 2 on 127.0.0.1:${[wPort, lPort].sort((a, b) => a - b).join(', ')}`);
  assert.equal(await projectLeftovers(projects[0]!), [], 'a plan starts nothing');
});

test('apply: downloads the files, brings both up through compose, waits until their APIs answer with the models', async () => {
  const r = await run('apply', '--auto-approve');
  assert.is(r.exitCode, 0, out(r));
  assert.match(String(r.stdout), `runtimes.${W}: ready: 127.0.0.1:${wPort} answers with ${W}`);
  assert.match(String(r.stdout), `runtimes.${L}: ready: 127.0.0.1:${lPort} answers with ${L}`);
  // The servers' own APIs, from outside: the declared model, served from the verified file.
  const models = JSON.parse((await request(lPort, 'GET', '/v1/models')).body) as { data: { id: string; meta: { sha256: string } }[] };
  assert.equal(models.data.map((m) => m.id), [L]);
  assert.is(models.data[0]!.meta.sha256, sha256(llmV1));
  const chat = JSON.parse((await request(lPort, 'POST', '/v1/chat/completions', JSON.stringify({ model: L, messages: [{ role: 'user', content: 'ping' }] }))).body);
  assert.is(chat.choices[0].message.content, 'pong');
  assert.is(JSON.parse((await request(wPort, 'POST', '/inference', 'x')).body).text, ' [BLANK_AUDIO]');
  // The compose file is the tool's own, under $PMOVES_HOME; the model is mounted read-only.
  const composeFile = path.join(home, 'runtimes', L, 'compose.yaml');
  assert.match(readFileSync(composeFile, 'utf8'), 'read_only: true');
  const c = await containerOf(projects[1]!);
  const mounts = JSON.parse((await execa('docker', ['inspect', '--format', '{{json .Mounts}}', c.id])).stdout) as { RW: boolean; Destination: string }[];
  assert.equal(mounts.map((m) => [m.Destination, m.RW]), [['/models/llm.gguf', false]]);
});

test('status and models list say ready; the next plan has no changes', async () => {
  const s = await run('status');
  assert.match(String(s.stdout), new RegExp(`runtimes\\.${L}\\s+in-sync\\s+in sync, ready`));
  assert.match(String(s.stdout), new RegExp(`runtimes\\.${W}\\s+in-sync\\s+in sync, ready`));
  const l = await run('models', 'list');
  assert.is(l.exitCode, 0, out(l));
  assert.match(String(l.stdout), new RegExp(`${L}\\s+file\\s+\\S+\\s+present\\s+yes\\s+-\\s+\\S+ KB\\s+llama\\.cpp\\s+${images.openai.replace(/[.:]/g, '\\$&')}\\s+${lPort}\\s+ready`));
  const j = JSON.parse(String((await run('models', 'list', '--json')).stdout)) as { models: { name: string; runtime: string; port: number; ready: string }[] };
  assert.equal(j.models.map((m) => [m.name, m.runtime, m.port, m.ready]), [[W, 'whisper.cpp', wPort, 'ready'], [L, 'llama.cpp', lPort, 'ready']]);
  const p = await run('plan');
  assert.match(String(p.stdout), 'No changes.');
});

test('drift: a stopped server is started again and waited for', async () => {
  await execa('docker', ['stop', (await containerOf(projects[1]!)).id]);
  const p = await run('plan');
  assert.match(String(p.stdout), `runtimes.${L}.server will be started`);
  const r = await run('apply', '--auto-approve');
  assert.is(r.exitCode, 0, out(r));
  assert.match(String(r.stdout), `runtimes.${L}: ready`);
  assert.ok((await containerOf(projects[1]!)).running);
});

test('drift: the model file changed under a running server → downloaded again and the server restarted', async () => {
  const before = await containerOf(projects[1]!);
  appendFileSync(path.join(tmp.dir, 'models', 'llm.gguf'), 'tampered');
  const p = await run('plan');
  assert.match(String(p.stdout), `models.${L} will be downloaded again`);
  assert.match(String(p.stdout), `runtimes.${L}.server will be restarted (because the model file`);
  const r = await run('apply', '--auto-approve');
  assert.is(r.exitCode, 0, out(r));
  const after = await containerOf(projects[1]!);
  assert.is(after.id, before.id, 'the same container');
  assert.is.not(after.started, before.started, 'started again');
  assert.is(JSON.parse((await request(lPort, 'GET', '/v1/models')).body).data[0].meta.sha256, sha256(llmV1));
  assert.match(String((await run('plan')).stdout), 'No changes.');
});

test('a new file version in the manifest → the server is recreated and serves the new file', async () => {
  writeManifest({ file: 'llm-v2.gguf', data: llmV2 });
  const p = await run('plan');
  assert.match(String(p.stdout), `runtimes.${L}.server will be recreated`);
  const r = await run('apply', '--auto-approve');
  assert.is(r.exitCode, 0, out(r));
  assert.is(JSON.parse((await request(lPort, 'GET', '/v1/models')).body).data[0].meta.sha256, sha256(llmV2));
});

test('models stop NAME / models start NAME bring one runtime down and up through apply', async () => {
  const stop = await run('models', 'stop', L, '--auto-approve');
  assert.is(stop.exitCode, 0, out(stop));
  assert.equal(await projectLeftovers(projects[1]!), []);
  assert.ok((await containerOf(projects[0]!)).running, 'the other runtime is untouched');
  const l = JSON.parse(String((await run('models', 'list', '--json')).stdout)) as { models: { name: string; ready: string }[] };
  assert.is(l.models.find((m) => m.name === L)!.ready, 'down');
  const start = await run('models', 'start', L, '--auto-approve');
  assert.is(start.exitCode, 0, out(start));
  assert.match(String(start.stdout), `runtimes.${L}: ready: 127.0.0.1:${lPort} answers with ${L}`);
});

test('a port another runtime already uses is a plan error; apply starts nothing', async () => {
  const P = `rtp${id}`;
  writeManifest(
    { file: 'llm-v2.gguf', data: llmV2 },
    `  ${P}:
    provider: file
    url: ${server.url}/llm-v1.gguf
    sha256: ${sha256(llmV1)}
    path: ./models/other.gguf
    runtime: vllm
    port: ${lPort}
    image: ${images.openai}
`,
  );
  const r = await run('apply', '--auto-approve');
  assert.is(r.exitCode, 1, out(r));
  assert.match(out(r), `port 127.0.0.1:${lPort} is also runtimes.${L}'s`);
  assert.equal(await projectLeftovers(`pmoves-runtime-${P}`), []);
  assert.not.ok(existsSync(path.join(tmp.dir, 'models', 'other.gguf')), 'nothing downloaded either');
  writeManifest({ file: 'llm-v2.gguf', data: llmV2 });
});

test('teardown: a manifest without the models removes the servers, their networks, the files and the compose folder', async () => {
  writeFileSync(manifest, 'apiVersion: pmoves.ai/mini/v1\n');
  const p = await run('plan');
  assert.match(String(p.stdout), `runtimes.${L} will be torn down`);
  assert.not.match(String(p.stdout), 'volumes are kept');
  const r = await run('apply', '--auto-approve');
  assert.is(r.exitCode, 0, out(r));
  const o = String(r.stdout);
  assert.ok(o.indexOf(`runtimes.${L}: Destruction complete`) < o.indexOf(`models.${L}: Destroying...`), 'the server is gone before its file is deleted');
  for (const project of projects) assert.equal(await projectLeftovers(project), [], project);
  assert.not.ok(existsSync(path.join(home, 'runtimes')), 'no generated compose files left');
  assert.not.ok(existsSync(path.join(tmp.dir, 'models', 'llm.gguf')));
  assert.match(String((await run('plan')).stdout), 'No changes.');
});

test.run();
