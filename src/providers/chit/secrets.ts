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
  /** Only when the resource says `verify: true`. */
  signature?: SignatureCheck;
}

/** Read the bundle (and check its signature when `verify` is given) and the env file. */
export async function readSecrets(bundle: string | null, envFile: string, verify?: { passphrase: string | null }): Promise<SecretsActual> {
  const [read, file] = await Promise.all([bundle ? readSource(bundle, verify) : Promise.resolve(null), readEnvFile(envFile)]);
  return { source: read?.source ?? null, file, ...(read?.signature ? { signature: read.signature } : {}) };
}

async function readSource(bundle: string, verify?: { passphrase: string | null }): Promise<{ source: Record<string, string>; signature?: SignatureCheck }> {
  if (!verify) return { source: Object.fromEntries(decodeBundle(await readBundle(bundle), bundle)) };
  const text = await readBundleText(bundle);
  const source = Object.fromEntries(decodeBundle(parseBundleText(text, bundle), bundle));
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
  return { source, signature };
}

export { removeEnvFile, writeEnvFile };
