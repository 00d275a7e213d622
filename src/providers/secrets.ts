// The secrets kind's outside world: the CHIT bundle it reads and the env file it writes.
import { decodeBundle, readBundle } from './chit.js';
import { readEnvFile, removeEnvFile, writeEnvFile, type EnvFileState } from './env-file.js';

export interface SecretsActual {
  /** label → value from the bundle; null when the resource is no longer declared. */
  source: Record<string, string> | null;
  file: EnvFileState;
}

export async function readSecrets(bundle: string | null, envFile: string): Promise<SecretsActual> {
  const [source, file] = await Promise.all([
    bundle ? readBundle(bundle).then((b) => Object.fromEntries(decodeBundle(b, bundle))) : Promise.resolve(null),
    readEnvFile(envFile),
  ]);
  return { source, file };
}

export { removeEnvFile, writeEnvFile };
