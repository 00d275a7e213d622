// `bootstrap`: upstream's env bootstrap from a registry, then the provisioning bundle staged. Keys and
// file names are printed, never a value; a second run changes nothing and says so.
import type { Command } from 'commander';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { collect, globals } from './common.js';
import { FILE_MODE_HELP, fileModeOption } from '../upstream/file-mode.js';

export function registerBootstrap(mini: Command): void {
  mini
    .command('bootstrap')
    .description('Bootstrap env files (from a bootstrap registry) and stage the provisioning bundle')
    .option('--registry <file>', 'bootstrap registry JSON (default: pmoves/bootstrap/registry.json under the repository root)')
    .option('-s, --service <id>', 'limit the env bootstrap to this service id (repeatable)', collect)
    .option('--accept-defaults', 'use current values, defaults and generated values without prompting')
    .option('-o, --output <dir>', 'destination of the provisioning bundle (default: CATACLYSM_STUDIOS_INC/PMOVES-PROVISIONS under the repository root)')
    .option('--with-glancer', 'include the Glancer add-on (from an upstream checkout)')
    .option('--without-glancer', 'leave the Glancer add-on out (the default)')
    .option('--mode <octal>', `${FILE_MODE_HELP}; env files only`, fileModeOption)
    .action(async (o: { registry?: string; service?: string[]; acceptDefaults?: boolean; output?: string; withGlancer?: boolean; withoutGlancer?: boolean; mode?: number }, cmd: Command) => {
      const g = globals(cmd);
      const prov = await import('../upstream/provisioning.js');
      const boot = await import('../upstream/bootstrap-env.js');
      const { existsSync } = await import('node:fs');
      const root = prov.repoRoot();
      const registryFile = o.registry ? path.resolve(o.registry) : boot.defaultRegistryPath(root);
      const out: Record<string, unknown> = { registry: null };
      if (!o.registry && !existsSync(registryFile)) {
        if (!g.json) process.stdout.write(`[info] No bootstrap registry at ${registryFile}: env bootstrap skipped.\n`);
      } else {
        const reg = boot.loadRegistry(registryFile);
        let services;
        try {
          services = boot.selectServices(reg, o.service ?? []);
        } catch (err) {
          // upstream's bootstrap_env: `[error] Unknown service id(s): …` on stderr, exit 2
          if (!(err instanceof UserError)) throw err;
          process.stderr.write(`[error] ${err.message}\n`);
          process.exitCode = 2;
          return;
        }
        const { canPrompt, promptHidden } = await import('./prompt-hidden.js');
        const interactive = !o.acceptDefaults;
        if (interactive && !canPrompt(g.nonInteractive)) throw new UserError('bootstrap: no terminal to ask on; run with --accept-defaults (current values, defaults and generated values are used)');
        const asker = interactive
          ? {
              async ask(service: string, v: import('../upstream/bootstrap-env.js').RegistryVar, hint: string | null, hidden: boolean) {
                process.stdout.write(`\n[${service}] ${v.prompt ?? v.key}\n${v.help ? `  ${v.help}\n` : ''}`);
                const q = `  value${hint ? ` [${hint}]` : ''}: `;
                if (hidden) return promptHidden(q);
                const { createInterface } = await import('node:readline/promises');
                const rl = createInterface({ input: process.stdin, output: process.stdout });
                try {
                  return await rl.question(q);
                } finally {
                  rl.close();
                }
              },
            }
          : null;
        const r = await boot.bootstrapEnv(root, services, Boolean(o.acceptDefaults), asker, process.env, o.mode);
        out.registry = { file: registryFile, updated: r.updated, incomplete: r.incomplete, regenerated: r.regenerated };
        for (const x of r.regenerated) process.stderr.write(`[warn] ${x.key} in ${x.file} fails its generator's format check — regenerating\n`);
        if (r.incomplete.length) {
          process.stderr.write('[error] Could not satisfy required values in non-interactive mode:\n');
          for (const x of r.incomplete) process.stderr.write(`[error]   - [${x.service}] ${x.key}\n`);
          process.stderr.write('[error] Re-run without --accept-defaults or pre-populate the values.\n');
          if (g.json) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
          process.exitCode = 2;
          return;
        }
        if (!g.json) {
          if (r.updated.length) process.stdout.write(`[info] Updated configuration files:\n${r.updated.map((f) => `[info]   - ${f}\n`).join('')}`);
          else process.stdout.write('[info] No changes were necessary.\n');
        }
      }
      const dest = o.output ? path.resolve(o.output) : prov.defaultProvisioningDest(root);
      let staged;
      try {
        staged = await prov.stageBundle(root, dest, Boolean(o.withGlancer) && !o.withoutGlancer);
      } catch (err) {
        process.stdout.write(`Failed to stage provisioning bundle: ${(err as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      if (g.json) process.stdout.write(JSON.stringify({ ...out, provisioning: staged }, null, 2) + '\n');
      else {
        process.stdout.write(`Provisioning bundle staged to ${dest}\n`);
        if (!staged.changed.length) process.stdout.write('The bundle was already up to date: nothing changed.\n');
      }
    });
}
