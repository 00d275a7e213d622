// What `watch` gets from the fleet: options (--fleet, --report…), the group pick before each load
// (--fleet: fleet.yaml at the commit's root says which manifest this device applies), and the MQTT
// reporter fed from the watch's own events after each run (--report). The watch loop only calls
// `select` and `emit`; everything else lives here. Heavy modules (mqtt, the manifest loader) are
// imported lazily.
import { Option, type Command } from 'commander';
import path from 'node:path';
import { formatDiagnostic, UserError } from '../core/errors.js';
import type { Home } from '../core/home.js';
import { parseIntOption } from '../commands/common.js';
import type { Reporter as WatchReporter } from '../watch/report.js';
import type { FleetPick } from '../watch/options.js';

type Emit = (e: { event: string; message: string; [k: string]: unknown }) => void;

export interface FleetHook {
  /** The watch's emit, also feeding the reporter. */
  emit: Emit;
  /** --fleet: this device's manifest in the commit's tree, or why it applies nothing new. */
  select?: (tree: string, commit: string) => Promise<FleetPick>;
  /** The watch reporter that republishes the status after every run (a blocked run included). */
  reporters: WatchReporter[];
  /** Extra /metrics lines. */
  metrics: () => string;
  close(): Promise<void>;
}

export function addFleetOptions(cmd: Command): void {
  cmd
    .option('--fleet', 'with --git: pick this device\'s group (manifest and overrides) from fleet.yaml at the repository root, at each commit')
    .option('--report <url>', 'publish status after every run to an MQTT broker: mqtt://host:port/prefix or mqtts://host:port/prefix')
    .option('--report-ca <file>', 'mqtts: CA certificate file to verify the broker')
    .option('--report-cert <file>', 'mqtts: client certificate file')
    .option('--report-key <file>', 'mqtts: client key file')
    .option('--report-auth <bundle>', 'MQTT user and password from a CHIT bundle: BUNDLE or BUNDLE#USER_LABEL,PASSWORD_LABEL (default labels MQTT_USERNAME, MQTT_PASSWORD)')
    .addOption(new Option('--report-queue <n>', 'apply events kept while the broker is away (then dropped, counted in /metrics)').argParser(parseIntOption('--report-queue')).default(100));
}

/** The same options for --print-systemd-unit (files made absolute). */
export function fleetUnitArgs(o: Record<string, unknown>): string[] {
  const a: string[] = [];
  if (o.fleet) a.push('--fleet');
  if (o.report) a.push('--report', o.report as string);
  for (const k of ['reportCa', 'reportCert', 'reportKey'] as const) if (o[k]) a.push(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`, path.resolve(o[k] as string));
  if (o.reportAuth) {
    const [f, l] = (o.reportAuth as string).split('#');
    a.push('--report-auth', path.resolve(f!) + (l ? `#${l}` : ''));
  }
  if (o.report && o.reportQueue !== 100) a.push('--report-queue', String(o.reportQueue));
  return a;
}

export async function startFleet(o: Record<string, unknown>, ctx: { home: Home; env: NodeJS.ProcessEnv; profile?: string; git: boolean; emit: Emit }): Promise<FleetHook> {
  if (o.fleet && !ctx.git) throw new UserError('--fleet needs --git URL (fleet.yaml is read from the repository)');
  for (const k of ['reportCa', 'reportCert', 'reportKey', 'reportAuth'] as const) if (o[k] && !o.report) throw new UserError(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} needs --report URL`);
  if (!o.fleet && !o.report) return { emit: ctx.emit, reporters: [], metrics: () => '', close: async () => {} };

  const { localDescriptor, deviceId } = await import('./device.js');
  const first = await localDescriptor(ctx.home, ctx.env, { profile: ctx.profile });
  let reporter: import('./reporter.js').Reporter | null = null;
  const emit: Emit = (e) => {
    ctx.emit(e);
    reporter?.observe(e);
  };
  if (o.report) {
    const { parseBroker } = await import('./broker.js');
    const broker = parseBroker(o.report as string, '--report', { ca: o.reportCa as string, cert: o.reportCert as string, key: o.reportKey as string, auth: o.reportAuth as string });
    const { Reporter } = await import('./reporter.js');
    const { latestGeneration } = await import('../watch/history.js');
    const gen = await latestGeneration(ctx.home).catch(() => null);
    reporter = new Reporter({
      broker,
      device: deviceId(first),
      hostname: first.hostname,
      profile: first.profile,
      generation: gen?.generation ?? null,
      queueLimit: o.reportQueue as number,
      log: (message, fields) => ctx.emit({ event: 'report', message, ...fields }),
    });
    if (Object.keys(first.labels).length) reporter.status.labels = first.labels; // [ui] the page filters by label
    await reporter.start();
  }

  let lastPick = '';
  const select = async (tree: string, commit: string): Promise<FleetPick> => {
    const { loadFleet, FLEET_FILE } = await import('./fleet-file.js');
    const { resolveDevice } = await import('./resolve.js');
    const loaded = await loadFleet(path.join(tree, FLEET_FILE));
    // said once per change; the status after every run says it again (the run's `blocked` reason)
    const say = (key: string, e: Parameters<Emit>[0]) => {
      if (key !== lastPick) emit({ ...e, commit });
      lastPick = key;
    };
    if (!loaded.fleet) {
      const errors = loaded.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
      say(`invalid ${errors.join()}`, { event: 'fleet', action: 'invalid', message: `${FLEET_FILE} is not valid; nothing new is applied:\n  ${errors.join('\n  ')}`, diagnostics: errors });
      return { blocked: `${FLEET_FILE} is not valid: ${(errors[0] ?? '').replace(/^Error: /, '').split(`${tree}${path.sep}`).join('')}`, invalid: true };
    }
    const needsProfile = loaded.fleet.groups.some((g) => g.match?.profile !== undefined);
    const d = await localDescriptor(ctx.home, ctx.env, { profile: ctx.profile, detect: needsProfile });
    if (reporter && d.profile) reporter.status.profile = d.profile;
    const r = await resolveDevice(loaded.fleet, d, ctx.env);
    if (!r.group) {
      const why = r.selection.misses.map((m) => `${m.group}: ${m.why}`).join('; ');
      say(`none ${why}`, { event: 'fleet', action: 'no-match', message: `no group in ${FLEET_FILE} matches this device (${d.hostname}); doing nothing. ${why}`, device: d.hostname, misses: r.selection.misses });
      return { blocked: `no group in ${FLEET_FILE} matches this device (${d.hostname}): ${why}`, invalid: false };
    }
    const errors = r.diagnostics.filter((x) => x.severity === 'error').map(formatDiagnostic);
    if (errors.length) {
      say(`invalid ${errors.join()}`, { event: 'fleet', action: 'invalid', group: r.group.name, message: `group ${r.group.name}: its overrides do not make a valid manifest; nothing new is applied:\n  ${errors.join('\n  ')}`, diagnostics: errors });
      return { blocked: `group ${r.group.name}: its overrides do not make a valid manifest: ${errors[0]!.replace(/^Error: /, '').split(`${tree}${path.sep}`).join('')}`, invalid: true };
    }
    say(`group ${r.group.name} ${r.group.manifest}`, { event: 'fleet', action: 'group', group: r.group.name, manifest: r.group.manifest, overrides: Object.keys(r.overrides), message: `this device (${d.hostname}) is in group ${r.group.name}: ${r.group.manifest}${Object.keys(r.overrides).length ? ` + overrides of ${Object.keys(r.overrides).join(', ')}` : ''}` });
    reporter?.observe({ event: 'fleet', action: 'group', group: r.group.name, message: '' });
    return { manifestPath: r.manifestPath!, overrides: r.overrides };
  };

  return {
    emit,
    select: o.fleet ? select : undefined,
    // a run that applied nothing has no apply line: its end says why (and which commit it read)
    reporters: [{ runFinished: (r) => reporter?.observe({ event: 'run-finished', message: '', result: r.result, error: r.error, commit: r.commit ?? null }) }],
    metrics: () => reporter?.metricsText() ?? '',
    close: async () => {
      await reporter?.close();
    },
  };
}
