// File triggers, from the kernel's events (inotify through fs.watch), not from a timer.
//
// Each watched file's folder is watched (one fs.watch per folder), so a save that arrives as an atomic
// rename (write a temp file, rename it over) is seen as well as one written in place. After an event
// the file is checked once it has been quiet for `settleMs` (≤ 50 ms by default):
// - content stable (same size and mtime before and after reading it) and parseable (YAML for .yaml/
//   .yml, JSON for .json; other files as they are) → `onChange` at once;
// - a write seen half-way (not parseable, or still changing) → nothing: the rest of the write is an
//   event of its own. Only if no further event comes for `invalidGraceMs` (1 s) is the file reported
//   anyway, so that a save that really is broken still gets its located error from the loader.
// A removed file is reported at once (the loader says what is missing). Nothing parsed is kept.
import { watch, promises as fsp, type FSWatcher } from 'node:fs';
import path from 'node:path';

export interface FileEventsOptions {
  /** Quiet period after an event before the file is checked. */
  settleMs: number;
  /** A file that stays unparseable this long after its last event is reported anyway. */
  invalidGraceMs?: number;
  /** Absolute paths of the files that changed (a batch checked together). */
  onChange(files: string[]): void;
  onWarning?(message: string): void;
  /** Each check after an event, with what it found (for tests and debugging). */
  onCheck?(file: string, r: Readiness): void;
}

export interface FileEvents {
  /** Replace the set of watched files (absolute or relative to the working directory). */
  set(files: string[]): void;
  /** Files watched now (absolute). */
  files(): string[];
  close(): void;
}

export type Readiness = 'ready' | 'partial' | 'gone';

/** Whether a file looks completely written: stable across the read, and parseable by its extension. */
export async function readiness(file: string): Promise<Readiness> {
  const before = await fsp.stat(file).catch(() => null);
  if (!before) return 'gone';
  if (!before.isFile()) return 'ready'; // the loader says what is wrong with it
  const text = await fsp.readFile(file, 'utf8').catch(() => null);
  const after = await fsp.stat(file).catch(() => null);
  if (text === null || !after) return 'gone';
  if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || Buffer.byteLength(text) !== after.size) return 'partial';
  return (await parseable(file, text)) ? 'ready' : 'partial';
}

async function parseable(file: string, text: string): Promise<boolean> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.json') {
    try {
      JSON.parse(text);
      return true;
    } catch {
      return false;
    }
  }
  if (ext === '.yaml' || ext === '.yml') {
    // yaml is loaded with the manifest loader anyway; the document is dropped at once
    const { parseDocument } = await import('yaml');
    return parseDocument(text, { prettyErrors: false }).errors.length === 0;
  }
  return true;
}

export async function watchFiles(o: FileEventsOptions): Promise<FileEvents> {
  const grace = o.invalidGraceMs ?? 1000;
  let watched = new Set<string>();
  const folders = new Map<string, FSWatcher>();
  const settle = new Map<string, NodeJS.Timeout>();
  const fallback = new Map<string, NodeJS.Timeout>();
  let closed = false;

  const check = async (file: string) => {
    settle.delete(file);
    const r = await readiness(file);
    if (closed || settle.has(file)) return; // closed, or a newer event is settling
    o.onCheck?.(file, r);
    if (r === 'partial') {
      // wait for the next event; report anyway if none comes
      if (!fallback.has(file)) fallback.set(file, setTimeout(() => (fallback.delete(file), closed || o.onChange([file])), grace));
      return;
    }
    clearTimeout(fallback.get(file));
    fallback.delete(file);
    o.onChange([file]);
  };

  const onEvent = (dir: string, name: string | Buffer | null) => {
    if (closed) return;
    if (name === null) {
      // the kernel did not say which file: check every watched file in this folder
      for (const f of watched) if (path.dirname(f) === dir) bump(f);
      return;
    }
    const file = path.join(dir, String(name));
    if (watched.has(file)) bump(file);
  };
  const bump = (file: string) => {
    clearTimeout(settle.get(file));
    clearTimeout(fallback.get(file));
    fallback.delete(file);
    settle.set(file, setTimeout(() => check(file).catch((err: Error) => o.onWarning?.(`checking ${file}: ${err.message}`)), o.settleMs));
  };

  const api: FileEvents = {
    set(files) {
      watched = new Set(files.map((f) => path.resolve(f)));
      const dirs = new Set([...watched].map((f) => path.dirname(f)));
      for (const [d, w] of folders) {
        if (!dirs.has(d)) {
          w.close();
          folders.delete(d);
        }
      }
      for (const d of dirs) {
        if (folders.has(d)) continue;
        try {
          const w = watch(d, { persistent: true }, (_type, name) => onEvent(d, name));
          w.on('error', (err) => o.onWarning?.(`file watcher on ${d}: ${err.message}`));
          folders.set(d, w);
        } catch (err) {
          // a folder that does not exist (yet): its files are missing, and the loader says so
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') o.onWarning?.(`cannot watch ${d}: ${(err as Error).message}`);
        }
      }
    },
    files: () => [...watched],
    close() {
      closed = true;
      for (const t of [...settle.values(), ...fallback.values()]) clearTimeout(t);
      settle.clear();
      fallback.clear();
      for (const w of folders.values()) w.close();
      folders.clear();
    },
  };
  return api;
}
