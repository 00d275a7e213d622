// Starting the page: its options (shared by `watch --ui` and `ui`), the token, the fleet feed, the
// machine source and the server, wired together. `watch` adds only a reporter (its events and the end
// of each run) and a trigger after a rollback; `ui` watches the manifest file instead.
import { Option, type Command } from 'commander';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import type { Home } from '../core/home.js';
import { parseDuration } from '../commands/common.js';
import type { Reporter } from '../watch/report.js';

export function addUiOptions(c: Command): Command {
  return c
    .option('--ui-token-label <LABEL>', 'CHIT label (environment variable) holding a bearer token for the page; needed to serve beyond loopback')
    .option('--ui-broker <url>', 'show the fleet: mqtt://host:port/prefix or mqtts://host:port/prefix (the devices\' --report URL)')
    .option('--ui-broker-auth <bundle>', 'MQTT user and password for --ui-broker from a CHIT bundle: BUNDLE or BUNDLE#USER_LABEL,PASSWORD_LABEL')
    .option('--ui-broker-ca <file>', '--ui-broker mqtts: CA certificate file')
    .addOption(new Option('--ui-stale <duration>', 'flag devices whose last status is older than this').argParser(parseDuration('--ui-stale')).default(600_000, '10m'));
}

/** The --ui flags for `watch --print-systemd-unit` (the token stays in its label's env file, never the unit). */
export function uiUnitArgs(o: Record<string, unknown>): string[] {
  if (!o.ui) return [];
  const out = ['--ui', o.ui as string];
  for (const [k, flag] of [['uiTokenLabel', '--ui-token-label'], ['uiBroker', '--ui-broker'], ['uiBrokerAuth', '--ui-broker-auth'], ['uiBrokerCa', '--ui-broker-ca']] as const) {
    if (o[k]) out.push(flag, k === 'uiBrokerAuth' || k === 'uiBrokerCa' ? path.resolve(o[k] as string) : (o[k] as string));
  }
  return out;
}

export function parseUiListen(flag: string, v: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d+)$/.exec(v.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`${flag}: expected HOST:PORT or PORT (e.g. 127.0.0.1:9470), got "${v}"`);
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port };
}

type Emit = (e: { event: string; message: string; [k: string]: unknown }) => void;

export interface StartedUi {
  url: string;
  /** For the watcher: its events reach the page (the end of a run is seen in watch.json). */
  reporter: Reporter;
  /** The manifest (or anything the snapshot shows) changed: pages refetch. */
  changed(): void;
  /** Called after a rollback through the page (the daemon looks again). */
  onRollback(fn: () => void): void;
  close(): Promise<void>;
}

export async function startUi(
  o: Record<string, unknown>,
  ctx: { listen: { host: string; port: number }; home: Home; manifestPath: string; env: NodeJS.ProcessEnv; overrides?: Record<string, unknown>; mode: 'daemon' | 'one-off'; emit: Emit },
): Promise<StartedUi> {
  const { tokenFromLabel } = await import('./security.js');
  const { UiServer } = await import('./server.js');
  const { MachineSource } = await import('./source.js');
  const token = tokenFromLabel(o.uiTokenLabel as string | undefined, ctx.env);
  let server: InstanceType<typeof UiServer> | null = null;
  const toPage: Emit = (e) => server?.publish('log', { time: new Date().toISOString(), ...e });
  let fleet: Awaited<ReturnType<typeof import('./fleet-feed.js').followFleet>> | null = null;
  let rolledBack: () => void = () => {};
  const source = new MachineSource({
    home: ctx.home,
    manifestPath: ctx.manifestPath,
    env: ctx.env,
    overrides: ctx.overrides,
    mode: ctx.mode,
    devices: () => fleet?.rows() ?? null,
    emit: (e) => {
      ctx.emit(e);
      toPage(e);
    },
    afterRollback: () => {
      server?.publish('snapshot', { reason: 'rollback' });
      rolledBack();
    },
  });
  const title = o.uiBroker ? 'machine and fleet' : 'machine';
  server = new UiServer({ host: ctx.listen.host, port: ctx.listen.port, flag: ctx.mode === 'one-off' ? '--listen' : '--ui', token, source, title });
  const address = await server.listen();
  if (o.uiBroker) {
    const { parseBroker } = await import('../fleet/broker.js');
    const { followFleet } = await import('./fleet-feed.js');
    const broker = parseBroker(o.uiBroker as string, '--ui-broker', { auth: o.uiBrokerAuth as string | undefined, ca: o.uiBrokerCa as string | undefined });
    fleet = await followFleet(broker, {
      staleMs: o.uiStale as number,
      onChange: () => server?.publish('devices', fleet!.rows()),
      onError: (message) => ctx.emit({ event: 'warning', message: `ui: ${message}` }),
    });
  }
  source.snapshot().catch(() => {}); // warm: the first page load finds it made
  const changed = () => {
    source.invalidate();
    source.snapshot().catch(() => {}); // pages that refetch join this one
    server?.publish('snapshot', { serial: source.serial });
  };
  // A daemon rewrites $PMOVES_HOME/watch.json (atomically) at the end of every run: that write, not the
  // run's end, says the status the page reads is there, whatever order the loop does things in.
  let statusWatch: import('node:fs').FSWatcher | null = null;
  if (ctx.mode === 'daemon') {
    const { watch, promises: fsp } = await import('node:fs');
    await fsp.mkdir(ctx.home.root, { recursive: true, mode: 0o700 });
    let t: NodeJS.Timeout | null = null;
    statusWatch = watch(ctx.home.root, (_e, name) => {
      if (name !== 'watch.json' || t) return;
      t = setTimeout(() => {
        t = null;
        changed();
      }, 20);
    });
  }
  return {
    url: `http://${address}/`,
    reporter: { event: toPage },
    changed,
    onRollback: (fn) => (rolledBack = fn),
    close: async () => {
      statusWatch?.close();
      await fleet?.close();
      await server?.close();
    },
  };
}
