// CHIT secrets: encoding and signing in process, and the CLI's encode/init as a user runs them.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeSecretMap, parseBundleDoc, serializeBundle, signBundle, verifyBundle } from '../src/providers/chit/codec.js';
import { median, repeat, runNode } from './measure.js';
import type { Row } from './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'dist', 'src', 'cli.js');
const fixtures = process.env.PMOVES_FIXTURES ?? path.resolve(root, '..', 'shared', 'fixtures', 'pmoves');

function time(n: number, f: () => void): number {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    f();
    xs.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  return median(xs);
}

export async function bench(): Promise<Row[]> {
  const rows: Row[] = [];
  const secrets = new Map(Array.from({ length: 1000 }, (_, i) => [`SECRET_${String(i).padStart(4, '0')}`, `value-${i}-héllo-${'x'.repeat(40)}`]));
  const encodeMs = time(9, () => void serializeBundle(encodeSecretMap(secrets, { namespace: 'pmoves.secrets', description: 'd', includeCleartext: true })));
  rows.push({ name: 'encode + serialise a bundle, 1000 labels (in process)', ms: encodeMs, target: '< 200 ms', ok: encodeMs < 200 });
  const text = serializeBundle(signBundle(encodeSecretMap(secrets, { namespace: 'pmoves.secrets', description: 'd', includeCleartext: false }), 'bench-pass'));
  const verifyMs = time(9, () => {
    if (verifyBundle(parseBundleDoc(text, 'b'), 'bench-pass').status !== 'valid') throw new Error('bench bundle does not verify');
  });
  rows.push({ name: 'parse + verify a signed bundle, 1000 labels (in process)', ms: verifyMs, target: '< 200 ms', ok: verifyMs < 200 });

  const dir = mkdtempSync(path.join(os.tmpdir(), 'pmoves-bench-secrets-'));
  try {
    writeFileSync(path.join(dir, 'env.shared'), [...secrets].map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
    const env = { ...process.env, NO_COLOR: '1', PMOVES_HOME: path.join(dir, 'home') };
    const enc = repeat(5, () => runNode([cli, 'mini', 'secrets', 'encode', '--env-file', 'env.shared', '--out', 'b.json'], env, dir));
    rows.push({ name: 'pmoves mini secrets encode, 1000 keys (CLI)', ms: enc.ms, rssMb: enc.rssMb, target: '< 1000 ms', ok: enc.ms < 1000 });
    mkdirSync(path.join(dir, 'pmoves/chit'), { recursive: true });
    mkdirSync(path.join(dir, 'pmoves/pmoves/data/chit'), { recursive: true });
    copyFileSync(path.join(fixtures, 'chit/secrets_manifest.yaml'), path.join(dir, 'pmoves/chit/secrets_manifest.yaml'));
    copyFileSync(path.join(fixtures, 'chit/env.cleartext.cgp.json'), path.join(dir, 'pmoves/pmoves/data/chit/env.cgp.json'));
    const init = repeat(5, () => runNode([cli, 'mini', 'init'], env, dir));
    rows.push({ name: "pmoves mini init on upstream's 85-entry secrets manifest (CLI)", ms: init.ms, rssMb: init.rssMb, target: '< 1000 ms', ok: init.ms < 1000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
