// Bodies of `pmoves mini secrets …` (loaded only when one runs). Values never reach stdout, stderr,
// logs or the audit log: messages name labels, files and keyed fingerprints only.
import { createHmac, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { OperationError, UserError } from '../core/errors.js';
import { exists, writeFileAtomic } from '../core/fs.js';
import type { Resource } from '../core/types.js';
import { displayPath } from '../manifest/yaml-source.js';
import { decodeBundle, type CgpBundle } from '../providers/chit/bundle.js';
import {
  BundleFormatError,
  encodeSecretMap,
  keyId,
  parseBundleDoc,
  serializeBundle,
  setLabelValue,
  signBundle,
  verifyBundle,
} from '../providers/chit/codec.js';
import { PyObject, toPlain } from '../providers/chit/python-json.js';
import { compareCodePoints, parseEnvUpstream, unsafeLabels } from '../providers/chit/env-file.js';
import { readBundleStrict } from '../providers/chit/secrets-manifest.js';
import { homeOf, type Globals } from './common.js';
import { canPrompt, chitPassphrase, promptHidden } from './prompt-hidden.js';

const BUNDLE_MODE = 0o600;

async function readText(file: string, what: string): Promise<string> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${displayPath(file)}: ${code === 'ENOENT' ? `no such file (expected ${what})` : code === 'EISDIR' ? `is a folder (expected ${what})` : `cannot read (${code})`}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    throw new UserError(`${displayPath(file)}: not UTF-8 text (expected ${what})`);
  }
}

/** A bundle parsed for re-serialising (key order and `1.0` kept). */
async function readDoc(file: string): Promise<{ doc: PyObject; text: string }> {
  const text = await readText(file, 'a CHIT CGP bundle');
  try {
    return { doc: parseBundleDoc(text, displayPath(file)), text };
  } catch (err) {
    if (err instanceof BundleFormatError) throw new UserError(err.message);
    throw err;
  }
}

function valuesOf(doc: PyObject, file: string): Map<string, string> {
  return decodeBundle(toPlain(doc) as CgpBundle, file);
}

async function fileMode(file: string): Promise<number | null> {
  try {
    return (await fsp.stat(file)).mode & 0o777;
  } catch {
    return null;
  }
}

// ---- encode --------------------------------------------------------------------------------------

export async function encodeCommand(g: Globals, o: Record<string, unknown>): Promise<void> {
  const envFile = path.resolve(o.envFile as string);
  const text = await readText(envFile, 'an env file of KEY=value lines');
  const keys = o.keys as string[] | undefined;
  const { values, notes } = parseEnvUpstream(text, keys?.length ? new Set(keys) : undefined);
  for (const n of notes) process.stderr.write(`Warning: ${displayPath(envFile)}:${n.line}: ${n.message}\n`);
  if (!values.size) throw new UserError(`${displayPath(envFile)}: did not contain any key=value pairs`);
  const doc = encodeSecretMap(values, { namespace: o.namespace as string, description: o.description as string, includeCleartext: o.cleartext !== false });
  if (o.sign) signBundle(doc, await chitPassphrase(g.nonInteractive, 'secrets encode --sign'));
  await writeFileAtomic(path.resolve(o.out as string), serializeBundle(doc), { mode: (o.mode as number | undefined) ?? BUNDLE_MODE });
  process.stdout.write(`CGP written to ${o.out as string}\n`);
}

// ---- decode --------------------------------------------------------------------------------------

export async function decodeCommand(g: Globals, o: Record<string, unknown>): Promise<void> {
  const file = path.resolve(o.bundle as string);
  if (o.verify) {
    const { doc } = await readDoc(file);
    await requireValidSignature(doc, file, g);
  }
  let secrets = await readBundleStrict(file);
  const keys = o.keys as string[] | undefined;
  if (keys?.length) {
    const subset = new Map<string, string>();
    for (const k of keys) {
      if (!secrets.has(k)) throw new UserError(`${displayPath(file)}: label ${JSON.stringify(k)} is not in the bundle`);
      subset.set(k, secrets.get(k)!);
    }
    secrets = subset;
  }
  const unsafe = unsafeLabels(secrets);
  if (unsafe.length && !o.allowMultiline) {
    throw new UserError(
      `${displayPath(file)}: the value of ${unsafe.join(', ')} contains a newline, which would break the env file (its second line becomes a key of its own); nothing was written. Pass --allow-multiline to write it anyway, as upstream does.`,
    );
  }
  const lines = [...secrets.keys()].sort(compareCodePoints).map((k) => `${k}=${secrets.get(k)}`);
  await writeFileAtomic(path.resolve(o.out as string), lines.join('\n') + '\n', { mode: (o.mode as number | undefined) ?? 0o600 });
  process.stdout.write(`Wrote ${lines.length} secrets to ${o.out as string}\n`);
}

// ---- sign / verify -------------------------------------------------------------------------------

async function requireValidSignature(doc: PyObject, file: string, g: Globals): Promise<string> {
  if (!doc.has('sig')) throw new UserError(`${displayPath(file)}: the bundle is not signed (no "sig"); sign it with \`pmoves mini secrets sign --bundle ${displayPath(file)}\``);
  const pass = await chitPassphrase(g.nonInteractive, `${displayPath(file)}: checking the signature`);
  const s = verifyBundle(doc, pass);
  if (s.status !== 'valid') throw new UserError(`${displayPath(file)}: the signature does not verify: ${s.status === 'invalid' ? s.why : 'not signed'}`);
  return pass;
}

export async function signCommand(g: Globals, o: Record<string, unknown>): Promise<void> {
  const file = path.resolve(o.bundle as string);
  const { doc } = await readDoc(file);
  valuesOf(doc, file); // refuse to sign something that is not a readable bundle
  const pass = await chitPassphrase(g.nonInteractive, 'secrets sign');
  signBundle(doc, pass);
  const out = path.resolve((o.out as string | undefined) ?? file);
  await writeFileAtomic(out, serializeBundle(doc), { mode: (await fileMode(out)) ?? (await fileMode(file)) ?? BUNDLE_MODE });
  process.stdout.write(`Signed ${displayPath(out)} (HMAC-SHA256, key id ${keyId(pass)})\n`);
}

export async function verifyCommand(g: Globals, o: Record<string, unknown>): Promise<void> {
  const file = path.resolve(o.bundle as string);
  const { doc } = await readDoc(file);
  const pass = await requireValidSignature(doc, file, g);
  process.stdout.write(`${displayPath(file)}: signature valid (HMAC-SHA256, key id ${keyId(pass)})\n`);
}

// ---- the manifest's bundles ----------------------------------------------------------------------

interface SecretsResourceInfo {
  address: string;
  bundle: string;
}

/** The secrets resources of the manifest, or null when there is no manifest file. */
async function manifestSecrets(g: Globals): Promise<SecretsResourceInfo[] | null> {
  if (!(await exists(path.resolve(g.manifest)))) return null;
  const { loadManifest, hasErrors } = await import('../manifest/load.js');
  const { kinds, expanders } = await import('../reconcilers/index.js');
  const r = await loadManifest(g.manifest, { env: process.env, home: await homeOf(g), kinds, expanders, overrides: g.profile ? { profile: g.profile } : undefined });
  if (!r.manifest || hasErrors(r.diagnostics)) throw new UserError('the manifest is not valid', r.diagnostics);
  return r.manifest.resources
    .filter((x: Resource) => x.section === 'secrets')
    .map((x: Resource) => ({ address: x.address, bundle: (x.spec as { bundle: string }).bundle }));
}

async function defaultBundle(g: Globals, flag: string): Promise<string> {
  const rs = await manifestSecrets(g);
  if (rs === null) throw new UserError(`${flag}: no manifest at ${displayPath(path.resolve(g.manifest))} to take the bundle from; pass ${flag} BUNDLE`);
  const bundles = [...new Set(rs.map((r) => r.bundle))];
  if (bundles.length === 1) return bundles[0]!;
  if (!bundles.length) throw new UserError(`${flag}: the manifest declares no secrets resource; pass ${flag} BUNDLE`);
  throw new UserError(`${flag}: the manifest uses ${bundles.length} bundles (${bundles.map(displayPath).join(', ')}); pass ${flag} BUNDLE to choose one`);
}

// ---- diff ----------------------------------------------------------------------------------------

/** label → value of a bundle or an env file (a JSON object with super_nodes is a bundle). */
async function readSide(file: string): Promise<{ kind: 'bundle' | 'env file'; values: Map<string, string> }> {
  const text = await readText(file, 'a CHIT bundle or an env file');
  if (/^\s*\{/.test(text)) {
    let doc: PyObject;
    try {
      doc = parseBundleDoc(text, displayPath(file));
    } catch (err) {
      if (err instanceof BundleFormatError) throw new UserError(err.message);
      throw err;
    }
    return { kind: 'bundle', values: valuesOf(doc, file) };
  }
  return { kind: 'env file', values: parseEnvUpstream(text).values };
}

export interface SecretsDiff {
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: number;
}

export function diffMaps(before: Map<string, string>, after: Map<string, string>): SecretsDiff {
  const labels = [...new Set([...before.keys(), ...after.keys()])].sort(compareCodePoints);
  const d: SecretsDiff = { added: [], removed: [], changed: [], unchanged: 0 };
  for (const l of labels) {
    if (!before.has(l)) d.added.push(l);
    else if (!after.has(l)) d.removed.push(l);
    else if (before.get(l) !== after.get(l)) d.changed.push(l);
    else d.unchanged++;
  }
  return d;
}

export async function diffCommand(g: Globals, o: Record<string, unknown>): Promise<void> {
  const afterFile = path.resolve(o.bundle as string);
  const beforeFile = o.against ? path.resolve(o.against as string) : await defaultBundle(g, '--against');
  const after = await readSide(afterFile);
  if (after.kind !== 'bundle') throw new UserError(`${displayPath(afterFile)}: --bundle expects a CHIT CGP bundle (JSON)`);
  const before = await readSide(beforeFile);
  const d = diffMaps(before.values, after.values);
  // Fingerprints under a key made for this run: they show that a value changed, never what it is,
  // and cannot be compared across runs.
  const key = randomBytes(32);
  const fp = (v: string) => createHmac('sha256', key).update(v, 'utf8').digest('hex').slice(0, 12);
  const differs = d.added.length + d.removed.length + d.changed.length > 0;
  if (g.json) {
    process.stdout.write(
      JSON.stringify(
        {
          before: { file: beforeFile, kind: before.kind },
          after: { file: afterFile, kind: after.kind },
          added: d.added.map((l) => ({ label: l, fingerprint: fp(after.values.get(l)!) })),
          removed: d.removed.map((l) => ({ label: l, fingerprint: fp(before.values.get(l)!) })),
          changed: d.changed.map((l) => ({ label: l, before: fp(before.values.get(l)!), after: fp(after.values.get(l)!) })),
          unchanged: d.unchanged,
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    const out: string[] = [`Comparing ${displayPath(afterFile)} (bundle) against ${displayPath(beforeFile)} (${before.kind}):`];
    const width = Math.max(0, ...[...d.added, ...d.removed, ...d.changed].map((l) => l.length));
    const rows: [string, string, string][] = [
      ...d.added.map((l): [string, string, string] => [l, '+', `added    ${fp(after.values.get(l)!)}`]),
      ...d.removed.map((l): [string, string, string] => [l, '-', `removed  ${fp(before.values.get(l)!)}`]),
      ...d.changed.map((l): [string, string, string] => [l, '~', `changed  ${fp(before.values.get(l)!)} -> ${fp(after.values.get(l)!)}`]),
    ].sort((a, b) => compareCodePoints(a[0], b[0]));
    for (const [l, sym, rest] of rows) out.push(`  ${sym} ${l.padEnd(width)}  ${rest}`);
    if (!differs) out.push('  No differences.');
    out.push(`${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed, ${d.unchanged} unchanged.`);
    if (differs) out.push('Fingerprints are HMAC-SHA256 of each value under a key made for this run only: equal within this output means equal values.');
    process.stdout.write(out.join('\n') + '\n');
  }
  process.exitCode = o.detailedExitcode && differs ? 2 : 0;
}

// ---- rotate --------------------------------------------------------------------------------------

async function readStdinAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new UserError('--value-from-stdin: the input is not UTF-8 text');
  }
}

async function newValue(g: Globals, o: Record<string, unknown>, label: string): Promise<string> {
  if (o.valueFromStdin) {
    const v = await readStdinAll();
    return v.replace(/\r?\n$/, '');
  }
  if (!canPrompt(g.nonInteractive)) throw new UserError('secrets rotate: stdin is not a terminal; pass --value-from-stdin and pipe the new value in');
  const a = await promptHidden(`New value for ${label}: `);
  const b = await promptHidden(`Repeat the new value for ${label}: `);
  if (a !== b) throw new UserError('secrets rotate: the two entries differ; nothing was changed');
  return a;
}

export async function rotateCommand(g: Globals, o: Record<string, unknown>): Promise<void> {
  const label = o.label as string;
  const manifestRes = o.bundle ? null : await manifestSecrets(g);
  const file = o.bundle ? path.resolve(o.bundle as string) : await defaultBundle(g, '--bundle');
  const { doc, text: oldText } = await readDoc(file);
  const current = valuesOf(doc, file);
  if (!current.has(label)) {
    throw new UserError(`${displayPath(file)}: label ${JSON.stringify(label)} is not in the bundle (labels: ${[...current.keys()].sort(compareCodePoints).join(', ') || 'none'}); add it with \`secrets encode\``);
  }
  // A signed bundle stays signed: check the old signature with the passphrase before anything else.
  let passphrase: string | undefined;
  if (doc.has('sig')) passphrase = await requireValidSignature(doc, file, g);

  const value = await newValue(g, o, label);
  if (!value) throw new UserError('secrets rotate: the new value is empty; nothing was changed');
  if (/[\r\n]/.test(value) && !o.allowMultiline) {
    throw new UserError('secrets rotate: the new value contains a newline, which an env file cannot hold; nothing was changed (--allow-multiline to store it in the bundle anyway)');
  }
  if (current.get(label) === value) {
    process.stdout.write(`${label}: the new value equals the current one; ${displayPath(file)} is unchanged.\n`);
    return;
  }
  const n = setLabelValue(doc, label, value);
  if (!n) throw new OperationError(`${displayPath(file)}: label ${label} has no point with text or text_b64 to rewrite`);
  if (valuesOf(doc, file).get(label) !== value) throw new OperationError(`${displayPath(file)}: rewriting ${label} did not take (is it stored in an unusual form?); nothing was changed`);
  if (passphrase !== undefined) signBundle(doc, passphrase);

  const mode = (await fileMode(file)) ?? BUNDLE_MODE;
  const backup = `${file}.bak`;
  await writeFileAtomic(backup, oldText, { mode: mode & 0o700 });
  await writeFileAtomic(file, serializeBundle(doc), { mode });

  let loadFailed = false;
  const resources =
    manifestRes ??
    (await manifestSecrets(g).catch(() => {
      loadFailed = true;
      return null;
    }));
  const targets = (resources ?? []).filter((r) => path.resolve(r.bundle) === file).map((r) => r.address);
  const { audit } = await import('../engine/audit.js');
  await audit(await homeOf(g), {
    address: targets.length ? targets.join(',') : `bundle:${file}`,
    action: 'rotate',
    outcome: 'rotated',
    command: 'secrets rotate',
    label,
    bundle: file,
    backup,
    constellations: n,
    resigned: passphrase !== undefined,
  });
  process.stdout.write(
    `Rotated ${label} in ${displayPath(file)} (${n} constellation${n > 1 ? 's' : ''}${passphrase !== undefined ? ', re-signed' : ''}); the previous bundle is in ${displayPath(backup)}.\n`,
  );

  if (o.apply === false) {
    process.stdout.write('Env files were not regenerated (--no-apply); run `pmoves mini apply` to do it.\n');
    return;
  }
  if (!targets.length) {
    process.stdout.write(
      loadFailed
        ? `The manifest ${displayPath(path.resolve(g.manifest))} is not valid, so no env files were regenerated; fix it and run \`pmoves mini apply\`.\n`
        : resources === null
          ? 'No manifest here: no env files to regenerate.\n'
          : 'No secrets resource in the manifest uses this bundle: no env files to regenerate.\n',
    );
    if (loadFailed) process.exitCode = 1;
    return;
  }
  process.stdout.write(`Regenerating ${targets.join(', ')}:\n`);
  const { runApply } = await import('./core.js');
  await runApply(g, { target: targets, autoApprove: true, lockTimeout: 60_000 }, { command: 'secrets rotate' });
  if (process.exitCode) process.stderr.write(`The bundle was rotated, but regenerating the env files failed; fix the problem above and run \`pmoves mini apply\`.\n`);
}

