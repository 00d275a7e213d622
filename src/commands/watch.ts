// `watch` (keep the machine converged: file edits, interval, Docker events, a git source) and
// `rollback` (re-apply an earlier generation from $PMOVES_HOME/history). Engine and watch modules are
// imported inside the actions.
import { Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { globals, homeOf, parseDuration, parseIntOption, type Globals } from './common.js';
import { addFleetOptions, fleetUnitArgs } from '../fleet/watch-hook.js'; // [fleet]
import { addUiOptions, parseUiListen, uiUnitArgs } from '../ui/start.js'; // [ui]

function fmtDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function registerWatch(mini: Command): void {
  mini
    .command('watch')
    .description('keep this machine converged: re-apply on manifest edits, on an interval, on Docker events, or from a git repository')
    .addOption(new Option('--interval <duration>', 'drift check (and git fetch) interval, ±10% jitter').argParser(parseDuration('--interval')).default(60_000, '1m'))
    .addOption(new Option('--debounce <duration>', 'quiet period after a file or Docker event before a run (a save is checked complete, then applied)').argParser(parseDuration('--debounce')).default(50, '50ms'))
    .addOption(new Option('--removal-settle <duration>', 'a local manifest that removes resources must stay unchanged this long before they are removed').argParser(parseDuration('--removal-settle')).default(10_000, '10s'))
    .addOption(new Option('--min-backoff <duration>', 'first retry delay of a failed resource (doubles each time)').argParser(parseDuration('--min-backoff')).default(5_000, '5s'))
    .addOption(new Option('--max-backoff <duration>', 'longest retry delay of a failed resource').argParser(parseDuration('--max-backoff')).default(300_000, '5m'))
    .option('--git <url>', 'GitOps: clone this repository into $PMOVES_HOME/sources and apply the manifest in it')
    .option('--branch <name>', 'branch to follow (default: the remote default branch)')
    .option('--path <file>', 'manifest path inside the repository', 'pmoves.mini.yaml')
    .option('--verify-signatures', 'accept only commits whose signature git verifies with a key you trust')
    .option('--allowed-signers <file>', 'ssh-signed commits: allowed signers file (else git config gpg.ssh.allowedSignersFile)')
    .option('--rollback-on-failure', 'go back to the last good generation when a new one does not converge in time')
    .addOption(new Option('--converge-timeout <duration>', 'how long a new generation may take to converge (with --rollback-on-failure)').argParser(parseDuration('--converge-timeout')).default(300_000, '5m'))
    .option('--listen <[host:]port>', 'serve /healthz and /metrics (Prometheus) on this address (default host 127.0.0.1)')
    .option('--print-systemd-unit', 'print a systemd unit that runs this watcher with these options, and exit')
    .option('--probe', 'also run MCP handshakes on every run (off by default: a failed handshake is only a warning, and it spawns every server each interval)')
    .option('--parallelism <n>', 'concurrent reads and applies', parseIntOption('--parallelism'), 8)
    .option('--skip-unsatisfiable', 'leave out services this machine cannot run (a GPU a compose service reserves) on every run, instead of failing and backing off (as the stack field skip_unsatisfiable)')
    .addOption(new Option('--refresh-timeout <duration>', 'deadline for reading one resource').argParser(parseDuration('--refresh-timeout')).default(60_000, '1m'))
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const home = await homeOf(g);
      if (o.branch && !o.git) throw new UserError('--branch needs --git URL');
      if (o.verifySignatures && !o.git) throw new UserError('--verify-signatures needs --git URL');
      const { parseListen } = await import('../watch/metrics.js');
      const listen = o.listen ? parseListen(o.listen as string) : undefined;
      const manifestPath = path.resolve(g.manifest);
      const gitPath = o.path as string;
      if (o.git && (path.isAbsolute(gitPath) || gitPath.split(/[\\/]/).includes('..'))) throw new UserError(`--path ${gitPath}: expected a path inside the repository (relative, no ..)`);
      const gitUrl = o.git ? (existsSync(o.git as string) ? path.resolve(o.git as string) : (o.git as string)) : undefined;

      if (o.printSystemdUnit) {
        const { renderUnit } = await import('../watch/systemd-unit.js');
        const { fileURLToPath } = await import('node:url');
        const args: string[] = [];
        if (!gitUrl) args.push('--manifest', manifestPath);
        if (g.profile) args.push('--profile', g.profile);
        // --profiles-dir (a global option) is in PMOVES_PROFILES_DIR by now (src/commands/profile.ts)
        if (process.env.PMOVES_PROFILES_DIR) args.push('--profiles-dir', path.resolve(process.env.PMOVES_PROFILES_DIR));
        if (gitUrl) args.push('--git', gitUrl, ...(o.branch ? ['--branch', o.branch as string] : []), '--path', gitPath);
        if (o.verifySignatures) args.push('--verify-signatures');
        if (o.allowedSigners) args.push('--allowed-signers', path.resolve(o.allowedSigners as string));
        args.push('--interval', fmtDuration(o.interval as number));
        if (o.debounce !== 50) args.push('--debounce', fmtDuration(o.debounce as number));
        if (o.removalSettle !== 10_000) args.push('--removal-settle', fmtDuration(o.removalSettle as number));
        if (o.minBackoff !== 5_000) args.push('--min-backoff', fmtDuration(o.minBackoff as number));
        if (o.maxBackoff !== 300_000) args.push('--max-backoff', fmtDuration(o.maxBackoff as number));
        if (o.rollbackOnFailure) args.push('--rollback-on-failure', '--converge-timeout', fmtDuration(o.convergeTimeout as number));
        if (listen) args.push('--listen', `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`);
        if (o.parallelism !== 8) args.push('--parallelism', String(o.parallelism));
        if (o.probe) args.push('--probe');
        if (o.skipUnsatisfiable) args.push('--skip-unsatisfiable');
        args.push(...fleetUnitArgs(o)); // [fleet]
        args.push(...uiUnitArgs(o)); // [ui]
        args.push('--json');
        // what the service needs to find the same things as this shell: agent config folders (MCP
        // clients), the GnuPG keyring (--verify-signatures), the Docker Engine
        const env: Record<string, string> = {};
        for (const k of ['CODEX_HOME', 'XDG_CONFIG_HOME', 'CRUSH_GLOBAL_CONFIG', 'GNUPGHOME']) if (process.env[k]) env[k] = path.resolve(process.env[k]!);
        if (process.env.DOCKER_HOST) env.DOCKER_HOST = process.env.DOCKER_HOST;
        process.stdout.write(
          renderUnit({
            node: process.execPath,
            cli: fileURLToPath(new URL('../cli.js', import.meta.url)),
            args,
            home: home.root,
            workingDirectory: gitUrl ? home.root : path.dirname(manifestPath),
            env,
          }),
        );
        return;
      }

      const { Watcher } = await import('../watch/loop.js');
      const fleet = await (await import('../fleet/watch-hook.js')).startFleet(o, { home, env: process.env, profile: g.profile, git: Boolean(gitUrl), emit: eventWriter(g) }); // [fleet]
      const emit = fleet.emit; // [fleet] was eventWriter(g)
      const ui = o.ui ? await (await import('../ui/start.js')).startUi(o, { listen: parseUiListen('--ui', o.ui as string), home, manifestPath, env: process.env, overrides: g.profile ? { profile: g.profile } : undefined, mode: 'daemon', emit }) : null; // [ui]
      if (ui) emit({ event: 'ui', message: `page at ${ui.url}`, url: ui.url }); // [ui]
      const watcher = new Watcher({
        manifestPath,
        home,
        env: process.env,
        debounceMs: o.debounce as number,
        removalSettleMs: o.removalSettle as number,
        intervalMs: o.interval as number,
        minBackoffMs: o.minBackoff as number,
        maxBackoffMs: Math.max(o.maxBackoff as number, o.minBackoff as number),
        git: gitUrl ? { url: gitUrl, branch: o.branch as string | undefined, path: gitPath, verifySignatures: Boolean(o.verifySignatures), allowedSigners: o.allowedSigners as string | undefined } : undefined,
        rollbackOnFailure: Boolean(o.rollbackOnFailure),
        convergeTimeoutMs: o.convergeTimeout as number,
        listen,
        parallelism: o.parallelism as number,
        readTimeoutMs: o.refreshTimeout as number,
        flags: { probe: Boolean(o.probe), ...(o.skipUnsatisfiable ? { skipUnsatisfiable: true } : {}) },
        overrides: g.profile ? { profile: g.profile } : undefined,
        emit,
        fleet: fleet.select, // [fleet]
        reporters: [...fleet.reporters, ...(ui ? [ui.reporter] : [])], // [fleet] [ui]
      });
      ui?.onRollback(() => watcher.trigger('rollback')); // [ui]
      watcher.metrics.extra = fleet.metrics; // [fleet]
      let signalled = 0;
      const onStop = (sig: NodeJS.Signals) => {
        signalled++;
        if (signalled > 1) {
          // A second signal: the run in flight did not finish. A lock left behind names a dead pid and is taken over.
          process.stderr.write(`pmoves mini watch: second ${sig}: exiting now\n`);
          process.exit(1);
        }
        watcher.stop(sig);
      };
      const onHup = () => watcher.reload();
      process.on('SIGTERM', onStop);
      process.on('SIGINT', onStop);
      process.on('SIGHUP', onHup);
      try {
        await watcher.run();
      } finally {
        await fleet.close(); // [fleet]
        await ui?.close(); // [ui]
        process.off('SIGTERM', onStop);
        process.off('SIGINT', onStop);
        process.off('SIGHUP', onHup);
      }
      process.exitCode = 0;
    });
  addFleetOptions(mini.commands.find((c) => c.name() === 'watch')!); // [fleet]
  addUiOptions(mini.commands.find((c) => c.name() === 'watch')!.option('--ui <[host:]port>', 'serve a live page of this machine (and a fleet with --ui-broker) on this address (docs/ui.md)')); // [ui]

  mini
    .command('rollback [generation]')
    .description('re-apply an earlier generation (from $PMOVES_HOME/history) as a whole; a running watcher keeps it until the manifest changes')
    .option('--list', 'list the generations and exit')
    .option('--auto-approve', 'do not ask for confirmation')
    .option('--parallelism <n>', 'concurrent reads and applies', parseIntOption('--parallelism'), 8)
    .option('--skip-unsatisfiable', 'leave out services this machine cannot run (a GPU a compose service reserves) on every run, instead of failing and backing off (as the stack field skip_unsatisfiable)')
    .addOption(new Option('--refresh-timeout <duration>', 'deadline for reading one resource').argParser(parseDuration('--refresh-timeout')).default(60_000, '1m'))
    .addOption(new Option('--lock-timeout <duration>', 'wait this long for another apply (or the watcher) to finish').argParser(parseDuration('--lock-timeout')).default(30_000, '30s'))
    .action(async (gen: string | undefined, o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const { runRollback } = await import('../watch/rollback.js');
      await runRollback(g, await homeOf(g), gen, o);
    });
}

/** --json: one JSON object per line (journald-friendly); otherwise a time-stamped human line. */
function eventWriter(g: Globals) {
  return (e: { event: string; message: string; [k: string]: unknown }) => {
    const time = new Date().toISOString();
    if (g.json) {
      process.stdout.write(JSON.stringify({ time, ...e }) + '\n');
      return;
    }
    const stream = e.event === 'error' || e.event === 'invalid-manifest' ? process.stderr : process.stdout;
    stream.write(`${time.slice(11, 19)} ${e.message}\n`);
  };
}
