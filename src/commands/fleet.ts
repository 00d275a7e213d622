// `fleet plan` (which group, manifest and resources each device gets; no machine access) and
// `fleet status` (every device's retained status from an MQTT broker). Heavy modules load lazily.
import { Option, type Command } from 'commander';
import path from 'node:path';
import { formatDiagnostic, UserError } from '../core/errors.js';
import { collect, globals, homeOf, parseDuration } from './common.js';

export function registerFleet(mini: Command): void {
  const fleet = mini.command('fleet').description('many devices from one Git repository (fleet.yaml), status over MQTT (docs/fleet.md)');

  fleet
    .command('plan')
    .description('for each device descriptor: its group, manifest and resulting resources (reads files only, no machine access)')
    .option('-f, --file <fleet.yaml>', 'the fleet file (manifest paths are relative to its folder)', 'fleet.yaml')
    .option('--device-file <file>', 'a device descriptor (YAML: hostname, arch, profile, labels); repeat for more. Default: this device', collect, [])
    .action(async (o: { file: string; deviceFile: string[] }, cmd: Command) => {
      const g = globals(cmd);
      const home = await homeOf(g);
      const { loadFleet } = await import('../fleet/fleet-file.js');
      const dev = await import('../fleet/device.js');
      const loaded = await loadFleet(o.file);
      if (!loaded.fleet) throw new UserError(`${o.file} is not valid`, loaded.diagnostics);
      const devices = [];
      if (!o.deviceFile.length) devices.push(await dev.localDescriptor(home, process.env, { profile: g.profile }));
      for (const f of o.deviceFile) {
        const r = await dev.readDescriptorFile(path.resolve(f));
        if (!r.value) throw new UserError(`${f} is not a valid device descriptor`, r.diagnostics.map((d) => ({ ...d, location: d.location ?? f })));
        devices.push(dev.descriptorFromFile(r.value, f));
      }
      const { planDevices, renderPlans } = await import('../fleet/plan.js');
      const plans = await planDevices(loaded.fleet, devices, { env: process.env, home });
      if (g.json) process.stdout.write(JSON.stringify({ fleet: o.file, devices: plans.map((p) => ({ ...p, diagnostics: p.diagnostics.map(formatDiagnostic) })) }, null, 2) + '\n');
      else process.stdout.write(renderPlans(plans, o.file));
      if (plans.some((p) => p.diagnostics.some((d) => d.severity === 'error'))) process.exitCode = 1;
    });

  fleet
    .command('status')
    .description('one line per device from the MQTT broker: id, group, commit, result, age, online/offline')
    .requiredOption('--broker <url>', 'mqtt://host:port/prefix or mqtts://host:port/prefix (the devices\' --report URL)')
    .option('--ca <file>', 'mqtts: CA certificate file')
    .option('--cert <file>', 'mqtts: client certificate file')
    .option('--key <file>', 'mqtts: client key file')
    .option('--auth <bundle>', 'MQTT user and password from a CHIT bundle: BUNDLE or BUNDLE#USER_LABEL,PASSWORD_LABEL')
    .option('--repo <url>', 'flag devices whose commit is not this repository\'s head')
    .option('--branch <name>', 'branch of --repo (default: its default branch)')
    .addOption(new Option('--stale <duration>', 'flag devices whose last status is older than this').argParser(parseDuration('--stale')).default(600_000, '10m'))
    .addOption(new Option('--wait <duration>', 'longest wait for the broker\'s retained messages').argParser(parseDuration('--wait')).default(10_000, '10s'))
    .option('--watch', 'keep the table live (Ctrl-C to stop)')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const { parseBroker } = await import('../fleet/broker.js');
      const broker = parseBroker(o.broker as string, '--broker', { ca: o.ca as string, cert: o.cert as string, key: o.key as string, auth: o.auth as string });
      const { runStatus } = await import('../fleet/status-command.js');
      await runStatus(broker, {
        json: g.json,
        watch: Boolean(o.watch),
        staleMs: o.stale as number,
        waitMs: o.wait as number,
        repo: o.repo as string | undefined,
        branch: o.branch as string | undefined,
      });
    });
}
