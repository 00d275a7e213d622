// Usage errors on upstream's command paths exit 2, as upstream's Typer (Click) CLI does: scripts that
// tell "you called it wrong" (2) from "it failed" (1) keep their signal. The text stays commander's.
import { Option, type Command, type CommanderError } from 'commander';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Upstream's top-level commands (python -m pmoves.tools.mini_cli at 09f0ad73). */
const UPSTREAM = new Set(['init', 'bootstrap', 'status', 'secrets', 'profile', 'mcp', 'automations', 'crush', 'deps', 'tailscale']);
/** Upstream's sub-commands, where the group also has commands of this tool's own. */
const UPSTREAM_SUB: Record<string, Set<string>> = {
  secrets: new Set(['encode', 'decode']),
  mcp: new Set(['list', 'health', 'setup']),
};
const USAGE = new Set([
  'commander.unknownOption',
  'commander.unknownCommand',
  'commander.missingArgument',
  'commander.optionMissingArgument',
  'commander.missingMandatoryOptionValue',
  'commander.excessArguments',
  'commander.invalidArgument',
  'commander.conflictingOption',
  'commander.help', // a group called with no sub-command (Click: "Missing command.")
]);

function usageExit(err: CommanderError): never {
  process.exit(USAGE.has(err.code) ? 2 : err.exitCode);
}

/** Registered last: walks the commands the other modules declared. */
export function registerUpstreamUsage(mini: Command): void {
  // `pmoves mini frobnicate`: upstream's unknown command is a usage error too
  mini.exitOverride((err) => (err.code === 'commander.unknownCommand' ? process.exit(2) : process.exit(err.exitCode)));
  const walk = (c: Command) => {
    c.exitOverride(usageExit);
    for (const sub of c.commands) walk(sub);
  };
  // Typer's --show-completion / --install-completion (bash, zsh; a completion of the command names)
  mini.addOption(new Option('--show-completion [shell]', 'print the shell completion script (bash, zsh)').hideHelp());
  mini.addOption(new Option('--install-completion [shell]', 'install the shell completion script (bash, zsh)').hideHelp());
  mini.on('option:show-completion', (shell?: string) => {
    process.stdout.write(completionScript(mini, shell));
    process.exit(0);
  });
  mini.on('option:install-completion', (shell?: string) => process.exit(installCompletion(mini, shell)));
  for (const c of mini.commands) {
    if (!UPSTREAM.has(c.name())) continue;
    const subs = UPSTREAM_SUB[c.name()];
    if (!subs) {
      walk(c);
      continue;
    }
    c.exitOverride(usageExit);
    for (const sub of c.commands) if (subs.has(sub.name())) walk(sub);
  }
}

function completionScript(mini: Command, shell?: string): string {
  const words = mini.commands.map((c) => c.name()).sort();
  const subs = mini.commands
    .filter((c) => c.commands.length)
    .map((c) => `    ${c.name()}) words="${c.commands.map((s) => s.name()).sort().join(' ')}" ;;`)
    .join('\n');
  const body = [
    '_pmoves_mini_completion() {',
    '  local cur=${COMP_WORDS[COMP_CWORD]} words',
    '  if [ "$COMP_CWORD" -le 1 ]; then words="' + words.join(' ') + '"; else',
    '  case "${COMP_WORDS[1]}" in',
    subs,
    '    *) words="" ;;',
    '  esac; fi',
    '  COMPREPLY=( $(compgen -W "$words" -- "$cur") )',
    '}',
    'complete -o default -F _pmoves_mini_completion pmoves-mini',
  ].join('\n');
  return (shell === 'zsh' ? 'autoload -U +X bashcompinit && bashcompinit\n' : '') + body + '\n';
}

/** Typer's install: bash gets a file bash-completion loads by command name; zsh a sourced script.
 *  Synchronous (temp file + rename, so still atomic): commander goes on parsing right after the option
 *  event, and this must finish before it would report the missing command. */
function installCompletion(mini: Command, shell?: string): number {
  const sh = shell ?? path.basename(process.env.SHELL ?? 'bash');
  if (sh !== 'bash' && sh !== 'zsh') {
    process.stderr.write(`Error: completion for ${sh} is not available here (bash, zsh)\n`);
    return 1;
  }
  const home = os.homedir();
  const script = sh === 'bash' ? path.join(home, '.local', 'share', 'bash-completion', 'completions', 'pmoves-mini') : path.join(home, '.zsh_completions', 'pmoves-mini.sh');
  writeAtomicSync(script, completionScript(mini, sh));
  if (sh === 'zsh') {
    const rc = path.join(home, '.zshrc');
    const line = `source ${script}`;
    const text = existsSync(rc) ? readFileSync(rc, 'utf8') : '';
    if (!text.split('\n').includes(line)) writeAtomicSync(rc, `${text}${text && !text.endsWith('\n') ? '\n' : ''}${line}\n`);
  }
  process.stdout.write(`${sh} completion installed in ${script}\nCompletion will take effect once you restart the terminal\n`);
  return 0;
}

function writeAtomicSync(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const mode = existsSync(file) ? statSync(file).mode & 0o777 : 0o644;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
}
