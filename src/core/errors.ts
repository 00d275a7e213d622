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

/**
 * messageOf, with an OS error on a path said in words with its path (cut to 200 characters): never
 * Node's raw `ENAMETOOLONG: name too long, stat '<4 KB path>'`.
 */
export function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (isPathError(err) && e.path && /^E[A-Z0-9]+: /.test(e.message)) {
    const p = e.path.length <= 200 ? e.path : `${e.path.slice(0, 200)}… (${e.path.length} characters)`;
    return `${p}: ${pathErrorWords(err)}`;
  }
  return messageOf(err);
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.location ? `${d.location}: ` : '';
  const addr = d.address && !d.location ? `${d.address}: ` : '';
  const head = `${d.severity === 'error' ? 'Error' : 'Warning'}: ${where}${addr}${d.summary}`;
  return printable(d.detail ? `${head}\n  ${d.detail.split('\n').join('\n  ')}` : head);
}

/** The longest line a message prints: past it, the line is cut and says how long it was. */
export const MAX_LINE = 1000;

/**
 * Text safe for a terminal: control characters (escape sequences among them) shown as `\u001b`, never
 * sent raw; every line cut to MAX_LINE characters (a 20 MB value never makes a 20 MB error line).
 */
export function printable(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const safe = line.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
      return safe.length <= MAX_LINE ? safe : `${safe.slice(0, MAX_LINE)}… (${safe.length} characters)`;
    })
    .join('\n');
}

/** Words for the errors the OS can return on a path (errno codes), and ours for what is not a regular file. */
const OS_ERRORS: Record<string, string> = {
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a folder, expected a file',
  ENOTDIR: 'a part of the path is not a folder',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files on the system',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'name too long (a path component over 255 bytes, or the whole path over 4096)',
  ENOENT: 'no such file or folder',
  EEXIST: 'already exists',
  ENOTEMPTY: 'the folder is not empty',
  EBUSY: 'busy (in use by the system or another process)',
  ETXTBSY: 'a running program holds it',
  EXDEV: 'cannot move across file systems',
  EIO: 'input/output error (the disk or file system failed)',
  EFBIG: 'too large',
  ENOTREG: 'not a regular file',
  ENXIO: 'no such device (a FIFO without a reader, or a device that is gone)',
  ENODEV: 'no such device',
  EAGAIN: 'would block (a FIFO or device)',
  EINVAL: 'invalid argument for this file',
  EOVERFLOW: 'too large for this operation',
  EFAULT: 'bad address',
  EMLINK: 'too many links',
  ESPIPE: 'not seekable (a FIFO or socket)',
  ENOTSUP: 'not supported by this file system',
  EOPNOTSUPP: 'not supported by this file system',
  ESTALE: 'stale file handle (a network file system)',
};

/** An error the OS (or our file checks) returned on a path: it has an errno code like ENOENT. */
export function isPathError(err: unknown): err is NodeJS.ErrnoException {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) && (code in OS_ERRORS || typeof (err as NodeJS.ErrnoException).syscall === 'string');
}

/** What went wrong, in words (`code` kept for searching), without the path. */
export function pathErrorWords(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? '';
  const why = OS_ERRORS[code] ?? (String(e?.message ?? err).replace(/^[A-Z0-9]+: /, '').replace(/, \w+ '.*$/s, '') || 'failed');
  return code ? `${why} (${code})` : why;
}
