// `deps check|install`: host tools, upstream's `dep: available|missing` lines; install asks first.
import type { Command } from 'commander';
import { UserError } from '../core/errors.js';
import { globals } from './common.js';

export function registerDeps(mini: Command): void {
  const deps = mini.command('deps').description('Host tooling dependency helpers: docker, compose v2, git, node, esptool, NVIDIA tooling');

  deps
    .command('check')
    .description('Report whether host dependencies are available (exit 1 when a required one is missing)')
    .action(async (_o: unknown, cmd: Command) => {
      const { DEPS, available } = await import('../upstream/deps.js');
      const rows = await Promise.all(DEPS.map(async (d) => ({ id: d.id, required: d.required, why: d.why, available: await available(d, process.env) })));
      const missing = rows.filter((r) => !r.available && r.required);
      if (globals(cmd).json) process.stdout.write(JSON.stringify({ deps: rows }, null, 2) + '\n');
      else {
        for (const r of rows) process.stdout.write(`${r.id}: ${r.available ? 'available' : 'missing'}${!r.available && !r.required ? ` (optional: ${r.why})` : ''}\n`);
        process.stdout.write(missing.length ? "Missing dependencies detected. Run 'pmoves mini deps install' to remediate.\n" : 'All tracked dependencies are available.\n');
      }
      process.exitCode = missing.length ? 1 : 0;
    });

  deps
    .command('install [ids...]')
    .description('Install missing dependencies (default: the required ones) on the host or via a container; asks before each')
    .option('--manager <name>', 'package manager: apt-get, apt, dnf, yum, pacman, brew, choco, winget (default: detected)')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--use-container', 'install inside an ephemeral container instead of on the host')
    .option('--container-image <image>', 'image for --use-container', 'debian:bookworm-slim')
    .action(async (ids: string[], o: { manager?: string; yes?: boolean; useContainer?: boolean; containerImage: string }, cmd: Command) => {
      const g = globals(cmd);
      const { DEPS, MANAGERS, available, detectManager, installCommands } = await import('../upstream/deps.js');
      // Upstream spells the manager -m, which is this CLI's --manifest: a manager name there means the manager.
      const manifestFlag = (cmd.optsWithGlobals() as { manifest?: string }).manifest;
      const managerName = o.manager ?? (manifestFlag && (MANAGERS as readonly string[]).includes(manifestFlag) ? manifestFlag : undefined);
      for (const id of ids) if (!DEPS.some((d) => d.id === id)) throw new UserError(`deps install: unknown dependency "${id}" (known: ${DEPS.map((d) => d.id).join(', ')})`);
      const wanted = DEPS.filter((d) => (ids.length ? ids.includes(d.id) : d.required));
      const missing = [];
      for (const d of wanted) if (!(await available(d, process.env))) missing.push(d);
      if (!missing.length) {
        process.stdout.write('All tracked dependencies are already available.\n');
        return;
      }
      process.stdout.write('Missing dependencies: ' + missing.map((d) => d.id).join(', ') + '\n');
      const { canPrompt } = await import('./prompt-hidden.js');
      // an ephemeral container changes nothing on this machine: upstream (and its agent-zero instrument)
      // runs it without asking, and so does this
      if (!o.yes && !o.useContainer && !canPrompt(g.nonInteractive)) throw new UserError('deps install: no terminal to ask on; nothing was installed. Run with --yes to install without asking.');
      const ask = async (q: string): Promise<boolean> => {
        if (o.yes) return true;
        const { createInterface } = await import('node:readline/promises');
        const rl = createInterface({ input: process.stdin, output: process.stdout });
        try {
          return /^(|y|yes)$/i.test((await rl.question(`${q} [Y/n]: `)).trim());
        } finally {
          rl.close();
        }
      };
      const { execa } = await import('execa');
      if (o.useContainer) {
        const pkgs = [...new Set(missing.flatMap((d) => d.packages['apt-get'] ?? []))].sort();
        // the repository mounted at /workspace, as upstream does
        const { repoRoot } = await import('../upstream/provisioning.js');
        const r = await execa('docker', ['run', '--rm', '-v', `${repoRoot()}:/workspace`, '-w', '/workspace', o.containerImage, 'sh', '-c', `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${pkgs.join(' ')}`], { reject: false, stdio: 'inherit' });
        if (r.exitCode !== 0) throw new UserError(`deps install: the container install failed (exit ${r.exitCode})`);
        process.stdout.write('Dependencies installed inside container image.\n');
        return;
      }
      const manager = detectManager(process.env, managerName);
      if (!manager) throw new UserError(managerName ? `deps install: package manager "${managerName}" is not available here` : 'Could not detect a supported package manager. Use --use-container or install manually.');
      const sudo = process.platform !== 'win32' && process.getuid?.() !== 0 ? ['sudo'] : [];
      for (const d of missing) {
        const pkgs = d.packages[manager];
        if (!pkgs?.length) {
          process.stdout.write(`No package mapping for dependency '${d.id}' with manager '${manager}' (${d.why}): install it by hand.\n`);
          process.exitCode = 1;
          continue;
        }
        if (!(await ask(`Install ${d.id} using ${manager} (${pkgs.join(', ')})?`))) {
          process.stdout.write(`Skipping ${d.id} at user request.\n`);
          continue;
        }
        for (const c of installCommands(manager, pkgs)) {
          const argv = [...sudo, ...c];
          const r = await execa(argv[0]!, argv.slice(1), { reject: false, stdio: 'inherit' });
          if (r.exitCode !== 0) throw new UserError(`Failed to install '${d.id}' via ${manager}.`);
        }
      }
      if (!process.exitCode) process.stdout.write('Dependency installation completed.\n');
    });
}
