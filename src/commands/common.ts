// What every command shares: reading global options, opening a session, printing diagnostics, and the
// one top-level catch that maps errors to exit codes. Heavy modules are imported lazily.
import type { Command } from 'commander';
import path from 'node:path';
import { formatDiagnostic, isExpected, isPathError, messageOf, pathErrorWords, printable, UserError } from '../core/errors.js';
import type { Home } from '../core/home.js';
import type { Diagnostic } from '../core/types.js';

export interface Globals {
  manifest: string;
  profile?: string;
  nonInteractive: boolean;
  color: boolean;
  json: boolean;
  debug: boolean;
  home?: string;
}

export function globals(cmd: Command): Globals {
  const o = cmd.optsWithGlobals() as Record<string, unknown>;
  return {
    manifest: (o.manifest as string | undefined) ?? 'pmoves.mini.yaml',
    profile: o.profile as string | undefined,
    // --non-interactive means "never prompt"; CI=true says nothing about consent (see confirmation below)
    nonInteractive: Boolean(o.nonInteractive),
    color: o.color !== false,
    json: Boolean(o.json),
    debug: Boolean(o.debug),
    home: o.home as string | undefined,
  };
}

export async function homeOf(g: Globals): Promise<Home> {
  const { pmovesHome } = await import('../core/home.js');
  return pmovesHome(g.home ? { ...process.env, PMOVES_HOME: path.resolve(g.home) } : process.env);
}

export function printDiagnostics(ds: Diagnostic[], stream: NodeJS.WriteStream = process.stderr): void {
  for (const d of ds) stream.write(formatDiagnostic(d) + '\n');
}

export function parseIntOption(name: string, min = 1) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UserError(`${name}: expected a whole number >= ${min}, got "${v}"`);
    return n;
  };
}

/** Seconds or a duration like 30s, 5m, 1h, 500ms → milliseconds. */
export function parseDuration(name: string) {
  return (v: string): number => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
    if (!m) throw new UserError(`${name}: expected seconds or a duration like 30s, 5m, 1h; got "${v}"`);
    const n = Number(m[1]);
    const unit = m[2] ?? 's';
    return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!);
  };
}

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** The one top-level catch: user and operation errors → message, exit 1; anything else → one line + --debug hint. */
export function handleError(err: unknown, debug: boolean): never {
  if (err instanceof UserError) {
    if (err.diagnostics.length) printDiagnostics(err.diagnostics);
    if (!err.diagnostics.length || !err.diagnostics.some((d) => d.severity === 'error')) process.stderr.write(`Error: ${printable(err.message)}\n`);
    process.exit(1);
  }
  if (isExpected(err)) {
    process.stderr.write(`Error: ${printable(err.message)}\n`);
    process.exit(1);
  }
  const sys = systemErrorMessage(err);
  if (sys && !debug) {
    process.stderr.write(`Error: ${printable(sys)}\n`);
    process.exit(1);
  }
  if (debug) process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  else process.stderr.write(`pmoves mini: internal error: ${printable(messageOf(err))}\nRun the same command with --debug for the stack trace, and report it.\n`);
  process.exit(1);
}

/** A file system refusal (read-only or full home, …) said plainly, with the path it concerns. */
export function systemErrorMessage(err: unknown): string | undefined {
  if (!isPathError(err)) return undefined;
  const e = err as NodeJS.ErrnoException;
  // our own refusals (readRegularFile …) already start with the path
  if (e.path && e.message.startsWith(`${e.path}: `) && !/^E[A-Z]+: /.test(e.message)) return e.message;
  return `${e.path ? `${e.path}: ` : ''}${pathErrorWords(e)}${e.syscall ? ` while trying to ${e.syscall}` : ''}`;
}

/**
 * Consent as Terraform asks for it: `--auto-approve` is consent; otherwise a terminal asks. Without a
 * terminal, or with --non-interactive ("never prompt"), a command that would change the machine
 * refuses. CI=true alone is not consent.
 */
export function consentOf(g: Globals, o: Record<string, unknown>): 'auto' | 'ask' | 'refuse' {
  if (o.autoApprove) return 'auto';
  if (!g.nonInteractive && process.stdin.isTTY && process.stdout.isTTY) return 'ask';
  return 'refuse';
}

export function noConsent(command: string, g: Globals): UserError {
  const why = g.nonInteractive ? 'with --non-interactive it never asks' : 'there is no terminal to ask on';
  return new UserError(`${command} would change the machine and needs confirmation, but ${why}: pass --auto-approve to go ahead without asking (nothing was changed)`);
}

/** Terraform's question on the terminal: only "yes" goes on. */
export async function askYes(): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    process.stdout.write('\nDo you want to perform these actions?\n  Only "yes" will be accepted to approve.\n\n');
    return (await rl.question('  Enter a value: ')).trim() === 'yes';
  } finally {
    rl.close();
  }
}
