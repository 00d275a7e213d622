// File helpers: every write the tool makes goes through writeFileAtomic.
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fsp } from 'node:fs';
import path from 'node:path';

export interface WriteOptions {
  /** File mode, e.g. 0o600. Applied to the temp file before the rename, so the file never exists wider. */
  mode?: number;
}

/**
 * Where a write to `file` lands: a symlink (a chain of them, dangling or not) is followed to its final
 * target, so a dotfile manager's link stays a link and its target gets the new content.
 */
export async function writeTarget(file: string): Promise<string> {
  let current = path.resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    let link: string;
    try {
      link = await fsp.readlink(current);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EINVAL' || code === 'ENOENT' || code === 'ENOTDIR') return current; // not a link, or not there yet
      throw err;
    }
    current = path.resolve(path.dirname(current), link);
  }
  throw Object.assign(new Error(`${file}: too many levels of symbolic links`), { code: 'ELOOP' });
}

/**
 * Write to a temp file beside the target, fsync, rename over it. Readers see old or new, never half.
 * A symlink is written through (its target is replaced, the link stays). Without `mode`, an existing
 * file keeps its permission bits (new files get 0644).
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: WriteOptions = {}): Promise<void> {
  const target = await writeTarget(file);
  const dir = path.dirname(target);
  await fsp.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const mode = opts.mode ?? (await fsp.stat(target).then((st) => st.mode & 0o7777, () => 0o644));
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(tmp, 'wx', mode);
    await handle.writeFile(data);
    await handle.chmod(mode); // umask may have narrowed or the caller wants exact bits
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fsp.rename(tmp, target);
  } catch (err) {
    if (handle) await handle.close().catch(() => {});
    await fsp.rm(tmp, { force: true }).catch(() => {});
    // a write on an open handle (ENOSPC, EDQUOT, EIO) does not name its file: the message must
    const e = err as NodeJS.ErrnoException;
    if (e && typeof e === 'object' && e.code && !e.path) e.path = target;
    throw err;
  }
  await sweepStaleTemps(dir, path.basename(target));
}

/**
 * Remove a file this tool wrote and the temp files a killed write of it left beside it (those of
 * processes that no longer run): removal after a crash leaves nothing of ours behind. A symlink is
 * removed itself, never its target.
 */
export async function removeFileAndTemps(file: string): Promise<void> {
  await fsp.rm(file, { force: true });
  const target = await writeTarget(file).catch(() => file);
  await sweepStaleTemps(path.dirname(target), path.basename(target));
  if (target !== path.resolve(file)) await sweepStaleTemps(path.dirname(file), path.basename(file));
}

/**
 * A write killed with -9 leaves its temp file (`.NAME.PID.HEX.tmp`): the next write of NAME removes
 * those of processes that no longer run, so a crash leaves nothing half-written behind for long.
 */
async function sweepStaleTemps(dir: string, base: string): Promise<void> {
  const prefix = `.${base}.`;
  for (const name of await readDirOrEmpty(dir).catch(() => [])) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name.slice(prefix.length));
    if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    await fsp.rm(path.join(dir, name), { force: true }).catch(() => {});
  }
}

/**
 * Run `fn` holding an advisory lock on `file` shared by every pmoves process on this machine, whatever
 * its $PMOVES_HOME: `.NAME.pmoves-lock` beside the file's real target, created exclusively, holding the
 * holder's pid. A holder that died (kill -9) is taken over. Used for files several homes edit (agents'
 * config files), so that concurrent read-edit-rename cycles never lose each other's entries.
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T>, waitMs = 60_000): Promise<T> {
  const target = await writeTarget(file);
  const lock = path.join(path.dirname(target), `.${path.basename(target)}.pmoves-lock`);
  await fsp.mkdir(path.dirname(lock), { recursive: true });
  // what a killed taker left (its pid file, before it was linked or removed)
  const base = `${path.basename(lock)}.`;
  for (const name of await readDirOrEmpty(path.dirname(lock)).catch(() => [])) {
    const m = name.startsWith(base) ? /^(\d+)\.[0-9a-f]{8}$/.exec(name.slice(base.length)) : null;
    if (m && !processAlive(Number(m[1]))) await fsp.rm(path.join(path.dirname(lock), name), { force: true }).catch(() => {});
  }
  const end = Date.now() + waitMs;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    // The lock appears with its holder's pid in it, never empty (a kill between create and write would
    // leave a lock nobody could judge): the pid goes into a temp file first, linked into place.
    const mine = `${lock}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      await fsp.writeFile(mine, `${process.pid}\n`, { mode: 0o600 });
      await fsp.link(mine, lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await fsp.rm(mine, { force: true }).catch(() => {});
    }
    const holder = await fsp.readFile(lock, 'utf8').catch(() => null);
    const pid = Number(holder?.trim());
    if (holder !== null && Number.isInteger(pid) && pid > 0 && !processAlive(pid)) {
      // its holder is gone: remove it, unless another process took it over in between
      if ((await fsp.readFile(lock, 'utf8').catch(() => null)) === holder) await fsp.rm(lock, { force: true });
      continue;
    }
    if (Date.now() > end) throw Object.assign(new Error(`${file}: another pmoves (pid ${holder?.trim() || '?'}) holds ${lock} for longer than ${waitMs / 1000}s`), { code: 'ELOCKED' });
    await new Promise((r) => setTimeout(r, pause + Math.random() * pause));
  }
  try {
    return await fn();
  } finally {
    await fsp.rm(lock, { force: true }).catch(() => {});
  }
}

/** A process of that id runs on this machine (EPERM: it runs as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function readFileOrNull(file: string, maxBytes?: number): Promise<string | null> {
  try {
    return await readRegularFile(file, maxBytes);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The names in a folder; none when the folder does not exist (yet). */
export async function readDirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** A JSON file this tool wrote (atomically): null when it is missing or not JSON (a hand edit). */
export async function readJsonOrNull<T>(file: string): Promise<T | null> {
  const text = await readFileOrNull(file);
  if (text === null) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fsp.access(file);
    return true;
  } catch {
    return false;
  }
}

/** What is at a path (links followed): a file, a folder, something else, or nothing (null). */
export async function pathKind(p: string): Promise<'file' | 'dir' | 'other' | null> {
  try {
    const st = await fsp.stat(p);
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
  } catch {
    return null;
  }
}

export const MiB = 1024 * 1024;

/**
 * Where a regular file is expected (to be read or written): what is wrong with what is at `file` now
 * (a folder, a FIFO, a device …), in words; null when it is a regular file or nothing is there yet.
 */
export async function notARegularFile(file: string): Promise<string | null> {
  try {
    const st = await fsp.stat(file);
    return st.isFile() ? null : `is ${typeOf(st)}, expected a regular file`;
  } catch {
    return null; // not there (yet), or not looked at: the read or write says why, with the path
  }
}

/** Human words for a file type that is not a regular file. */
function typeOf(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Read a regular file of at most `maxBytes`. A FIFO, device or socket is refused before anything is
 * read (it could block forever or never end), and so is a file over the limit. Errors carry `code`
 * (ENOENT …, or ENOTREG / EFBIG for these two) and a message safe to print (the path, never content).
 */
export async function readRegularFile(file: string, maxBytes = 64 * MiB): Promise<string> {
  return (await readRegularFileWithMode(file, maxBytes)).text;
}

/** readRegularFile, with the file's permission bits from the same open (no second stat). */
export async function readRegularFileWithMode(file: string, maxBytes = 64 * MiB): Promise<{ text: string; mode: number }> {
  const st = await fsp.stat(file);
  const refuse = (code: string, why: string) => Object.assign(new Error(`${file}: ${why}`), { code, path: file });
  if (!st.isFile()) throw refuse(st.isDirectory() ? 'EISDIR' : 'ENOTREG', `is ${typeOf(st)}, expected a regular file`);
  if (st.size > maxBytes) throw refuse('EFBIG', `is ${formatBytes(st.size)}, over the limit of ${formatBytes(maxBytes)}`);
  // O_NONBLOCK: should the path be swapped for a FIFO in between, open does not wait for a writer
  const handle = await fsp.open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const again = await handle.stat();
    if (!again.isFile()) throw refuse('ENOTREG', `is ${typeOf(again)}, expected a regular file`);
    const buf = Buffer.alloc(Math.min(maxBytes + 1, Math.max(again.size, 0) + 1));
    let len = 0;
    for (;;) {
      if (len === buf.length) break;
      const { bytesRead } = await handle.read(buf, len, buf.length - len, len);
      if (!bytesRead) break;
      len += bytesRead;
    }
    if (len > maxBytes) throw refuse('EFBIG', `is over the limit of ${formatBytes(maxBytes)}`);
    return { text: buf.subarray(0, len).toString('utf8'), mode: again.mode & 0o7777 };
  } finally {
    await handle.close();
  }
}

export function formatBytes(n: number): string {
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/** Cut a value quoted in a message to `max` characters (a 3 MB value never makes a 3 MB error line). */
export function clip(s: string, max = 200): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} characters)`;
}

/** The real path of `p` (symlinks resolved), or `p` itself when it does not exist yet (its real parent). */
export async function realOrSelf(p: string): Promise<string> {
  try {
    return await fsp.realpath(p);
  } catch {
    const parent = path.dirname(p);
    return parent === p ? p : path.join(await realOrSelf(parent), path.basename(p));
  }
}

/** Whether `p` is `dir` or inside it (paths compared as given: resolve them first). */
export function isInside(dir: string, p: string): boolean {
  const rel = path.relative(path.resolve(dir), path.resolve(p));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
