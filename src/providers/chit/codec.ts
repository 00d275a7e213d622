// Writing CHIT CGP v0.1 bundles as upstream does (pmoves.chit.codec.encode_secret_map and
// pmoves/tools/chit_security.py), so a bundle we write equals upstream's byte for byte except
// meta.created_at. Reading lives in chit.ts (decodeBundle); this module works on documents parsed
// with parsePy so that re-serialising keeps key order and `1.0`.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { dumpsPy, PyFloat, PyObject, parsePy, PyJsonError, type PyJson } from './python-json.js';
import { compareCodePoints } from './env-file.js';

export const CGP_SPEC = 'chit.cgp.v0.1';
export const ENCODER_NAME = 'pmoves.chit.codec.encode_secret_map';

/** The 3-d pseudo-anchor: sha256(seed), three big-endian u64 chunks, each (n % 2000 - 1000) / 1000. */
export function hashToAnchor(seed: string, dims = 3): number[] {
  const digest = createHash('sha256').update(seed, 'utf8').digest();
  const out: number[] = [];
  for (let i = 0; i < dims; i++) out.push((Number(digest.readBigUInt64BE(i * 8) % 2000n) - 1000) / 1000);
  return out;
}

/** datetime.now(tz=timezone.utc).isoformat(): microseconds, `+00:00`, fraction left out when zero. */
export function pythonUtcNow(nowMs: number = performance.timeOrigin + performance.now()): string {
  const whole = Math.floor(nowMs);
  const micros = Math.min(999, Math.round((nowMs - whole) * 1000)) + (whole % 1000) * 1000;
  const base = new Date(whole - (whole % 1000)).toISOString().slice(0, 19);
  return `${base}${micros ? '.' + String(micros).padStart(6, '0') : ''}+00:00`;
}

export interface EncodeOptions {
  namespace: string;
  description: string;
  /** false: values as standard base64 of UTF-8 in `text_b64` (not encrypted). */
  includeCleartext: boolean;
  createdAt?: string;
}

/** encode_secret_map: constellations sorted by label, ids `<ns>-<i>`, one point each. */
export function encodeSecretMap(secrets: Map<string, string>, o: EncodeOptions): PyObject {
  if (!secrets.size) throw new Error('secrets mapping is empty');
  const keys = [...secrets.keys()].sort(compareCodePoints);
  const constellations = keys.map((key, idx) => {
    const value = secrets.get(key)!;
    const point = new PyObject()
      .set('id', `${key}-value`)
      .set('magnitude', new PyFloat(1))
      .set(
        'anchor',
        hashToAnchor(`${o.namespace}:${key}`).map((x) => new PyFloat(x)),
      );
    if (o.includeCleartext) point.set('text', value);
    else point.set('text_b64', Buffer.from(value, 'utf8').toString('base64'));
    return new PyObject().set('id', `${o.namespace}-${idx}`).set('label', key).set('kind', 'secret').set('points', [point]);
  });
  return new PyObject()
    .set('spec', CGP_SPEC)
    .set(
      'meta',
      new PyObject()
        .set('namespace', o.namespace)
        .set('description', o.description)
        .set('created_at', o.createdAt ?? pythonUtcNow())
        .set('encoder', ENCODER_NAME)
        .set('count', constellations.length),
    )
    .set('super_nodes', [
      new PyObject().set('id', o.namespace).set('label', `${o.namespace} secrets`).set('summary', o.description).set('constellations', constellations),
    ]);
}

/** The bundle file's text: json.dumps(doc, indent=2), no trailing newline. */
export function serializeBundle(doc: PyJson): string {
  return dumpsPy(doc, { indent: 2 });
}

/** Parse a bundle for re-serialising; errors carry line:column, never the text. */
export function parseBundleDoc(text: string, file: string): PyObject {
  let doc: PyJson;
  try {
    doc = parsePy(text);
  } catch (err) {
    if (err instanceof PyJsonError) throw new BundleFormatError(`${file}:${err.line}:${err.column}: invalid JSON in CHIT bundle (${err.message})`);
    throw err;
  }
  if (!(doc instanceof PyObject)) throw new BundleFormatError(`${file}: expected a CHIT CGP bundle (a JSON object)`);
  return doc;
}

export class BundleFormatError extends Error {}

// ---- signatures (chit_security.sign_cgp / verify_cgp) -----------------------------------------

export const SIG_ALG = 'HMAC-SHA256';

/** The bytes the MAC covers: the document without `sig`, sort_keys, separators (",", ":"), ASCII. */
export function canonicalBytes(doc: PyObject): Buffer {
  const copy = new PyObject();
  for (const [k, v] of doc.entries) if (k !== 'sig') copy.set(k, v);
  return Buffer.from(dumpsPy(copy, { sortKeys: true, separators: [',', ':'] }), 'utf8');
}

/** sha256(passphrase).hexdigest()[:16]: names the key without revealing it. */
export function keyId(passphrase: string): string {
  return createHash('sha256').update(passphrase, 'utf8').digest('hex').slice(0, 16);
}

function mac(doc: PyObject, passphrase: string): Buffer {
  return createHmac('sha256', Buffer.from(passphrase, 'utf8')).update(canonicalBytes(doc)).digest();
}

/** sign_cgp: sets `sig` (in place if present, else last). Returns the same document. */
export function signBundle(doc: PyObject, passphrase: string, kid = keyId(passphrase)): PyObject {
  const h = mac(doc, passphrase).toString('base64');
  doc.set('sig', new PyObject().set('alg', SIG_ALG).set('kid', kid).set('hmac', h));
  return doc;
}

export type SignatureStatus =
  | { status: 'valid'; kid: string | null }
  | { status: 'missing' }
  | { status: 'invalid'; kid: string | null; why: string };

/** Python's base64.b64decode(s) (validate=False): drops characters outside the alphabet first. */
function lenientB64(s: string): Buffer | null {
  const clean = s.replace(/[^A-Za-z0-9+/=]/g, '');
  const body = clean.replace(/=+$/, '');
  if (/=/.test(body) || body.length % 4 === 1) return null;
  return Buffer.from(body, 'base64');
}

/** verify_cgp, with a reason when it fails (wrong key id, altered content, malformed sig). */
export function verifyBundle(doc: PyObject, passphrase: string): SignatureStatus {
  if (!doc.has('sig')) return { status: 'missing' };
  const sig = doc.get('sig');
  if (!(sig instanceof PyObject)) return { status: 'invalid', kid: null, why: '"sig" is not an object' };
  const kid = typeof sig.get('kid') === 'string' ? (sig.get('kid') as string) : null;
  const h = sig.get('hmac');
  const given = typeof h === 'string' ? lenientB64(h) : null;
  if (!given) return { status: 'invalid', kid, why: '"sig.hmac" is not base64' };
  const want = mac(doc, passphrase);
  if (given.length === want.length && timingSafeEqual(given, want)) return { status: 'valid', kid };
  const mine = keyId(passphrase);
  if (kid !== null && kid !== mine) return { status: 'invalid', kid, why: `it was signed with key id ${kid}, and the passphrase given has key id ${mine}` };
  return { status: 'invalid', kid, why: 'the content does not match the signature (the bundle was changed after it was signed)' };
}

// ---- rotation --------------------------------------------------------------------------------

/**
 * Set a label's value in every constellation that carries it (decode reads the last one), keeping the
 * point's encoding (`text` or `text_b64`). Returns how many constellations were changed.
 */
export function setLabelValue(doc: PyObject, label: string, value: string): number {
  let n = 0;
  const sns = doc.get('super_nodes');
  if (!Array.isArray(sns)) return 0;
  for (const sn of sns) {
    const cs = sn instanceof PyObject ? sn.get('constellations') : undefined;
    if (!Array.isArray(cs)) continue;
    for (const c of cs) {
      if (!(c instanceof PyObject) || c.get('label') !== label) continue;
      const points = c.get('points');
      if (!Array.isArray(points) || !points.length || !(points[0] instanceof PyObject)) continue;
      const p = points[0];
      if (p.has('text')) p.set('text', value);
      else if (p.has('text_b64')) p.set('text_b64', Buffer.from(value, 'utf8').toString('base64'));
      else continue;
      n++;
    }
  }
  return n;
}
