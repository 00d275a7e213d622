// Model runtimes before anything starts: the image and GPU reservation per hardware (this CPU machine,
// and the recorded RTX desktop, laptop and Jetson through PMOVES_SYSROOT / PMOVES_RECORDED_COMMANDS),
// a GPU-only runtime named in the plan on a machine that cannot run it (apply then starts and downloads
// nothing), the VRAM and port budget, and manifest mistakes with their file:line:column.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, repoRoot, tempDir } from './helpers.js';
import { composeText } from '../src/reconcilers/runtimes/compose.js';
import { runtimeBudget } from '../src/reconcilers/models/budget.js';
import { projectLeftovers } from './models-runtime-helpers.js';

const tmp = tempDir('pmoves-runtime-plan-');
const home = path.join(tmp.dir, 'home');
const manifest = path.join(tmp.dir, 'pmoves.mini.yaml');
const id = `${process.pid}${Date.now().toString(36)}`;
const SHA = 'a'.repeat(64);
const machines = path.join(repoRoot, 'test', 'fixtures', 'machines');
const on = (m: string) => ({ PMOVES_SYSROOT: path.join(machines, m, 'root'), PMOVES_RECORDED_COMMANDS: path.join(machines, m, 'commands.json') });

function model(name: string, runtime: string, port: number, extra = ''): string {
  return `  ${name}:
    provider: file
    url: http://127.0.0.1:9/${name}.bin
    sha256: ${SHA}
    size: 4 GB
    path: ./models/${name}.bin
    runtime: ${runtime}
    port: ${port}
${extra}`;
}

function write(models: string): void {
  writeFileSync(manifest, `apiVersion: pmoves.ai/mini/v1\nmodels:\n${models}`);
}

const run = (env: Record<string, string>, ...args: string[]) => cli(['mini', ...args, '-m', manifest], { home, cwd: tmp.dir, env, timeout: 120_000 });
const out = (r: { stdout: unknown; stderr: unknown }) => `${String(r.stdout)}\n${String(r.stderr)}`;

const W = `rpw${id}`;
const T = `rpt${id}`;

test.before(() => {
  mkdirSync(home, { recursive: true });
});
test.after(() => tmp.cleanup());

test('this CPU machine: whisper.cpp gets its CPU image and no GPU; trt-llm (GPU only) is named in the plan and apply starts nothing', async () => {
  write(model(W, 'whisper.cpp', 28431) + model(T, 'trt-llm', 28432));
  const p = await run({}, 'plan');
  const o = out(p);
  assert.match(o, `! runtimes.${T} trt-llm needs an NVIDIA GPU (it has no CPU build) and this machine has no NVIDIA GPU: models.${T} cannot be served here`);
  assert.match(o, 'image    = "ghcr.io/ggml-org/whisper.cpp:main"');
  assert.match(o, `whisper-server --host 0.0.0.0 --port 8080 -m /models/${W}.bin --no-gpu`);
  assert.not.match(o, 'reservations');
  const a = await run({}, 'apply', '--auto-approve');
  assert.is(a.exitCode, 1, out(a));
  assert.match(out(a), `runtimes.${T}`);
  assert.equal(await projectLeftovers(`pmoves-runtime-${W}`), []);
  assert.not.ok(existsSync(path.join(tmp.dir, 'models')), 'nothing downloaded');
  assert.not.ok(existsSync(path.join(home, 'runtimes')), 'no generated compose file left by a plan');
});

test('the recorded RTX desktop: CUDA images, one GPU reserved per runtime, VRAM counted against its 32 GB', async () => {
  write(model(W, 'whisper.cpp', 28431) + model(T, 'trt-llm', 28432) + model(`rpv${id}`, 'vllm', 28433, '    gpus: 1\n    context_size: 8192\n    quantization: awq\n'));
  const p = await run(on('rtx-desktop'), 'plan');
  const o = out(p);
  assert.not.match(o, /^! /m, o);
  assert.match(o, 'image    = "ghcr.io/ggml-org/whisper.cpp:main-cuda"');
  assert.match(o, 'image    = "nvcr.io/nvidia/tensorrt-llm/release:latest"');
  assert.match(o, 'image    = "vllm/vllm-openai:latest"');
  assert.match(o, '"--max-model-len", "8192", "--quantization", "awq"');
  // (compose v1 prints the keys sorted, v2 in the file's order)
  assert.is(o.match(/\+ devices = \[\{"capabilities":\["gpu"\],("driver":"nvidia","count":1|"count":1,"driver":"nvidia")\}\]/g)?.length, 3, o);
  assert.match(o, /VRAM: 17\.7 GB of 31\.8 GB/);
});

test('the recorded RTX desktop: runtimes that do not fit in its VRAM together are a plan error', async () => {
  write(model(W, 'llama.cpp', 28431, '    vram: 20 GB\n') + model(T, 'vllm', 28432, '    vram: 20 GB\n'));
  const a = await run(on('rtx-desktop'), 'apply', '--auto-approve');
  assert.is(a.exitCode, 1, out(a));
  assert.match(out(a), 'the runtimes need 40 GB of VRAM together, the GPU has 31.8 GB');
});

test('the recorded laptop (NVIDIA GPU, no NVIDIA container runtime): whisper.cpp falls back to its CPU build; trt-llm says why not', async () => {
  write(model(W, 'whisper.cpp', 28431) + model(T, 'trt-llm', 28432));
  const o = out(await run(on('laptop'), 'plan'));
  assert.match(o, 'image    = "ghcr.io/ggml-org/whisper.cpp:main"');
  assert.match(o, `! runtimes.${T} trt-llm needs an NVIDIA GPU (it has no CPU build) and the NVIDIA container runtime is not installed`);
});

test('the recorded Jetson: L4T images and the nvidia runtime instead of a device reservation', async () => {
  write(model(W, 'llama.cpp', 28431, '    size: 1 GB\n'.replace('size', 'vram')));
  const o = out(await run(on('jetson-orin-nano'), 'plan'));
  assert.match(o, 'image    = "dustynv/llama_cpp:r36.4.0"');
  assert.match(o, 'hardware = "jetson"');
  assert.match(o, '+ runtime = "nvidia"');
  assert.not.match(o, 'reservations');
});

test('two runtimes on one port: a plan error naming both, before anything starts', async () => {
  write(model(W, 'whisper.cpp', 28431) + model(T, 'llama.cpp', 28431));
  const p = await run({}, 'plan');
  assert.match(out(p), `! runtimes.${T} port 127.0.0.1:28431 is also runtimes.${W}'s: two runtimes cannot listen on one port`);
});

test('manifest mistakes: a runtime on an Ollama model, runtime options without a runtime, a runtimes section', async () => {
  writeFileSync(manifest, `apiVersion: pmoves.ai/mini/v1\nmodels:\n  a:\n    provider: ollama\n    model: qwen2.5:7b\n    runtime: vllm\n  b:\n    provider: file\n    url: http://127.0.0.1:9/b.bin\n    sha256: ${SHA}\n    port: 8000\n`);
  const r = await run({}, 'plan');
  assert.is(r.exitCode, 1);
  assert.match(out(r), 'pmoves.mini.yaml:6:14');
  assert.match(out(r), 'models.a.runtime: an Ollama model is served by Ollama');
  assert.match(out(r), 'pmoves.mini.yaml:11:11');
  assert.match(out(r), 'models.b.port: a runtime option: only with runtime: whisper.cpp | llama.cpp | vllm | trt-llm');
  writeFileSync(manifest, `apiVersion: pmoves.ai/mini/v1\nruntimes:\n  x:\n    image: foo\n`);
  const s = await run({}, 'plan');
  assert.is(s.exitCode, 1);
  assert.match(out(s), 'pmoves.mini.yaml:4:5: runtimes.x: runtimes are not written in a manifest: declare runtime:');
  assert.not.match(out(s), /at .*\.js:\d+/, 'no stack trace');
});

test('compose file (pure): the model mounted read-only, the port on 127.0.0.1 only, labels for the model and its sha256', () => {
  const text = composeText({
    model: 'models.m', runtime: 'llama.cpp', image: 'img', image_from: 'table', image_bytes: null, hardware: 'cuda', gpu: 'devices', gpus: 2, gpu_problem: null,
    port: 18080, container_port: 8080, context_size: 2048, quantization: null, served_name: 'm', file: '/data/m.gguf', sha256: SHA, file_bytes: null,
    vram_gb: null, vram_total_gb: null, state: 'up', ready_timeout: 60, project: 'p', compose_file: '/h/runtimes/m/compose.yaml', compose_command: null,
  });
  assert.match(text, '127.0.0.1:18080:8080');
  assert.match(text, 'read_only: true');
  assert.match(text, `ai.pmoves.model.sha256: ${SHA}`);
  assert.match(text, 'count: 2');
  assert.match(text, '- -ngl');
});

test('budget (pure): ports, images to pull where known, VRAM', () => {
  const base = { up: true, image: 'i', image_present: false, vram_total_gb: 24 };
  const b = runtimeBudget([
    { ...base, address: 'runtimes.a', port: 1, image_bytes: 2e9, vram_gb: 10 },
    { ...base, address: 'runtimes.b', port: 2, image_bytes: null, vram_gb: 10 },
    { ...base, address: 'runtimes.c', port: 3, image_bytes: 1e9, vram_gb: null, up: false },
  ]);
  assert.is(b.summary, 'Runtimes: 2 on 127.0.0.1:1, 2; images: ~2.0 GB to pull + 1 of unknown size; VRAM: 20 GB of 24 GB');
  assert.equal(b.diagnostics, []);
  assert.is(runtimeBudget([{ ...base, address: 'runtimes.a', port: 1, image_bytes: null, vram_gb: 30 }]).diagnostics.length, 1);
});

test.run();
