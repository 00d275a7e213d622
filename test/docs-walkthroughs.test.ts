// Docs are tests: every shell block of README.md and docs/*.md is marked runnable or "not runnable
// here: why", and the runnable ones run as written through test/docs-runner.ts (its header lists the
// only substitutions). One test per page that has runnable blocks; the last test says how many blocks
// ran and how many were skipped, and why.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { linePattern, missingLines, parsePage, runPage, type Block, type BlockResult } from './docs-runner.js';
import { freePort, repoRoot, tempDir } from './helpers.js';

const pages = ['README.md', ...readdirSync(path.join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const blocks = new Map<string, Block[]>(pages.map((p) => [p, parsePage(p, readFileSync(path.join(repoRoot, p), 'utf8'))]));
const results: BlockResult[] = [];

test('the runner: markers, expected output, patterns', () => {
  const b = parsePage('x.md', ['<!-- runnable: port=1884 -->', '', '```sh', 'echo 1884', '```', '<!-- output -->', '```', 'a … b', '```', '<!-- not runnable here: a Jetson -->', '```bash', 'flash', '```', '```sh', 'x', '```', '```yaml', 'a: 1', '```'].join('\n'));
  assert.equal(b.map((x) => [x.line, x.marker.kind]), [[3, 'runnable'], [11, 'skip'], [14, 'none']]);
  assert.equal(b[0]!.marker, { kind: 'runnable', opts: { port: '1884' } });
  assert.equal(b[0]!.expect, ['a … b']);
  const opts = parsePage('y.md', ['<!-- runnable: copy=test/fixtures/upstream/checkout:PMOVES.AI ollama=embeddinggemma:300m esp32=/dev/ttyACM0 npx=local -->', '```sh', 'true', '```'].join('\n'))[0]!.marker;
  assert.equal(opts, { kind: 'runnable', opts: { copy: 'test/fixtures/upstream/checkout:PMOVES.AI', ollama: 'embeddinggemma:300m', esp32: '/dev/ttyACM0', npx: 'local' } }, 'values keep their colons and slashes');
  assert.ok(linePattern('desk-lab   lab  a4996caff20a converged 4s online -').test('desk-lab lab 0123456789ab converged 17s online -'));
  assert.equal(missingLines(['desk-lab lab a4996caff20a converged 4s online -'], 'desk-lab   lab   0123456789ab  converged  17s  online  -\n'), [], 'spaces do not count');
  assert.not.ok(linePattern('desk-lab lab a4996caff20a converged 4s online -').test('desk-lab lab 0123456789ab blocked 17s online behind'));
  assert.equal(missingLines(['one', 'two …'], 'one\nthree\ntwo and more\n'), []);
  assert.equal(missingLines(['two', 'one'], 'one\ntwo\n'), ['one'], 'in order');
});

test('every shell block is marked runnable or not runnable here (with why)', () => {
  const unmarked = [...blocks.values()].flat().filter((b) => b.marker.kind === 'none').map((b) => `${b.page}:${b.line}`);
  assert.equal(unmarked, [], `mark these blocks <!-- runnable --> or <!-- not runnable here: why -->: ${unmarked.join(', ')}`);
});

for (const [page, bs] of blocks) {
  if (!bs.some((b) => b.marker.kind === 'runnable')) {
    results.push(...bs.map((b) => ({ block: b, status: 'skipped' as const, output: '', reason: b.marker.kind === 'skip' ? b.marker.reason : 'no marker' })));
    continue;
  }
  test(`${page}: its runnable blocks run as written`, async () => {
    const t = tempDir('pmoves-docs-');
    try {
      const r = await runPage(bs, { repo: repoRoot, freePort, tmp: t.dir });
      results.push(...r);
      const bad = r.filter((x) => x.status === 'failed');
      assert.equal(
        bad.map((x) => `${page}:${x.block.line}`),
        [],
        bad.map((x) => `${page}:${x.block.line}: ${x.reason}\n--- its output (last 40 lines):\n${x.output.split('\n').slice(-40).join('\n')}`).join('\n\n'),
      );
    } finally {
      t.cleanup();
    }
  });
}

test('the count: blocks run and skipped, and why', () => {
  const ran = results.filter((r) => r.status === 'ok' || r.status === 'failed');
  const skipped = results.filter((r) => r.status === 'skipped' || r.status === 'not-run');
  const why = new Map<string, number>();
  for (const s of skipped) why.set(s.reason ?? '', (why.get(s.reason ?? '') ?? 0) + 1);
  process.stdout.write(`\ndocs: ${ran.length} block(s) ran (${results.filter((r) => r.status === 'ok').length} ok), ${skipped.length} skipped:\n${[...why].map(([r, n]) => `  ${n} × ${r}`).join('\n')}\n`);
  assert.ok(ran.length > 0, 'some blocks ran');
});

test.run();
