// The graph's pure parts as tables: compose services merged across files and filtered by profiles,
// edges from depends_on in both forms, GPU marks, and the state each node gets from the plan, the
// watcher's last run or the state file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildGraphModel, composeServices } from '../src/ui/graph-model.js';
import { nodeStates } from '../src/ui/graph-data.js';
import type { Plan } from '../src/planner/plan.js';

test('compose services: later files override a service\'s keys; profiles and services: filter', () => {
  const docs = [
    { services: { db: { image: 'a' }, llm: { image: 'b', profiles: ['gpu'] }, tool: { image: 'c', profiles: ['tools'] } } },
    { services: { db: { image: 'a2', depends_on: ['cache'] }, cache: { image: 'd' } } },
    'not a compose file',
  ];
  const all = composeServices(docs, { profiles: ['gpu'], only: null });
  assert.equal(Object.keys(all).sort(), ['cache', 'db', 'llm']);
  assert.equal(all.db, { image: 'a2', depends_on: ['cache'] });
  assert.equal(Object.keys(composeServices(docs, { profiles: [], only: ['tool'] })), ['tool']);
});

test('nodes and edges: explicit depends_on between resources, service depends_on (list and map), GPU marked, unknown targets dropped', () => {
  const g = buildGraphModel({
    resources: [
      { address: 'stacks.core', dependsOn: ['secrets.env', 'secrets.gone'] },
      { address: 'secrets.env', dependsOn: [] },
    ],
    services: new Map([['stacks.core', { api: { depends_on: { db: { condition: 'service_healthy' } } }, db: {}, llm: { gpus: 'all', depends_on: ['api', 'nowhere'] } }]]),
    states: new Map(),
  });
  assert.equal(g.nodes.map((n) => [n.id, n.type, n.parent ?? '', n.gpu ?? '', n.state]), [
    ['stacks.core', 'resource', '', '', 'unknown'],
    ['stacks.core/api', 'service', 'stacks.core', '', 'unknown'],
    ['stacks.core/db', 'service', 'stacks.core', '', 'unknown'],
    ['stacks.core/llm', 'service', 'stacks.core', 'gpus: all', 'unknown'],
    ['secrets.env', 'resource', '', '', 'unknown'],
  ]);
  assert.equal(g.edges.map((e) => `${e.from}->${e.to}`), ['stacks.core->secrets.env', 'stacks.core/api->stacks.core/db', 'stacks.core/llm->stacks.core/api']);
});

const plan = (changes: unknown[], diagnostics: unknown[] = []) => ({ changes, diagnostics }) as unknown as Plan;

test('node states: state file < last run < plan; a service takes its part\'s action; a plan error wins', () => {
  const cases: [string, Parameters<typeof nodeStates>[0], Record<string, string>][] = [
    ['never applied', {}, {}],
    ['applied, no run seen', { applied: ['secrets.env'] }, { 'secrets.env': 'applied' }],
    ['the last run', { applied: ['secrets.env'], watch: { resources: { 'secrets.env': { result: 'failed', error: 'boom', at: '' } } } as never }, { 'secrets.env': 'failed' }],
    [
      'the plan, with parts',
      { watch: { resources: { 'stacks.core': { result: 'ok', at: '' } } } as never, plan: plan([{ address: 'stacks.core', action: 'update', reason: 'r', parts: [{ address: 'stacks.core.api', action: 'replace', reason: 'image changed' }] }]) },
      { 'stacks.core': 'update', 'stacks.core/api': 'replace' },
    ],
    ['a plan error', { plan: plan([{ address: 'secrets.env', action: 'create', reason: 'r' }], [{ severity: 'error', address: 'secrets.env', summary: 'bad bundle' }]) }, { 'secrets.env': 'error' }],
  ];
  for (const [name, input, want] of cases) {
    assert.equal(Object.fromEntries([...nodeStates(input)].map(([a, s]) => [a, s.state])), want, name);
  }
});

test.run();
