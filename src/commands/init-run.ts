// The body of `pmoves mini init`, loaded only when the command runs.
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { exists } from '../core/fs.js';
import { upstreamCheckout } from '../upstream/checkout.js';
import { renderEnv, unsafeLabels, writeEnvFile } from '../providers/chit/env-file.js';
import {
  buildOutputs,
  detectRepoRoot,
  loadSecretsManifest,
  missingText,
  readBundleStrict,
  reportOutputs,
  statusText,
} from '../providers/chit/secrets-manifest.js';

export interface InitOptions {
  generate: boolean;
  secretsManifest?: string;
  repoRoot?: string;
  cwd: string;
  /** Permission bits of the env files (default 0600). */
  mode?: number;
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
}

/** Returns the exit code (upstream's: 0, or 1 when generate finds required labels missing). */
export async function runInit(o: InitOptions): Promise<number> {
  const out = o.stdout ?? ((s: string) => void process.stdout.write(s));
  const err = o.stderr ?? ((s: string) => void process.stderr.write(s));

  let manifestPath: string;
  if (o.secretsManifest) {
    manifestPath = path.resolve(o.cwd, o.secretsManifest);
    // upstream resolves a relative --manifest against the repository root: accept that too
    const root = o.repoRoot ? path.resolve(o.cwd, o.repoRoot) : upstreamCheckout(o.cwd);
    if (!(await exists(manifestPath)) && root && !path.isAbsolute(o.secretsManifest)) {
      const alt = path.resolve(root, o.secretsManifest);
      if (await exists(alt)) manifestPath = alt;
    }
  } else if (o.repoRoot) {
    manifestPath = path.resolve(o.cwd, o.repoRoot, 'pmoves', 'chit', 'secrets_manifest.yaml');
  } else {
    const candidates = defaultManifestCandidates(o.cwd);
    let found: string | undefined;
    // the nearest one wins
    for (const c of candidates) {
      if (await exists(c)) {
        found = c;
        break;
      }
    }
    if (!found) throw new UserError('no secrets manifest: expected pmoves/chit/secrets_manifest.yaml in this folder or above it; pass --secrets-manifest PATH');
    manifestPath = found;
  }
  const repoRoot = o.repoRoot ? path.resolve(o.cwd, o.repoRoot) : detectRepoRoot(manifestPath);
  if (!repoRoot) {
    throw new UserError(
      `${manifestPath}: cannot tell the upstream repository root (no folder named "pmoves" above the manifest); pass --repo-root DIR (cgp_file is relative to it, env files go to DIR/pmoves)`,
    );
  }

  const manifest = await loadSecretsManifest(manifestPath);
  const cgpPath = path.resolve(repoRoot, manifest.cgpFile);
  const secrets = await readBundleStrict(cgpPath);

  if (!o.generate) {
    out(statusText({ manifestPath, cgpPath, repoRoot, entries: manifest.entries, secrets }));
    return 0;
  }
  const { outputs, missing } = buildOutputs(secrets, manifest.entries);
  if (missing.length) {
    out(missingText(missing));
    return 1;
  }
  const projectRoot = path.join(repoRoot, 'pmoves');
  for (const [file, values] of outputs) {
    const unsafe = unsafeLabels(values);
    if (unsafe.length) {
      err(
        `Warning: ${file}: the value of ${unsafe.join(', ')} contains a newline; it is written raw as upstream does, which breaks that line of the file (secrets.<name>.from_manifest in pmoves.mini.yaml refuses it instead)\n`,
      );
    }
  }
  // Only now write: every file, each atomically (0600 unless --mode: they hold secrets).
  for (const [file, values] of outputs) await writeEnvFile(path.resolve(projectRoot, file), renderEnv(values), o.mode ?? 0o600);
  out(reportOutputs(outputs) + '\n');
  return 0;
}

/** Where the default secrets manifest is: the nearest folder above cwd holding pmoves/chit/secrets_manifest.yaml. */
function defaultManifestCandidates(cwd: string): string[] {
  const out: string[] = [];
  let dir = path.resolve(cwd);
  for (;;) {
    out.push(path.join(dir, 'pmoves', 'chit', 'secrets_manifest.yaml'));
    const up = path.dirname(dir);
    if (up === dir) return out;
    dir = up;
  }
}
