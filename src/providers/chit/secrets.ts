// providers/chit/ — the CHIT world: CGP bundles read and written as upstream does (bundle, codec,
// python-json), env files (env-file), upstream's secrets manifest; this file is what the secrets kind uses.
// The secrets kind's outside world: the CHIT bundle it reads and the env file it writes.
import { UserError } from '../../core/errors.js';
import { displayPath } from '../../manifest/yaml-source.js';
import { decodeBundle, parseBundleText, readBundle, readBundleText } from './bundle.js';
import { BundleFormatError, parseBundleDoc, verifyBundle, type SignatureStatus } from './codec.js';
import { readEnvFile, removeEnvFile, writeEnvFile, type EnvFileState } from './env-file.js';

export type SignatureCheck = SignatureStatus | { status: 'no-passphrase' };

export interface SecretsActual {
  /** label → value from the bundle; null when the resource is no longer declared. */
  source: Record<string, string> | null;
  file: EnvFileState;
  /** label → where it is in the bundle (`super_nodes[0].constellations[3]`), for messages. */
  labelAt?: Record<string, string>;
  /** Only when the resource says `verify: true`. */
  signature?: SignatureCheck;
}

type SourceRead = Awaited<ReturnType<typeof readSource>>;

/**
 * One read of each bundle per run: many resources usually render one shared bundle into their own env
 * files, and reading and decoding it once per resource was most of a 1,000-resource plan. The map is the
 * caller's (one per refresh), so a later run reads the file afresh.
 */
export type BundleReads = Map<string, Promise<SourceRead>>;

/** Read the bundle (and check its signature when `verify` is given) and the env file. */
export async function readSecrets(
  bundle: string | null,
  envFile: string,
  verify?: { passphrase: string | null },
  reads?: BundleReads,
): Promise<SecretsActual> {
  const source = (b: string): Promise<SourceRead> => {
    if (!reads) return readSource(b, verify);
    const key = `${verify ? (verify.passphrase === null ? 'verify-nokey' : `verify:${verify.passphrase}`) : 'plain'}\0${b}`;
    let p = reads.get(key);
    if (!p) reads.set(key, (p = readSource(b, verify)));
    return p;
  };
  const [read, file] = await Promise.all([bundle ? source(bundle) : Promise.resolve(null), readEnvFile(envFile)]);
  return { source: read?.source ?? null, file, ...(read?.labelAt ? { labelAt: read.labelAt } : {}), ...(read?.signature ? { signature: read.signature } : {}) };
}

async function readSource(
  bundle: string,
  verify?: { passphrase: string | null },
): Promise<{ source: Record<string, string>; labelAt: Record<string, string>; signature?: SignatureCheck }> {
  const paths = new Map<string, string>();
  if (!verify) {
    const source = Object.fromEntries(decodeBundle(await readBundle(bundle), bundle, paths));
    return { source, labelAt: Object.fromEntries(paths) };
  }
  const text = await readBundleText(bundle);
  const source = Object.fromEntries(decodeBundle(parseBundleText(text, bundle), bundle, paths));
  let signature: SignatureCheck;
  if (verify.passphrase === null) signature = { status: 'no-passphrase' };
  else {
    try {
      signature = verifyBundle(parseBundleDoc(text, displayPath(bundle)), verify.passphrase);
    } catch (err) {
      if (err instanceof BundleFormatError) throw new UserError(err.message);
      throw err;
    }
  }
  return { source, labelAt: Object.fromEntries(paths), signature };
}

export { removeEnvFile, writeEnvFile };
