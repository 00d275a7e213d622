// `crush setup|status|preview`: Crush's config for PMOVES, as upstream's crush_configurator. The lines
// are upstream's; `setup` edits only pmoves' entries (see src/upstream/crush-setup.ts).
import type { Command } from 'commander';
import { globals, homeOf } from './common.js';

const pathOption = (c: Command) => c.option('-p, --path <file>', 'crush.json to use (default: $CRUSH_GLOBAL_CONFIG or ~/.config/crush/crush.json)');
const envDirOption = (c: Command) => c.option('--env-dir <dir>', 'where to read API keys after the environment: .env.generated, env.shared.generated, .env, env.shared (default: ./pmoves or .)');

export function registerCrush(mini: Command): void {
  const crush = mini.command('crush').description('Crush CLI integration: generate, preview and check its config');

  envDirOption(pathOption(crush.command('setup').description('Generate Crush configuration for PMOVES (only pmoves\' own entries are touched)')))
    .option('--force', 'also replace entries of the same name that pmoves did not write')
    .action(async (o: { path?: string; envDir?: string; force?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const { crushFromEnv, crushSetup, crushConfigPath, envDirFor } = await import('../upstream/crush-setup.js');
      const built = await crushFromEnv(process.env, envDirFor(o.envDir ?? (await defaultEnvRoot())));
      const r = await crushSetup(await homeOf(g), crushConfigPath(process.env, o.path), built, Boolean(o.force));
      if (g.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      } else {
        const shown = o.path ?? r.path; // a path given is echoed as given, as upstream does
        process.stdout.write(r.changed ? `Wrote Crush config to ${shown}\n` : `Crush config at ${shown} is up to date (no changes).\n`);
        process.stdout.write('Providers configured: ' + [...r.providers].sort().join(', ') + '\n');
        for (const k of r.kept) process.stderr.write(`Left ${k} as it is: pmoves did not write it (use --force to replace it).\n`);
      }
    });

  pathOption(crush.command('status').description('Show Crush configuration details')).action(async (o: { path?: string }, cmd: Command) => {
    const g = globals(cmd);
    const { crushStatus, crushConfigPath } = await import('../upstream/crush-setup.js');
    const s = await crushStatus(crushConfigPath(process.env, o.path));
    if (g.json) process.stdout.write(JSON.stringify(s, null, 2) + '\n');
    else process.stdout.write(`Path: ${o.path ?? s.path}\nExists: ${s.exists ? 'True' : 'False'}\nProviders: ${s.providers.length ? s.providers.join(', ') : '(none)'}\n`);
  });

  envDirOption(crush.command('preview').description('Print generated Crush configuration JSON (keys as $VAR references, never values)')).action(
    async (o: { envDir?: string }, cmd: Command) => {
      const g = globals(cmd);
      const { crushFromEnv, envDirFor } = await import('../upstream/crush-setup.js');
      const { crushJsonText } = await import('../upstream/crush-config.js');
      const built = await crushFromEnv(process.env, envDirFor(o.envDir ?? (await defaultEnvRoot())));
      if (g.json) process.stdout.write(JSON.stringify(built.config, null, 2) + '\n');
      else process.stdout.write(crushJsonText(built.config) + '\n\nProviders: ' + [...built.providers].sort().join(', ') + '\n');
    },
  );
}

/** Upstream reads keys from its checkout's pmoves/ wherever it runs; elsewhere ./pmoves or `.`. */
async function defaultEnvRoot(): Promise<string> {
  const { upstreamCheckout } = await import('../upstream/checkout.js');
  return upstreamCheckout() ?? process.cwd();
}
