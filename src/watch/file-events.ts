// File triggers, from the kernel's events through chokidar (fs.watch underneath; polling where the
// kernel sends none, as on network file systems: CHOKIDAR_USEPOLLING=1, CHOKIDAR_INTERVAL=ms), not
// from a timer. chokidar is the watch library of this project's fixed dependency list: it folds an
// editor's rename-and-replace save (write a temp file, rename it over, or delete and re-create) into
// one change, and ignores editors' swap and backup files.
//
// Each watched file's folder is watched (depth 0, other files ignored), so a save that arrives as an
// atomic rename is seen as well as one written in place. After an event the file is checked once it
// has been quiet for `settleMs` (≤ 50 ms by default):
// - content stable (same size and mtime before and after reading it) and parseable (YAML for .yaml/
//   .yml, JSON for .json; other files as they are) → `onChange` at once;
// - a write seen half-way (not parseable, or still changing) → nothing: the rest of the write is an
//   event of its own. Only if no further event comes for `invalidGraceMs` (1 s) is the file reported
//   anyway, so that a save that really is broken still gets its located error from the loader.
// A removed file is reported (the loader says what is missing). Nothing parsed is kept.
import { promises as fsp } from 'node:fs';
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
  /** Replace the set of watched files (absolute or relative to the working directory); resolves once they are watched. */
  set(files: string[]): Promise<void>;
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

const signature = (file: string) => fsp.stat(file).then((st) => `${st.size}:${st.mtimeMs}:${st.ino}`, () => 'gone');

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
  const { watch } = await import('chokidar');
  const grace = o.invalidGraceMs ?? 1000;
  let watched = new Set<string>();
  const settle = new Map<string, NodeJS.Timeout>();
  const fallback = new Map<string, NodeJS.Timeout>();
  /** What each file was when last reported (or first watched): size, mtime, inode. */
  const seen = new Map<string, string>();
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
    // one change per new content: a save that raises several events (truncate, write, rename) is one
    const sig = await signature(file);
    if (closed || sig === seen.get(file)) return;
    seen.set(file, sig);
    o.onChange([file]);
  };
  const bump = (file: string) => {
    if (closed || !watched.has(file)) return;
    clearTimeout(settle.get(file));
    clearTimeout(fallback.get(file));
    fallback.delete(file);
    settle.set(file, setTimeout(() => check(file).catch((err: Error) => o.onWarning?.(`checking ${file}: ${err.message}`)), o.settleMs));
  };

  // one chokidar watcher per folder (each awaited until it is ready); only the watched files count
  const folders = new Map<string, import('chokidar').FSWatcher>();
  let queue = Promise.resolve();
  const watchFolder = async (dir: string) => {
    if (!(await fsp.stat(dir).then((st) => st.isDirectory(), () => false))) return; // missing: the loader says so
    const w = watch(dir, { persistent: true, ignoreInitial: true, depth: 0, ignored: (p: string) => p !== dir && !watched.has(path.resolve(p)) });
    for (const ev of ['add', 'change', 'unlink'] as const) w.on(ev, (p: string) => bump(path.resolve(p)));
    w.on('error', (err) => o.onWarning?.(`file watcher on ${dir}: ${err instanceof Error ? err.message : String(err)}`));
    folders.set(dir, w);
    await new Promise<void>((r) => w.once('ready', () => r()));
  };

  const api: FileEvents = {
    set(files) {
      watched = new Set(files.map((f) => path.resolve(f)));
      const dirs = new Set([...watched].map((f) => path.dirname(f)));
      for (const f of watched) if (!seen.has(f)) seen.set(f, '?'); // filled in below, before events count
      // one change of folders at a time, so that two quick calls never watch a folder twice
      queue = queue.then(async () => {
        for (const [d, w] of folders) {
          if (dirs.has(d)) continue;
          void w.close();
          folders.delete(d);
        }
        for (const f of watched) if (seen.get(f) === '?') seen.set(f, await signature(f));
        if (!closed) await Promise.all([...dirs].filter((d) => !folders.has(d)).map(watchFolder));
      });
      return queue;
    },
    files: () => [...watched],
    close() {
      closed = true;
      for (const t of [...settle.values(), ...fallback.values()]) clearTimeout(t);
      settle.clear();
      fallback.clear();
      for (const w of folders.values()) void w.close();
      folders.clear();
    },
  };
  return api;
}
