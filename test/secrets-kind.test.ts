// The secrets kind against upstream's own bundles and env files (read as they are).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeBundle, parseBundleText, type CgpBundle } from '../src/providers/chit/bundle.js';
import { parseEnv, renderEnv } from '../src/providers/chit/env-file.js';
import { secretsKind, selectValues, type SecretsSpec } from '../src/reconcilers/secrets.js';
import { fixtures } from './helpers.js';

const t = suite('secrets-kind');
const chit = path.join(fixtures, 'chit');
const read = (f: string) => readFileSync(path.join(chit, f), 'utf8');
const expected = JSON.parse(read('expected.json')) as Record<string, string>;

t('decodes upstream cleartext and base64 bundles to the encoded map', () => {
  for (const f of ['env.cleartext.cgp.json', 'env.b64.cgp.json', 'signing/env.cleartext.signed.cgp.json']) {
    const m = decodeBundle(JSON.parse(read(f)) as CgpBundle, f);
    assert.equal(Object.fromEntries(m), expected, f);
  }
});

t('text wins over text_b64; later super_nodes win; hex fallback; count and ids are not trusted', () => {
  const b: CgpBundle = {
    meta: { count: 99 },
    super_nodes: [
      { constellations: [{ id: 'x', label: 'A', points: [{ text: 'first', text_b64: Buffer.from('ignored').toString('base64') }] }] },
      {
        constellations: [
          { id: 'x', label: 'A', points: [{ text_b64: Buffer.from('second').toString('base64') }] },
          { label: 'H', points: [{ text_b64: Buffer.from('hexval').toString('hex') }] },
          { label: 'EMPTY', points: [] },
        ],
      },
    ],
  };
  assert.equal(Object.fromEntries(decodeBundle(b)), { A: 'second', H: 'hexval' });
});

t('one point with both: text wins over text_b64 (upstream codec order)', () => {
  const b: CgpBundle = { super_nodes: [{ constellations: [{ label: 'A', points: [{ text_b64: Buffer.from('from-b64').toString('base64'), text: 'from-text' }] }] }] };
  assert.equal(Object.fromEntries(decodeBundle(b)), { A: 'from-text' });
  const onlyB64: CgpBundle = { super_nodes: [{ constellations: [{ label: 'A', points: [{ text_b64: Buffer.from('from-b64').toString('base64') }] }] }] };
  assert.equal(Object.fromEntries(decodeBundle(onlyB64)), { A: 'from-b64' });
});

t('a bad text_b64 names the label, never a value', () => {
  const b: CgpBundle = { super_nodes: [{ constellations: [{ label: 'K', points: [{ text_b64: 'not base64 or hex!' }] }] }] };
  assert.throws(() => decodeBundle(b, 'b.json'), /b\.json: super_nodes\[0\]\.constellations\[0\] \(label K\): text_b64 is neither base64 nor hex of UTF-8 text/);
});

t('bad JSON is located by line and column without quoting the file', () => {
  try {
    parseBundleText('{\n  "a": "hunter2" x\n}', '/tmp/b.json');
    assert.unreachable();
  } catch (err) {
    const m = (err as Error).message;
    assert.match(m, /b\.json:2:\d+: invalid JSON in CHIT bundle/);
    assert.not.match(m, /hunter2/);
  }
});

t('renders the env file upstream writes, byte for byte', () => {
  const values = decodeBundle(JSON.parse(read('env.cleartext.cgp.json')) as CgpBundle);
  const shared = new Map([...values].filter(([k]) => ['SUPABASE_SERVICE_ROLE_KEY', 'SUPABASE_URL', 'MEILI_MASTER_KEY'].includes(k)));
  assert.is(renderEnv(shared), read('env-generation/env.shared.generated'));
  // and reads it back
  assert.equal(parseEnv(read('env-generation/env.shared.generated')), shared);
});

const spec = (over: Partial<SecretsSpec> = {}): SecretsSpec => ({ bundle: '/b', env_file: '/e', include_labels: null, required: [], mode: 0o600, ...over });

t('selectValues: globs, required labels, and newline values are refused by label', () => {
  const r = selectValues(spec({ include_labels: ['SUPABASE_*'], required: ['MEILI_MASTER_KEY'] }), expected);
  assert.equal([...r.values.keys()].sort(), ['MEILI_MASTER_KEY', 'SUPABASE_SERVICE_ROLE_KEY', 'SUPABASE_URL']);
  assert.equal(r.problems, []);
  const all = selectValues(spec(), expected);
  assert.equal(all.problems, ['value of TEST_MULTILINE_VALUE contains a newline and cannot be written on one line of an env file']);
  const missing = selectValues(spec({ include_labels: ['S*'], required: ['NOPE', 'ALSO_NOPE'] }), expected);
  assert.equal(missing.problems, ['required labels missing from the bundle: NOPE, ALSO_NOPE']);
});

t('plan is pure and idempotent: apply result → no-op', () => {
  const ctx = { fingerprint: (v: string) => `fp(${v.length})`, flags: {} };
  const target = { address: 'secrets.env', name: 'env', desired: { address: 'secrets.env', section: 'secrets', name: 'env', spec: spec({ include_labels: ['SUPABASE_*'] }), dependsOn: [] }, prior: undefined };
  const missing = secretsKind.plan(target, { source: expected, file: { exists: false, mode: null, text: null } }, ctx);
  assert.is(missing.action, 'create');
  const text = renderEnv(selectValues(target.desired.spec, expected).values);
  const same = secretsKind.plan(target, { source: expected, file: { exists: true, mode: 0o600, text } }, ctx);
  assert.is(same.action, 'no-op');
  const drift = secretsKind.plan(target, { source: expected, file: { exists: true, mode: 0o644, text: text.replace('SUPABASE_URL=', 'SUPABASE_URL=x') } }, ctx);
  assert.is(drift.action, 'update');
  assert.is(drift.reason, 'keys changed: SUPABASE_URL; file mode 0644 -> 0600');
  assert.not.match(JSON.stringify(drift), /supabase\.example/);
  const gone = secretsKind.plan({ ...target, desired: null, prior: { section: 'secrets', owned: true, data: { env_file: '/e' } } }, { source: null, file: { exists: true, mode: 0o600, text } }, ctx);
  assert.is(gone.action, 'delete');
  const notMine = secretsKind.plan({ ...target, desired: null, prior: { section: 'secrets', owned: false, data: { env_file: '/e' } } }, { source: null, file: { exists: true, mode: 0o600, text } }, ctx);
  assert.is(notMine.action, 'no-op');
});

t.run();
