// Few error classes, one top-level catch (src/cli.ts) maps them to exit codes.
import type { Diagnostic } from './types.js';

/** The user's input is wrong (manifest, flags, files). Exit 1, no stack trace. */
export class UserError extends Error {
  override name = 'UserError';
  constructor(message: string, readonly diagnostics: Diagnostic[] = []) {
    super(message);
  }
}

/** The world refused (lock held, stale plan, Docker down …). Exit 1, no stack trace. */
export class OperationError extends Error {
  override name = 'OperationError';
}

/** Another pmoves mini holds $PMOVES_HOME/lock (thrown by acquireLock); `holder` names it. */
export class LockBusyError extends OperationError {
  override name = 'LockBusyError';
  constructor(message: string, readonly holder: { pid: number; host: string; command: string; since: string }) {
    super(message);
  }
}

export function isExpected(err: unknown): err is UserError | OperationError {
  return err instanceof UserError || err instanceof OperationError;
}

/** A message safe to print for any thrown value. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.location ? `${d.location}: ` : '';
  const addr = d.address && !d.location ? `${d.address}: ` : '';
  const head = `${d.severity === 'error' ? 'Error' : 'Warning'}: ${where}${addr}${d.summary}`;
  return d.detail ? `${head}\n  ${d.detail.split('\n').join('\n  ')}` : head;
}
