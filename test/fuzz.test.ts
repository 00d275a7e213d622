// The fuzz suite on every `npm test`: a fixed seed, a few thousand cases over four targets.
// Goal (issue 13): 0 internal errors, 0 unlocated errors. `npm run fuzz` runs 10,000+ per target.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { boundsTarget, chitTarget, cliBoundsTarget, envTarget, manifestTarget, mcpTarget, runTarget, type FuzzFigures } from './fuzz-targets.js';

const t = suite('fuzz');
const SEED = 1313;

function clean(f: FuzzFigures) {
  assert.is(f.internal + f.unlocated, 0, `${f.target}: ${f.internal} internal, ${f.unlocated} unlocated\n  ${f.examples.join('\n  ')}`);
}

t('manifest loader: every input is a value or a located error', async () => {
  const m = manifestTarget();
  try {
    const f = await runTarget(m, 1000, SEED);
    assert.is(f.cases, 1000);
    clean(f);
  } finally {
    m.cleanup();
  }
});

t('found by the fuzzer: a NUL in a path is a located error, not an internal one', async () => {
  const m = manifestTarget();
  try {
    const v = await m.check('apiVersion: pmoves.ai/mini/v1\nsecrets:\n  env:\n    bundle: env.cgp.json\n    env_file: out/env\u0000\n');
    assert.equal(v, { ok: true });
  } finally {
    m.cleanup();
  }
});

t('found by the fuzzer: a collection as a key is a located error, with no Node warning printed beside it', async () => {
  const { cli, tempDir } = await import('./helpers.js');
  const { writeFileSync } = await import('node:fs');
  const path = await import('node:path');
  const d = tempDir('pmoves-fuzz-key-');
  try {
    writeFileSync(path.join(d.dir, 'm.yaml'), 'apiVersion: pmoves.ai/mini/v1\nsecrets:\n  ? [a]\n  : 1\n');
    const r = await cli(['mini', 'validate', '-m', path.join(d.dir, 'm.yaml')], { home: path.join(d.dir, 'pm') });
    assert.is(r.exitCode, 1);
    assert.match(String(r.stderr), /m\.yaml:3:3: secrets\.\[ a \]: invalid name/);
    assert.not.match(String(r.stderr), /Warning|trace-warnings/);
  } finally {
    d.cleanup();
  }
});

t('CHIT decoder: a map of strings, or a located error', async () => clean(await runTarget(chitTarget, 1500, SEED)));
t('env-file writer: refuses what it cannot write, and what it writes reads back', async () => clean(await runTarget(envTarget, 1500, SEED)));
t('MCP config editors: the entry reads back as written, or a located syntax error', async () => clean(await runTarget(mcpTarget, 1000, SEED)));

t('paths and bounds (issue 24): FIFOs, devices, folders, loops, long names, $PMOVES_HOME, expansion bombs: located, fast', async () => {
  const b = await boundsTarget();
  try {
    const f = await runTarget(b, 300, SEED);
    clean(f);
    assert.is(f.hangs, 0);
  } finally {
    b.cleanup();
  }
});

t('the same through the built CLI plan: no internal error, no hang, no child process left', async () => {
  const c = await cliBoundsTarget();
  try {
    const f = await runTarget(c, 8, SEED, 30_000);
    clean(f);
    assert.is(c.leftovers, 0);
  } finally {
    c.cleanup();
  }
});

t.run();
