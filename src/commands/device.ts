// `device`: this machine as fleet.yaml selectors see it. `device label KEY=VALUE…` (KEY- removes),
// `device hostname [NAME]` (an override of the OS hostname, i.e. of the device id), `device show`.
import type { Command } from 'commander';
import { UserError } from '../core/errors.js';
import { globals, homeOf } from './common.js';

const LABEL = /^([A-Za-z0-9][A-Za-z0-9._/-]*)(?:=(.*)|(-))$/s;

export function registerDevice(mini: Command): void {
  const device = mini.command('device').description('this device for fleet.yaml selectors: labels, hostname override ($PMOVES_HOME/device.yaml)');

  device
    .command('label <KEY=VALUE...>')
    .description('set labels (KEY=VALUE) or remove them (KEY-) in $PMOVES_HOME/device.yaml')
    .action(async (pairs: string[], _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const home = await homeOf(g);
      const { readDevice, writeDevice } = await import('../fleet/device.js');
      const dev = await readDevice(home);
      const labels = { ...(dev.labels ?? {}) };
      for (const p of pairs) {
        const m = LABEL.exec(p);
        if (!m) throw new UserError(`label "${p.split('=')[0]}": expected KEY=VALUE to set or KEY- to remove (KEY: letters, digits, ., _, / and -)`);
        if (m[3]) delete labels[m[1]!];
        else {
          if (/[\r\n]/.test(m[2]!)) throw new UserError(`label ${m[1]}: expected a one-line value`);
          labels[m[1]!] = m[2]!;
        }
      }
      await writeDevice(home, { ...dev, labels });
      if (g.json) process.stdout.write(JSON.stringify({ labels }) + '\n');
      else process.stdout.write(Object.keys(labels).length ? `labels: ${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(' ')}\n` : 'labels: (none)\n');
    });

  device
    .command('hostname [name]')
    .description('show the hostname fleet.yaml matches (and the device id), or set an override (--clear removes it)')
    .option('--clear', 'remove the override (use the OS hostname again)')
    .action(async (name: string | undefined, o: { clear?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const home = await homeOf(g);
      const { readDevice, writeDevice, localDescriptor } = await import('../fleet/device.js');
      if (name !== undefined || o.clear) {
        if (name !== undefined && !/^[^/+#\s]+$/.test(name)) throw new UserError(`hostname "${name}": expected a name without /, +, # or spaces (it is the device id in MQTT topics)`);
        const { hostname: _old, ...dev } = await readDevice(home);
        await writeDevice(home, o.clear ? dev : { ...dev, hostname: name });
      }
      const d = await localDescriptor(home, process.env, { profile: g.profile });
      process.stdout.write(`${d.hostname}\n`);
    });

  device
    .command('show')
    .description('this device as a descriptor (YAML, usable as fleet plan --device-file; --json)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const home = await homeOf(g);
      const { localDescriptor } = await import('../fleet/device.js');
      const d = await localDescriptor(home, process.env, { profile: g.profile });
      const out = { hostname: d.hostname, arch: d.arch, ...(d.profile ? { profile: d.profile } : {}), labels: d.labels };
      if (g.json) process.stdout.write(JSON.stringify(out) + '\n');
      else process.stdout.write((await import('yaml')).stringify(out));
    });
}
