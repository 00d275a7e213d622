// CHIT bundles written byte for byte as upstream writes them, signatures as chit_security makes them,
// env files read as upstream's encoder reads them. Fixtures are read as they are.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeBundle, type CgpBundle } from '../src/providers/chit/bundle.js';
import {
  canonicalBytes,
  encodeSecretMap,
  hashToAnchor,
  keyId,
  parseBundleDoc,
  pythonUtcNow,
  serializeBundle,
  setLabelValue,
  signBundle,
  verifyBundle,
} from '../src/providers/chit/codec.js';
import { dumpsPy, floatRepr, parsePy, PyFloat, PyObject, pyString, toPlain } from '../src/providers/chit/python-json.js';
import { parseEnvUpstream, pySplitLines } from '../src/providers/chit/env-file.js';
import { fixtures } from './helpers.js';

const t = suite('chit-codec');
const chit = path.join(fixtures, 'chit');
const read = (f: string) => readFileSync(path.join(chit, f), 'utf8');
const expected = new Map(Object.entries(JSON.parse(read('expected.json')) as Record<string, string>));
const createdAt = (text: string) => (JSON.parse(text) as { meta: { created_at: string } }).meta.created_at;

t('encode equals upstream bundles byte for byte (cleartext and --no-cleartext)', () => {
  for (const [f, includeCleartext] of [
    ['env.cleartext.cgp.json', true],
    ['env.b64.cgp.json', false],
  ] as const) {
    const want = read(f);
    const doc = encodeSecretMap(expected, { namespace: 'pmoves.secrets', description: 'PMOVES shared secrets', includeCleartext, createdAt: createdAt(want) });
    assert.fixture(serializeBundle(doc), want);
  }
});

t('encode of the sample env file equals upstream (quotes, export, leading spaces, duplicates kept as upstream)', () => {
  const want = read('encode-sample/sample.cgp.json');
  const { values } = parseEnvUpstream(read('encode-sample/sample.env.shared'));
  const doc = encodeSecretMap(values, { namespace: 'pmoves.secrets', description: 'PMOVES shared secrets', includeCleartext: true, createdAt: createdAt(want) });
  assert.fixture(serializeBundle(doc), want);
});

t('env notes name lines and keys, never values', () => {
  const { values, notes } = parseEnvUpstream(read('encode-sample/sample.env.shared'));
  assert.is(values.get('MEILI_MASTER_KEY'), 'second-value-wins');
  assert.is(values.get('QUOTED_VALUE'), '"kept with quotes"');
  assert.ok(values.has('  LEADING_SPACE_KEY'));
  assert.ok(values.has('export EXPORTED'));
  const byLine = new Map(notes.map((n) => [n.line, n.message]));
  assert.match(byLine.get(5)!, /MEILI_MASTER_KEY is set again \(first on line 4\)/);
  assert.match(byLine.get(6)!, /QUOTED_VALUE is quoted/);
  assert.match(byLine.get(10)!, /no "="/);
  assert.match(byLine.get(11)!, /"  LEADING_SPACE_KEY" has spaces/);
  assert.match(byLine.get(12)!, /TRAILING_SPACE has leading or trailing spaces/);
  assert.match(byLine.get(13)!, /"export EXPORTED" keeps the "export " prefix/);
  const all = notes.map((n) => n.message).join('\n');
  for (const v of ['second-value-wins', 'first-value', 'kept with quotes', 'kept-verbatim', 'a=b=c']) assert.not.ok(all.includes(v), v);
});

t("Python's splitlines and lstrip", () => {
  assert.equal(pySplitLines('a\r\nb\rc\u2028d\x85e\n'), ['a', 'b', 'c', 'd', 'e']);
  // U+FEFF is not whitespace for Python: a BOM line starting with '#' is a key line, not a comment
  assert.equal([...parseEnvUpstream('\ufeff#X=1\n\x1c#Y=2\n').values.keys()], ['\ufeff#X']);
});

t('the anchor is sha256-derived (BigInt chunks), as in the fixtures', () => {
  assert.equal(hashToAnchor('pmoves.secrets:MEILI_MASTER_KEY'), [0.628, -0.61, -0.83]);
  assert.equal(hashToAnchor('pmoves.secrets:SUPABASE_URL'), [0.063, -0.588, 0.876]);
});

t("floats as Python's repr, strings as ensure_ascii", () => {
  const table: [number, string][] = [
    [1, '1.0'],
    [0, '0.0'],
    [-0, '-0.0'],
    [-0.61, '-0.61'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [1.5e-7, '1.5e-07'],
    [1e15, '1000000000000000.0'],
    [1e16, '1e+16'],
    [123456789.125, '123456789.125'],
    [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [0.1 + 0.2, '0.30000000000000004'],
  ];
  for (const [x, want] of table) assert.is(floatRepr(x), want, String(x));
  assert.is(pyString('h\u00e9 \u2713 \u{1F600} "q" \\ / \x7f\x01\n'), '"h\\u00e9 \\u2713 \\ud83d\\ude00 \\"q\\" \\\\ / \\u007f\\u0001\\n"');
  assert.is(dumpsPy([], { indent: 2 }), '[]');
  assert.is(dumpsPy(new PyObject(), { indent: 2 }), '{}');
  assert.is(dumpsPy({ b: 1, a: [new PyFloat(2), 3n ** 30n, null, true] }, { sortKeys: true, separators: [',', ':'] }), '{"a":[2.0,205891132094649,null,true],"b":1}');
});

t('parsePy keeps 1.0 vs 1, key order (also integer-like keys) and big ints', () => {
  const text = '{"2": 1.0, "1": 1, "big": 123456789012345678901234567890, "e": 1E2, "s": "\\u00e9\\ud83d\\ude00"}';
  const v = parsePy(text);
  assert.is(dumpsPy(v), '{"2": 1.0, "1": 1, "big": 123456789012345678901234567890, "e": 100.0, "s": "\\u00e9\\ud83d\\ude00"}');
  assert.equal(toPlain(v), { 1: 1, 2: 1, big: 1.2345678901234568e29, e: 100, s: '\u00e9\u{1F600}' });
  for (const bad of ['{"a": }', '[1, 2', '{"a": "x\ny"}', '{"a": 1} x', "{'a': 1}"]) assert.throws(() => parsePy(bad));
});

t('every fixture bundle re-serialises to its own bytes', () => {
  for (const f of ['env.cleartext.cgp.json', 'env.b64.cgp.json', 'encode-sample/sample.cgp.json', 'signing/env.cleartext.signed.cgp.json', 'signing/geometry.anchors.encrypted.signed.json', 'signing/geometry.anchors.plain.json']) {
    assert.fixture(serializeBundle(parseBundleDoc(read(f), f)), read(f));
  }
});

t('signing: canonical bytes, signature and key id equal upstream sign_cgp', () => {
  const doc = parseBundleDoc(read('env.cleartext.cgp.json'), 'x');
  assert.fixture(canonicalBytes(doc).toString('utf8'), read('signing/env.cleartext.signed.canonical.txt'));
  assert.is(keyId('test-chit-passphrase'), 'add84f9b08f3bc28');
  signBundle(doc, 'test-chit-passphrase');
  assert.fixture(serializeBundle(doc), read('signing/env.cleartext.signed.cgp.json'));
});

t('verify: the fixtures verify; a wrong passphrase, a tampered value and a missing sig do not', () => {
  for (const f of ['signing/env.cleartext.signed.cgp.json', 'signing/geometry.anchors.encrypted.signed.json']) {
    assert.equal(verifyBundle(parseBundleDoc(read(f), f), 'test-chit-passphrase'), { status: 'valid', kid: 'add84f9b08f3bc28' }, f);
  }
  const signed = read('signing/env.cleartext.signed.cgp.json');
  const wrong = verifyBundle(parseBundleDoc(signed, 'x'), 'another-passphrase');
  assert.is(wrong.status, 'invalid');
  assert.match((wrong as { why: string }).why, /signed with key id add84f9b08f3bc28, and the passphrase given has key id/);
  const tampered = parseBundleDoc(signed.replace('test-meili-master-key-0000', 'test-meili-master-key-0001'), 'x');
  const bad = verifyBundle(tampered, 'test-chit-passphrase');
  assert.is(bad.status, 'invalid');
  assert.match((bad as { why: string }).why, /content does not match/);
  // a float written as 1 instead of 1.0 changes the canonical bytes, as in Python
  assert.is(verifyBundle(parseBundleDoc(signed.replace('"magnitude": 1.0', '"magnitude": 1'), 'x'), 'test-chit-passphrase').status, 'invalid');
  assert.equal(verifyBundle(parseBundleDoc(read('env.cleartext.cgp.json'), 'x'), 'test-chit-passphrase'), { status: 'missing' });
});

t('odd values round-trip losslessly (unicode, =, spaces, quotes, newline, astral) in both encodings', () => {
  const odd = new Map([
    ['EQ', 'a=b==c'],
    ['SPACES', '  lead and trail  '],
    ['QUOTES', `"double" 'single'`],
    ['UNI', 'héllo wörld ✓ 秘密 \u{1F511}'],
    ['CTRL', 'tab\there\u0001\u007f'],
    ['NL', 'line1\nline2'],
    ['EMPTY', ''],
    ['ÉTIQUETTE', 'x'],
  ]);
  for (const includeCleartext of [true, false]) {
    const text = serializeBundle(encodeSecretMap(odd, { namespace: 'n', description: 'd', includeCleartext }));
    assert.not.ok(/[^\x00-\x7f]/.test(text), 'ASCII only');
    assert.equal(decodeBundle(JSON.parse(text) as CgpBundle), odd);
  }
});

t('setLabelValue keeps the encoding of the point and every other byte', () => {
  for (const f of ['env.cleartext.cgp.json', 'env.b64.cgp.json']) {
    const doc = parseBundleDoc(read(f), f);
    assert.is(setLabelValue(doc, 'SUPABASE_URL', 'http://new.invalid'), 1);
    const values = decodeBundle(toPlain(doc) as CgpBundle);
    assert.is(values.get('SUPABASE_URL'), 'http://new.invalid');
    assert.is(values.get('MEILI_MASTER_KEY'), expected.get('MEILI_MASTER_KEY'));
    const before = read(f).split('\n');
    const after = serializeBundle(doc).split('\n');
    assert.is(after.length, before.length);
    assert.is(after.filter((l, i) => l !== before[i]).length, 1);
  }
});

t('created_at looks like Python isoformat()', () => {
  assert.is(pythonUtcNow(Date.UTC(2026, 10, 24, 2, 41, 42, 711) + 0.336), '2026-11-24T02:41:42.711336+00:00');
  assert.is(pythonUtcNow(Date.UTC(2026, 0, 1)), '2026-01-01T00:00:00+00:00');
  assert.match(pythonUtcNow(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$/);
});

t.run();
