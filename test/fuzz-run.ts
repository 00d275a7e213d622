// `npm run fuzz`: 10,000+ cases per target (FUZZ_RUNS, FUZZ_SEED, FUZZ_TARGET), one line of figures per target.
// Exits 1 on any internal error, unlocated error or hang.
import { boundsTarget, chitTarget, cliBoundsTarget, envTarget, manifestTarget, mcpTarget, runTarget, type FuzzFigures } from './fuzz-targets.js';

const runs = Number(process.env.FUZZ_RUNS ?? 10_000);
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const m = manifestTarget();
const b = await boundsTarget();
const c = await cliBoundsTarget();
const all: FuzzFigures[] = [];
try {
  // FUZZ_TARGET=manifest (a prefix of a target's name) runs that one only
  const only = process.env.FUZZ_TARGET?.toLowerCase();
  for (const t of [m, chitTarget, envTarget, mcpTarget, b, c].filter((x) => !only || x.name.toLowerCase().startsWith(only))) {
    // the CLI target starts a node process per case: a hundredth of the runs (FUZZ_CLI_RUNS)
    const n = t === c ? Number(process.env.FUZZ_CLI_RUNS ?? Math.max(20, Math.round(runs / 100))) : runs;
    const f = await runTarget(t as Parameters<typeof runTarget>[0], n, seed, t === c ? 30_000 : 5_000);
    all.push(f);
    process.stdout.write(`${f.target.padEnd(20)} ${String(f.cases).padStart(6)} cases  ${f.internal} internal errors  ${f.unlocated} unlocated  ${f.hangs} hangs${t === c ? `  ${c.leftovers} child processes left` : ''}\n`);
    for (const e of f.examples) process.stdout.write(`  ${e}\n`);
  }
} finally {
  m.cleanup();
  b.cleanup();
  c.cleanup();
}
const bad = all.reduce((n, f) => n + f.internal + f.unlocated + f.hangs, 0);
process.stdout.write(`seed ${seed}: ${all.reduce((n, f) => n + f.cases, 0)} cases, ${bad ? `${bad} problems` : '0 internal errors, 0 unlocated, 0 hangs'}\n`);
process.exitCode = bad ? 1 : 0;
