// One apply at a time per $PMOVES_HOME. The lock file names its holder; a holder that died is detected
// (its pid is gone) and the lock is taken over.
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import { LockBusyError, OperationError } from '../core/errors.js';
import { processAlive } from '../core/fs.js';
import type { Home } from '../core/home.js';

export interface LockInfo {
  pid: number;
  host: string;
  command: string;
  since: string;
}

export interface Lock {
  release(): Promise<void>;
}

/** Whether a process with this pid exists (EPERM: it exists, owned by someone else). */
async function readHolder(file: string): Promise<LockInfo | null> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as LockInfo;
  } catch {
    return null;
  }
}

export async function acquireLock(home: Home, command: string, timeoutMs = 0): Promise<Lock> {
  await fsp.mkdir(home.root, { recursive: true, mode: 0o700 });
  const me: LockInfo = { pid: process.pid, host: os.hostname(), command, since: new Date().toISOString() };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = await fsp.lstat(home.lock).catch(() => null);
    if (st && !st.isFile()) {
      throw new OperationError(`${home.lock} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}, where pmoves keeps its lock file; move it out of $PMOVES_HOME`);
    }
    try {
      const h = await fsp.open(home.lock, 'wx', 0o600);
      try {
        await h.writeFile(JSON.stringify(me) + '\n');
        await h.close();
      } catch (err) {
        // a full disk: leave no empty lock behind
        await h.close().catch(() => {});
        await fsp.rm(home.lock, { force: true }).catch(() => {});
        throw err;
      }
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          const holder = await readHolder(home.lock);
          if (holder?.pid === process.pid) await fsp.rm(home.lock, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await readHolder(home.lock);
    const sameHost = !holder || holder.host === os.hostname();
    if (!holder || (sameHost && !processAlive(holder.pid))) {
      // A dead holder (or a lock file cut short by a crash): take it over. Rename first so two
      // processes racing for the same stale lock cannot both remove a fresh one.
      const stale = `${home.lock}.stale.${process.pid}`;
      const moved = await fsp.rename(home.lock, stale).then(() => true, () => false);
      if (moved) {
        const took = await readHolder(stale);
        if (took && holder && took.pid !== holder.pid && processAlive(took.pid)) {
          // we raced and moved a live holder's fresh lock: put it back
          await fsp.link(stale, home.lock).catch(() => {});
        }
        await fsp.rm(stale, { force: true });
      }
      continue;
    }
    if (Date.now() >= deadline) {
      throw new LockBusyError(
        `another pmoves mini is running: pid ${holder.pid} on ${holder.host} (${holder.command}, since ${holder.since}) holds ${home.lock}. ` +
          `Wait for it, or pass --lock-timeout to wait.`,
        holder,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
