// `pmoves mini graph` through the built CLI: two stacks (one depends on the other), services with
// depends_on (list and map forms) and a GPU-gated service, in every format; --plan colours what the
// plan would create (read against the real Docker Engine; nothing is created).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, tempDir } from './helpers.js';

const tmp = tempDir('pmoves-graph-');
const home = path.join(tmp.dir, 'home');
const manifest = path.join(tmp.dir, 'pmoves.mini.yaml');
const tag = `pmg-${process.pid}-${Date.now().toString(36)}`;
writeFileSync(
  path.join(tmp.dir, 'app.yml'),
  `services:
  db:
    image: pmoves-test/busybox:latest
  api:
    image: pmoves-test/busybox:latest
    depends_on: [db]
  llm:
    image: pmoves-test/busybox:latest
    depends_on:
      api: { condition: service_started }
    deploy:
      resources:
        reservations:
          devices: [{ driver: nvidia, count: 1, capabilities: [gpu] }]
  extra:
    image: pmoves-test/busybox:latest
    profiles: [extra]
`,
);
writeFileSync(path.join(tmp.dir, 'base.yml'), 'services:\n  cache:\n    image: pmoves-test/busybox:latest\n');
writeFileSync(
  manifest,
  `apiVersion: pmoves.ai/mini/v1
stacks:
  base:
    project: ${tag}-base
    files: [base.yml]
  app:
    project: ${tag}-app
    files: [app.yml]
    depends_on: [stacks.base]
`,
);
const run = (args: string[]) => cli(['mini', 'graph', '-m', manifest, ...args], { env: { PMOVES_HOME: home } });

test('json: resources, services, depends_on edges, GPU marked, inactive profiles left out', async () => {
  const r = await run(['--format', 'json']);
  assert.is(r.exitCode, 0, String(r.stderr));
  const g = JSON.parse(String(r.stdout));
  const ids = g.nodes.map((n: { id: string }) => n.id).sort();
  assert.equal(ids, ['stacks.app', 'stacks.app/api', 'stacks.app/db', 'stacks.app/llm', 'stacks.base', 'stacks.base/cache']);
  const edges = g.edges.map((e: { from: string; to: string }) => `${e.from}->${e.to}`).sort();
  assert.equal(edges, ['stacks.app->stacks.base', 'stacks.app/api->stacks.app/db', 'stacks.app/llm->stacks.app/api']);
  const llm = g.nodes.find((n: { id: string }) => n.id === 'stacks.app/llm');
  assert.match(llm.gpu, /driver nvidia/);
  assert.is(g.nodes.find((n: { id: string }) => n.id === 'stacks.app/db').gpu, undefined);
  for (const n of g.nodes) assert.is(n.state, 'unknown'); // never applied, no watcher
});

test('dot and mermaid: clusters per stack, GPU label, one edge per dependency', async () => {
  const dot = String((await run([])).stdout);
  assert.match(dot, /^digraph pmoves \{/);
  assert.match(dot, /subgraph cluster_\d+ \{\n\s+label="stacks.app";/);
  assert.match(dot, /"stacks.app\/llm" \[label="llm \[GPU\]\\nunknown"/);
  assert.match(dot, /"stacks.app" -> "stacks.base";/);
  const mm = String((await run(['--format', 'mermaid'])).stdout);
  assert.match(mm, /^flowchart LR\n/);
  assert.match(mm, /subgraph n\d+_group\["stacks.app"\]/);
  assert.is((mm.match(/ --> /g) ?? []).length, 3);
});

test('svg: laid out in-process (no system Graphviz), every node drawn', async () => {
  const out = path.join(tmp.dir, 'g.svg');
  const r = await cli(['mini', 'graph', '-m', manifest, '--format', 'svg', '--out', out], { env: { PMOVES_HOME: home, PATH: path.dirname(process.execPath) } });
  assert.is(r.exitCode, 0, String(r.stderr));
  const svg = (await import('node:fs')).readFileSync(out, 'utf8');
  assert.match(svg, /<svg [^>]*viewBox=/);
  for (const id of ['stacks.app/llm', 'stacks.base/cache']) assert.ok(svg.includes(`<title>${id}</title>`), id);
});

test('--plan: nodes coloured by what the plan would do', async () => {
  const r = await run(['--plan', '--format', 'json']);
  assert.is(r.exitCode, 0, String(r.stderr));
  const g = JSON.parse(String(r.stdout));
  const base = g.nodes.find((n: { id: string }) => n.id === 'stacks.base');
  assert.is(base.state, 'create');
  assert.match(base.reason, /no containers/);
});

test('an invalid manifest: a located error, exit 1, nothing printed on stdout', async () => {
  const bad = path.join(tmp.dir, 'bad.yaml');
  writeFileSync(bad, 'apiVersion: pmoves.ai/mini/v1\nstacks:\n  x:\n    filez: [a.yml]\n');
  const r = await cli(['mini', 'graph', '-m', bad], { env: { PMOVES_HOME: home } });
  assert.is(r.exitCode, 1);
  assert.is(String(r.stdout), '');
  assert.match(String(r.stderr), /bad\.yaml:\d+:\d+/);
  assert.not.match(String(r.stderr), /\n\s+at /);
});

test.after(() => tmp.cleanup());
test.run();
