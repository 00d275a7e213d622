// `pmoves mini init [--generate] [-m|--manifest|--secrets-manifest PATH]`: upstream's onboarding helper
// (pmoves.tools.onboarding_helper status|generate, which upstream's `mini_cli init` runs), same output
// and same files, so scripts that read it keep working.
import type { Command } from 'commander';
import { globals } from './common.js';
import { FILE_MODE_HELP, fileModeOption } from '../upstream/file-mode.js';

export function registerInit(mini: Command): void {
  mini
    .command('init')
    .description("report (or, with --generate, write) the env files upstream's secrets manifest derives from its CHIT bundle")
    .option('-g, --generate', 'write the env files instead of only reporting')
    .option('--secrets-manifest <path>', "upstream secrets manifest (default: <repo>/pmoves/chit/secrets_manifest.yaml); upstream's -m/--manifest means the same here")
    .option('--repo-root <dir>', 'upstream repository root: cgp_file is relative to it, env files go to <root>/pmoves (default: found from the manifest)')
    .option('--mode <octal>', FILE_MODE_HELP, fileModeOption)
    .action(async (o: { generate?: boolean; secretsManifest?: string; repoRoot?: string; mode?: number }, cmd: Command) => {
      globals(cmd);
      // Upstream's `init -m/--manifest PATH` is its secrets manifest. `init` reads no pmoves.mini.yaml,
      // so the global -m/--manifest means that here (--secrets-manifest wins when both are given).
      const dashM = (cmd.optsWithGlobals() as { manifest?: string }).manifest;
      const { runInit } = await import('./init-run.js');
      process.exitCode = await runInit({ generate: Boolean(o.generate), secretsManifest: o.secretsManifest ?? dashM, repoRoot: o.repoRoot, cwd: process.cwd(), mode: o.mode });
    });
}
