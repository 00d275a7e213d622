// Upstream's `status` opens with its secrets report (pmoves.tools.secrets_sync report): one
// `FILE: N entries` line per env file the secrets manifest derives from its CHIT bundle, and a failure
// (exit 1) when a required label is missing. Only label names are ever printed, never a value.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { messageOf } from '../core/errors.js';
import { upstreamCheckout } from './checkout.js';

/** An upstream secrets manifest rather than a pmoves.mini.yaml (`status -m FILE` means the former upstream). */
export function isSecretsManifest(file: string): boolean {
  try {
    const text = readFileSync(file, 'utf8');
    return /^cgp_file:/m.test(text) && /^entries:/m.test(text) && !/^apiVersion:/m.test(text);
  } catch {
    return false;
  }
}

/** The report for `manifest` (default: the checkout's pmoves/chit/secrets_manifest.yaml), or null
 *  outside an upstream checkout when none is given. */
export async function upstreamSecretsReport(manifest?: string): Promise<{ lines: string[]; error: string | null } | null> {
  let file = manifest ? path.resolve(manifest) : null;
  if (!file) {
    const root = upstreamCheckout();
    if (!root) return null;
    file = path.join(root, 'pmoves', 'chit', 'secrets_manifest.yaml');
    if (!existsSync(file)) return null;
  }
  const sm = await import('../providers/chit/secrets-manifest.js');
  try {
    const m = await sm.loadSecretsManifest(file);
    const root = sm.detectRepoRoot(file) ?? upstreamCheckout() ?? process.cwd();
    const secrets = await sm.readBundleStrict(path.resolve(root, m.cgpFile));
    const { outputs, missing } = sm.buildOutputs(secrets, m.entries);
    if (missing.length) return { lines: [], error: `Missing required secrets: ${[...missing].sort().join(', ')}` };
    const report = sm.reportOutputs(outputs);
    return { lines: report ? report.split('\n') : [''], error: null };
  } catch (err) {
    return { lines: [], error: messageOf(err) };
  }
}
