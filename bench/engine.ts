// Engine figures: cold start, and plan/apply of generated manifests with 10, 100 and 1000 secrets.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repeat, runNode } from './measure.js';
import type { Row } from './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'dist', 'src', 'cli.js');
const bundle = path.join(root, 'examples', 'quickstart', 'env.cgp.json');

function manifest(dir: string, n: number): string {
  copyFileSync(bundle, path.join(dir, 'env.cgp.json'));
  const lines = ['apiVersion: pmoves.ai/mini/v1', 'secrets:'];
  for (let i = 0; i < n; i++) lines.push(`  s${i}:`, `    bundle: env.cgp.json`, `    env_file: out/env.${i}`);
  const file = path.join(dir, 'pmoves.mini.yaml');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

export async function bench(): Promise<Row[]> {
  const rows: Row[] = [];
  const env = { ...process.env, NO_COLOR: '1' };
  const v = repeat(7, () => runNode([cli, '--version'], env));
  rows.push({ name: 'cold start: --version', ms: v.ms, rssMb: v.rssMb, target: '< 150 ms', ok: v.ms < 150 });
  const h = repeat(5, () => runNode([cli, 'mini', '--help'], env));
  rows.push({ name: 'cold start: mini --help', ms: h.ms, rssMb: h.rssMb });
  for (const n of [10, 100, 1000]) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pmoves-bench-'));
    try {
      const file = manifest(dir, n);
      const e = { ...env, PMOVES_HOME: path.join(dir, 'home') };
      const first = runNode([cli, 'mini', 'apply', '--auto-approve', '-m', file], e);
      if (first.status !== 0) throw new Error(`apply of ${n} resources exited ${first.status}`);
      rows.push({ name: `first apply, ${n} secrets`, ms: first.ms, rssMb: first.rssMb });
      const p = repeat(5, () => runNode([cli, 'mini', 'plan', '-m', file], e));
      rows.push({ name: `no-op plan, ${n} secrets`, ms: p.ms, rssMb: p.rssMb, ...(n === 1000 ? { target: '< 1500 ms', ok: p.ms < 1500 } : {}) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}
