// The pure parts of the models kind as tables: sizes, OLLAMA_HOST, the plan per situation, the budget;
// the bundles every upstream profile names; the Ollama client against the peer in-process.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import type { LoadContext, Target } from '../src/core/kind.js';
import { pmovesHome } from '../src/core/home.js';
import { bundleIds, bundleResources } from '../src/manifest/expanders/model-bundles.js';
import { OllamaClient, ollamaBaseUrl } from '../src/providers/models/ollama.js';
import { formatBytes, parseSize, Progress } from '../src/providers/models/transfer-progress.js';
import { budget, modelsKind, samePath, type ModelActual, type ModelSpec, type OllamaModelActual } from '../src/reconcilers/models/index.js';
import { fixtures } from './helpers.js';
import { OllamaPeer, registryModel } from './ollama-peer.js';

test('formatBytes and parseSize', () => {
  const rows: [unknown, number | undefined][] = [
    ['9.0 GB', 9e9],
    ['461 MiB', 461 * 1024 * 1024],
    ['622 MB', 622e6],
    [6549796, 6549796],
    ['12', 12],
    ['2.88 GiB', Math.round(2.88 * 1024 ** 3)],
    ['nine', undefined],
    [-1, undefined],
  ];
  for (const [input, want] of rows) assert.is(parseSize(input), want, String(input));
  assert.is(formatBytes(19_851_336_256), '19.9 GB');
  assert.is(formatBytes(512), '512 B');
  assert.is(formatBytes(1_048_576), '1.0 MB');
});

test('progress: a bar on a TTY about once a second, a plain line every 5 s otherwise, always the first and the forced last', () => {
  let now = 0;
  const lines: string[] = [];
  const tty = new Progress({ tty: true, log: (l) => lines.push(l), now: () => now, intervalMs: 1000 });
  tty.update(0, 4e9, 'pulling 8934d96d3f08', true);
  now = 500;
  tty.update(1e9, 4e9, 'pulling 8934d96d3f08'); // throttled
  now = 2000;
  tty.update(2e9, 4e9, 'pulling 8934d96d3f08');
  now = 2100;
  tty.update(4e9, 4e9, 'pulling 8934d96d3f08', true);
  assert.equal(lines, [
    'pulling 8934d96d3f08 [........................]   0% 0 B/4.0 GB',
    'pulling 8934d96d3f08 [############............]  50% 2.0 GB/4.0 GB, 1.0 GB/s',
    'pulling 8934d96d3f08 [########################] 100% 4.0 GB/4.0 GB, 1.9 GB/s',
  ]);
  lines.length = 0;
  now = 0;
  const plain = new Progress({ tty: false, log: (l) => lines.push(l), now: () => now, intervalMs: 5000 });
  plain.update(0, 1e6, 'downloading', true);
  for (now = 1000; now <= 6000; now += 1000) plain.update(now * 100, 1e6, 'downloading');
  plain.update(5e5, undefined, 'downloading', true);
  assert.equal(lines, ['downloading: 0 B of 1.0 MB (0%)', 'downloading: 500.0 KB of 1.0 MB (50%), 100.0 KB/s', 'downloading: 500.0 KB, 71.4 KB/s']);
});

test('OLLAMA_HOST is read as the Ollama CLI reads it', () => {
  const rows: [string | undefined, string][] = [
    [undefined, 'http://127.0.0.1:11434'],
    ['', 'http://127.0.0.1:11434'],
    ['0.0.0.0', 'http://0.0.0.0:11434'],
    ['gpu-box:8080', 'http://gpu-box:8080'],
    ['https://ollama.example.invalid', 'https://ollama.example.invalid:443'],
    ['http://10.0.0.5', 'http://10.0.0.5:80'],
    ['http://10.0.0.5:11434/ollama/', 'http://10.0.0.5:11434/ollama'],
    ['[::1]:11434', 'http://[::1]:11434'],
  ];
  for (const [env, want] of rows) assert.is(ollamaBaseUrl(env === undefined ? {} : { OLLAMA_HOST: env }), want, String(env));
});

const digestA = 'a2afe1b0c2d3' + '0'.repeat(52);
const digestB = '46e0aa11bb22' + '1'.repeat(52);

function ollamaTarget(spec: Partial<ModelSpec> | null, owned?: boolean): Target<ModelSpec> {
  const full = spec ? ({ provider: 'ollama', model: 'qwen2.5:14b', digest: null, state: 'present', keep_alive: -1, size: null, ...spec } as ModelSpec) : null;
  return {
    address: 'models.x',
    name: 'x',
    desired: full ? { address: 'models.x', section: 'models', name: 'x', spec: full, dependsOn: [] } : null,
    prior: owned === undefined ? undefined : { section: 'models', owned, data: { provider: 'ollama', model: 'qwen2.5:14b', host: 'h', digest: digestA } },
  };
}

function ollamaActual(present: boolean, loaded = false, digest = digestA, error: string | null = null): OllamaModelActual {
  return { provider: 'ollama', host: 'http://127.0.0.1:11434', error, present: present ? { name: 'qwen2.5:14b', digest, size: 9e9 } : null, loaded: loaded ? { size_vram: 9e9 } : null, volatile: { disk: null } };
}

test('plan: one row per situation (action, verb, reason)', () => {
  const ctx = { fingerprint: (s: string) => s, flags: {} };
  const rows: [string, Target<ModelSpec>, ModelActual, string, string | undefined, RegExp][] = [
    ['missing → pull', ollamaTarget({}), ollamaActual(false), 'create', 'pulled', /is not in Ollama at/],
    ['missing, loaded → pull and load', ollamaTarget({ state: 'loaded' }), ollamaActual(false), 'create', 'pulled and loaded', /is not in Ollama/],
    ['present → no-op', ollamaTarget({}), ollamaActual(true), 'no-op', undefined, /^present$/],
    ['present, loaded wanted → load', ollamaTarget({ state: 'loaded' }), ollamaActual(true), 'update', 'loaded', /^not loaded$/],
    ['loaded, present wanted → no-op', ollamaTarget({}), ollamaActual(true, true), 'no-op', undefined, /present and loaded/],
    ['pinned digest differs → pull again', ollamaTarget({ digest: '46e0aa11bb22' }), ollamaActual(true), 'update', 'pulled again', /^digest a2afe1b0c2d3… -> 46e0aa11bb22…$/],
    ['pinned digest prefix matches → no-op', ollamaTarget({ digest: 'a2afe1b0c2d3' }), ollamaActual(true), 'no-op', undefined, /present/],
    ['unloaded wanted, loaded → unload', ollamaTarget({ state: 'unloaded' }), ollamaActual(true, true), 'update', 'unloaded', /is loaded/],
    ['absent, pulled by us → delete', ollamaTarget({ state: 'absent' }, true), ollamaActual(true), 'delete', 'deleted from Ollama', /this tool pulled it/],
    ['absent, not ours → keep with a warning', ollamaTarget({ state: 'absent' }, false), ollamaActual(true), 'no-op', undefined, /left in place/],
    ['absent and gone → no-op', ollamaTarget({ state: 'absent' }, true), ollamaActual(false), 'no-op', undefined, /^absent$/],
    ['undeclared, ours → delete', ollamaTarget(null, true), ollamaActual(true), 'delete', 'deleted from Ollama', /no longer in the manifest/],
    ['undeclared, not ours → no-op', ollamaTarget(null, false), ollamaActual(true), 'no-op', undefined, /not declared/],
  ];
  for (const [name, t, a, action, verb, reason] of rows) {
    const r = modelsKind.plan(t, a, ctx);
    assert.is(r.action, action, name);
    assert.is(r.verb, verb, name);
    assert.match(r.reason, reason, name);
    assert.not.ok(r.diagnostics?.some((d) => d.severity === 'error'), name);
  }
  const down = modelsKind.plan(ollamaTarget({}), ollamaActual(false, false, digestA, 'Ollama is not reachable at http://127.0.0.1:11434 (OLLAMA_HOST): ECONNREFUSED'), ctx);
  assert.is(down.diagnostics?.[0]?.severity, 'error');
  assert.match(down.diagnostics![0]!.summary, /OLLAMA_HOST/);
  const kept = modelsKind.plan(ollamaTarget({ state: 'absent' }, false), ollamaActual(true), ctx);
  assert.equal(kept.diagnostics?.map((d) => d.severity), ['warning']);
  assert.match(kept.diagnostics![0]!.summary, /not pulled by pmoves mini, so it is not deleted \(apply --force deletes it\)/);
  const forced = modelsKind.plan(ollamaTarget({ state: 'absent' }, false), ollamaActual(true), { ...ctx, flags: { force: true } });
  assert.is(forced.action, 'delete');
  void digestB;
});

test('budget: downloads per filesystem, headroom, an error when it does not fit', () => {
  const disk = { dir: '/data', dev: 1, free: 51e9 };
  const ok = budget([
    { address: 'models.a', bytes: 19.8e9, disk },
    { address: 'models.b', bytes: null, disk },
  ]);
  assert.is(ok.summary, 'Downloads: 19.8 GB (+ 1 of unknown size); disk: needs 20.0 GB, 51.0 GB free');
  assert.equal(ok.diagnostics, []);
  const tight = budget([{ address: 'models.a', bytes: 50.9e9, disk }]);
  assert.is(tight.summary, 'Downloads: 50.9 GB; disk: needs 51.4 GB, 51.0 GB free');
  assert.is(tight.diagnostics.length, 1);
  assert.match(tight.diagnostics[0]!.summary, /^not enough disk space in \/data: the downloads need 51\.4 GB \(with 1% headroom\), 51\.0 GB is free$/);
  assert.match(tight.diagnostics[0]!.detail!, /models\.a 50\.9 GB/);
  const two = budget([
    { address: 'models.a', bytes: 1e9, disk },
    { address: 'models.b', bytes: 2e9, disk: { dir: '/home', dev: 2, free: 10e9 } },
    { address: 'models.c', bytes: 3e9, disk: null },
  ]);
  assert.is(two.summary, 'Downloads: 6.0 GB; disk: needs 1.0 GB, 51.0 GB free on /data; disk: needs 2.0 GB, 10.0 GB free on /home');
  assert.is(budget([]).summary, undefined);
});

test('two file models on one path are an error', () => {
  const t = (name: string, p: string): Target<ModelSpec> => ({
    address: `models.${name}`,
    name,
    prior: undefined,
    desired: { address: `models.${name}`, section: 'models', name, dependsOn: [], spec: { provider: 'file', url: 'http://x/y', sha256: 'a'.repeat(64), size: null, path: p, state: 'present' } },
  });
  assert.equal(samePath([t('a', '/m/x.bin'), t('b', '/m/y.bin')]), []);
  const d = samePath([t('a', '/m/x.bin'), t('b', '/m/x.bin')]);
  assert.is(d.length, 1);
  assert.is(d[0]!.summary, 'models.b and models.a both write /m/x.bin; give one of them another path');
});

test('every bundle upstream profiles name exists, validates and expands into model resources with requirements', async () => {
  const named = new Set<string>();
  for (const f of readdirSync(path.join(fixtures, 'profiles')).filter((n) => n.endsWith('.yaml'))) {
    const p = parse(readFileSync(path.join(fixtures, 'profiles', f), 'utf8')) as { model_bundles?: string[] };
    for (const b of p.model_bundles ?? []) named.add(b);
  }
  assert.equal([...named].sort(), ['jetson-yolov8n', 'ollama-high', 'ollama-medium', 'reranker-qwen-base', 'reranker-qwen-large', 'vllm-large', 'whisper-large', 'whisper-small-int8']);
  const ids = await bundleIds();
  for (const b of named) assert.ok(ids.includes(b), `bundle ${b} is defined`);
  named.add('whisper-medium'); // upstream media.yaml's asr.workstation_5090; the issue names it too
  const home = pmovesHome({ PMOVES_HOME: '/tmp/pmoves-home-x' });
  const ctx: LoadContext = { manifestPath: '/m/pmoves.mini.yaml', manifestDir: '/m', env: {}, home, resolvePath: (p) => path.resolve('/m', p), locate: () => undefined };
  const resources = [];
  for (const b of [...named].sort()) {
    const r = await bundleResources([b], 'profile test', ctx, [modelsKind]);
    assert.equal(r.diagnostics, [], b);
    assert.ok(r.resources.length >= 1, b);
    resources.push(...r.resources);
  }
  for (const r of resources) {
    assert.match(r.origin ?? '', /^profile test, bundle [a-z0-9-]+$/);
    const spec = r.spec as ModelSpec;
    assert.ok(spec.size && spec.size > 0, `${r.address} declares a size`);
    if (spec.provider === 'file') {
      assert.match(spec.sha256, /^[0-9a-f]{64}$/);
      assert.is(path.dirname(spec.path), path.join(home.root, 'models'));
    }
  }
  const byName = new Map(resources.map((r) => [r.name, r] as const));
  assert.is((byName.get('whisper-small')!.spec as ModelSpec).size, 461 * 1024 * 1024);
  assert.equal(byName.get('whisper-small')!.requires, { ram_gb: 2 });
  // ollama-high and ollama-medium both define agent-zero-llm, differently: listing both is an error.
  const both = await bundleResources(['ollama-high', 'ollama-medium'], '', ctx, [modelsKind]);
  assert.match(both.diagnostics.map((d) => d.summary).join('\n'), /bundles ollama-high and ollama-medium both define models\.agent-zero-llm differently/);
  const unknown = await bundleResources(['ollama-hihg'], '', ctx, [modelsKind], () => 'm.yaml:2:11');
  assert.is(unknown.diagnostics[0]!.location, 'm.yaml:2:11');
  assert.match(unknown.diagnostics[0]!.summary, /no model bundle "ollama-hihg"; did you mean "ollama-high"\?/);
});

test('Ollama client: pull error line inside a 200 throws; delete of a missing model is false; show of a missing model is null', async () => {
  const peer = new OllamaPeer();
  await peer.start();
  try {
    peer.addRegistry('m:1', { ...registryModel('m', 4000), failAfter: 1000, failWith: 'disk full' });
    const c = new OllamaClient(peer.url);
    const seen: string[] = [];
    let err: unknown;
    try {
      await c.pull('m:1', (p) => seen.push(p.status));
    } catch (e) {
      err = e;
    }
    assert.match(String((err as Error)?.message), /^pull m:1: disk full$/);
    assert.ok(seen.includes('pulling manifest'));
    assert.is(await c.delete('m:1'), false);
    assert.is(await c.show('m:1'), null);
    peer.addRegistry('m:1', registryModel('m', 4000));
    await c.pull('m:1', () => {});
    assert.ok(await c.show('m:1'));
    assert.is((await c.tags())[0]!.name, 'm:1');
    assert.is(await c.delete('m:1'), true);
  } finally {
    await peer.stop();
  }
});

test.run();
