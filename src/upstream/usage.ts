// Usage errors on upstream's command paths exit 2, as upstream's Typer (Click) CLI does: scripts that
// tell "you called it wrong" (2) from "it failed" (1) keep their signal. The text stays commander's.
import type { Command, CommanderError } from 'commander';

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
