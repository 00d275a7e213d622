import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Resource } from '../src/core/types.js';
import { buildGraph, findCycles, withDependencies } from '../src/manifest/graph.js';

const t = suite('graph');
const r = (address: string, dependsOn: string[] = []): Resource => ({ address, section: address.split('.')[0]!, name: address.split('.')[1]!, spec: {}, dependsOn });

t('cycles are found and named in order', () => {
  assert.equal(findCycles([r('a.x', ['a.y']), r('a.y', ['a.z']), r('a.z', ['a.x'])]), [['a.x', 'a.y', 'a.z', 'a.x']]);
  assert.equal(findCycles([r('a.x', ['a.y']), r('a.y')]), []);
});

t('targets pull in their dependencies only', () => {
  const rs = [r('a.x', ['a.y']), r('a.y', ['a.z']), r('a.z'), r('a.w')];
  assert.equal([...withDependencies(rs, ['a.x'])].sort(), ['a.x', 'a.y', 'a.z']);
});

t('implicit kind order: later kinds wait for earlier ones unless that would invert an explicit dependency', () => {
  const g = buildGraph([
    { address: 'secrets.a', dependsOn: [], order: 10 },
    { address: 'secrets.b', dependsOn: ['mcp.m'], order: 10 },
    { address: 'stacks.s', dependsOn: [], order: 20 },
    { address: 'mcp.m', dependsOn: [], order: 40 },
  ]);
  assert.equal([...g.waitsFor.get('stacks.s')!].sort(), ['secrets.a', 'secrets.b']);
  assert.equal([...g.waitsFor.get('mcp.m')!].sort(), ['secrets.a', 'stacks.s']);
  assert.equal([...g.waitsFor.get('secrets.b')!], ['mcp.m']);
  assert.equal(g.deps.get('secrets.b'), ['mcp.m']);
});

t.run();
