// `ui`: the page for this machine (and a fleet with --ui-broker) without a daemon: every load plans
// afresh, and an edit of the manifest tells open pages to refetch. Runs until Ctrl-C.
import type { Command } from 'commander';
import path from 'node:path';
import { addUiOptions, parseUiListen } from '../ui/start.js';
import { globals, homeOf } from './common.js';

export function registerUi(mini: Command): void {
  addUiOptions(
    mini
      .command('ui')
      .description('serve a live page of this machine (resources, plan, events, generations, graph) and a fleet, on loopback (docs/ui.md)')
      .option('--listen <[host:]port>', 'address of the page (default host 127.0.0.1)', '127.0.0.1:9470'),
  ).action(async (o: Record<string, unknown>, cmd: Command) => {
    const g = globals(cmd);
    const home = await homeOf(g);
    const listen = parseUiListen('--listen', o.listen as string);
    const { startUi } = await import('../ui/start.js');
    const manifestPath = path.resolve(g.manifest);
    const say = (e: { event: string; message: string; [k: string]: unknown }) =>
      g.json ? process.stdout.write(JSON.stringify({ time: new Date().toISOString(), ...e }) + '\n') : process.stdout.write(`${e.message}\n`);
    const ui = await startUi(o, { listen, home, manifestPath, env: process.env, overrides: g.profile ? { profile: g.profile } : undefined, mode: 'one-off', emit: say });
    const { watch } = await import('node:fs');
    // the folder, not the file: editors replace the file by renaming over it
    const watcher = watch(path.dirname(manifestPath), (_t, name) => {
      if (name === path.basename(manifestPath)) ui.changed();
    });
    say({ event: 'ui', message: `pmoves mini ui: ${ui.url} (Ctrl-C to stop)`, url: ui.url });
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    watcher.close();
    await ui.close();
  });
}
