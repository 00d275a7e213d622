#!/usr/bin/env node
// pmoves — entry point. Kept tiny: only commander loads at start; each command imports what it needs
// when it runs, so `--version` and `--help` stay fast.
import { Command, Option } from 'commander';
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { commands } from './commands/index.js';
import { handleError } from './commands/common.js';
import { packageRoot } from './core/paths.js';

// From the package root, not from this file: in the bundle this code sits in dist/src/chunks/.
const pkg = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };

/** Options every mini command understands, before or after the command name (commander reads a
 *  parent's options anywhere on the line unless positional options are enabled). */
export function addGlobalOptions(cmd: Command): Command {
  return cmd
    .option('-m, --manifest <path>', 'manifest file (default: ./pmoves.mini.yaml)')
    .option('--profile <id>', 'hardware profile id, or "auto" (overrides the manifest)')
    .option('--profiles-dir <dir>', 'extra folder of hardware profiles (also $PMOVES_PROFILES_DIR)')
    .option('--non-interactive', 'never prompt; fail instead of asking')
    .option('--no-color', 'no colours (also NO_COLOR)')
    .option('--json', 'machine-readable output where the command supports it')
    .option('--debug', 'print stack traces of internal errors')
    .addOption(new Option('--home <path>', 'state folder (default $PMOVES_HOME or ~/.pmoves)').hideHelp());
}

export function buildProgram(): Command {
  const program = new Command('pmoves')
    .description('PMOVES.AI command line')
    .version(pkg.version, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (s, write) => write(s) });
  const mini = addGlobalOptions(
    program
      .command('mini')
      .description('declarative reconciler for PMOVES mini nodes: plan, apply and watch one manifest')
      .showHelpAfterError('(run with --help for usage)')
      .configureHelp({ showGlobalOptions: true }),
  );
  for (const register of commands) register(mini);
  return program;
}

// A closed pipe (`… | head -1`) is the reader saying "enough": exit quietly with 0, as `cat` would.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    handleError(err, process.argv.includes('--debug'));
  });
}
// Many resources read at once each add a process/AbortSignal listener: not a leak, so no warning.
setMaxListeners(256);

buildProgram()
  .parseAsync(process.argv)
  .catch((err) => handleError(err, process.argv.includes('--debug')));
