// `edge flash --device ID`: the imperative shortcut upstream's esp32-sonatino profile promises. It is
// `apply --target devices.<name>`: the same read (chip, MD5 of the flash), plan and consent as apply.
// ID is a devices entry, or a profile id such as esp32-sonatino (its board: devices.sonatino, or the
// manifest's only ESP32).
import type { Command } from 'commander';
import { UserError } from '../core/errors.js';
import { globals, homeOf, parseDuration } from './common.js';

export function registerEdge(mini: Command): void {
  const edge = mini.command('edge').description('edge devices declared under devices: (docs/edge.md)');
  edge
    .command('flash')
    .description('flash and verify one ESP32 declared under devices: (plan and consent as apply)')
    .requiredOption('--device <id>', 'a devices entry, or a profile id such as esp32-sonatino')
    .option('--auto-approve', 'do not ask for confirmation')
    .option('--lock-timeout <duration>', 'wait this long for another apply to finish', parseDuration('--lock-timeout'), 0)
    .option('--refresh-timeout <duration>', 'deadline for reading one resource', parseDuration('--refresh-timeout'), 120_000)
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const { loadManifest } = await import('../manifest/load.js');
      const { kinds, expanders } = await import('../reconcilers/index.js');
      const r = await loadManifest(g.manifest, { env: process.env, home: await homeOf(g), kinds, expanders, overrides: g.profile ? { profile: g.profile } : undefined });
      const esp = (r.manifest?.resources ?? []).filter((x) => x.section === 'devices' && (x.spec as { type?: string }).type === 'esp32');
      const address = pick(String(o.device), esp.map((x) => x.name));
      const { runApply } = await import('./core.js');
      const { device: _d, ...rest } = o;
      await runApply(g, { ...rest, target: [address] }, { command: 'edge flash' });
    });
}

function pick(id: string, names: string[]): string {
  const bare = id.replace(/^devices\./, '');
  if (names.includes(bare)) return `devices.${bare}`;
  const short = bare.replace(/^esp32-/, '');
  if (names.includes(short)) return `devices.${short}`;
  if (bare !== short && names.length === 1) return `devices.${names[0]}`;
  throw new UserError(
    names.length
      ? `--device ${id}: no ESP32 of that name under devices: (declared: ${names.join(', ')})`
      : `--device ${id}: the manifest declares no ESP32 under devices: (see docs/edge.md for an example)`,
  );
}
