// Model files: HTTP(S) download into a temp file beside the target, resumed with `Range` after an
// interruption, sha256 verified before an atomic rename. Also the read side: what is on disk, how much
// of an interrupted download is there, and how much disk is free where the file goes.
//
// Contracts:
//  - readModelFile never changes anything (a HEAD request at most; it remembers the digest of a file it
//    had to hash under $PMOVES_HOME/cache/sha256, keyed by path, size, mtime and inode).
//  - downloadFile either leaves `dest` holding exactly the bytes whose sha256 was asked for (renamed
//    into place after fsync), or throws. On a checksum mismatch the temp file is deleted and the error
//    names both digests; on an interrupted transfer the temp file is kept so the next call resumes it.
//  - removeModelFile: after a failure the file is assumed to still exist.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { formatBytes, Progress } from './transfer-progress.js';

export interface DiskInfo {
  /** The existing folder that was checked (the target's nearest existing ancestor). */
  dir: string;
  /** Device id: downloads onto the same device add up. */
  dev: number;
  /** Bytes available to this user, rounded down to 100 MB. */
  free: number;
}

export interface FileModelActual {
  provider: 'file';
  path: string;
  exists: boolean;
  size: number | null;
  /** sha256 of the file on disk, or null when it does not exist. */
  sha256: string | null;
  /** Where the digest came from: hashed now, or trusted from state / the digest cache because size and mtime did not change. */
  hashed: 'now' | 'state' | 'cache' | null;
  /** Bytes of an interrupted download of this very sha256, resumable. */
  partial: number;
  /** Content-Length from a HEAD request, only asked when the size is needed and not declared. */
  remoteSize: number | null;
  /** Free disk where the file goes, read only when a download is needed (a live reading: volatile). */
  volatile: { disk: DiskInfo | null };
}

/** What state remembers about a file this tool wrote. */
export interface FileModelState {
  provider: 'file';
  path: string;
  url: string;
  sha256: string;
  size: number;
  mtimeMs: number;
}

const FREE_GRAIN = 100_000_000;

/** The temp file of a download: beside the target (same filesystem, so the rename is atomic), named by digest. */
export function partialPath(dest: string, sha256: string): string {
  return path.join(path.dirname(dest), `.${path.basename(dest)}.${sha256.slice(0, 16)}.partial`);
}

async function sizeOrZero(file: string): Promise<number> {
  try {
    return (await fsp.stat(file)).size;
  } catch {
    return 0;
  }
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    const s = createReadStream(file);
    s.on('data', (c) => hash.update(c));
    s.on('error', reject);
    s.on('end', () => resolve());
  });
  return hash.digest('hex');
}

/** Free space on the filesystem that will hold `target` (its nearest existing ancestor). */
export async function diskFor(target: string): Promise<DiskInfo | null> {
  let dir = path.resolve(target);
  for (;;) {
    try {
      const st = await fsp.stat(dir);
      if (st.isDirectory()) {
        const fs = await fsp.statfs(dir);
        const free = Math.floor((Number(fs.bavail) * Number(fs.bsize)) / FREE_GRAIN) * FREE_GRAIN;
        // A live reading, not state: the kinds keep it under `volatile`, out of a saved plan's digest, so other
        // writes on the disk do not make `apply PLANFILE` stale. Apply re-plans, so the check still runs.
        return { dir, dev: st.dev, free };
      }
    } catch {
      // keep going up
    }
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

export interface ReadFileOptions {
  path: string;
  url: string;
  sha256: string;
  /** Declared size (bytes), if any. */
  size: number | null;
  prior?: FileModelState;
  signal?: AbortSignal;
  /** Ask the server for the size when the file must be downloaded and no size is declared. */
  headTimeoutMs?: number;
  /** Folder of remembered digests of files this tool did not write (so they are hashed once, not on every plan). */
  cacheDir?: string;
}

interface DigestCacheEntry {
  path: string;
  size: number;
  mtimeMs: number;
  ino: number;
  sha256: string;
}

function cacheFile(dir: string, file: string): string {
  return path.join(dir, `${createHash('sha256').update(file).digest('hex').slice(0, 32)}.json`);
}

async function cachedDigest(dir: string | undefined, file: string, st: import('node:fs').Stats): Promise<string | null> {
  if (!dir) return null;
  try {
    const e = JSON.parse(await fsp.readFile(cacheFile(dir, file), 'utf8')) as DigestCacheEntry;
    return e.path === file && e.size === st.size && e.mtimeMs === st.mtimeMs && e.ino === st.ino ? e.sha256 : null;
  } catch {
    return null;
  }
}

async function rememberDigest(dir: string | undefined, file: string, st: import('node:fs').Stats, sha256: string): Promise<void> {
  if (!dir) return;
  const { writeFileAtomic } = await import('../../core/fs.js');
  const e: DigestCacheEntry = { path: file, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, sha256 };
  await writeFileAtomic(cacheFile(dir, file), JSON.stringify(e) + '\n', { mode: 0o600 }).catch(() => {});
}

export async function readModelFile(o: ReadFileOptions): Promise<FileModelActual> {
  let st: import('node:fs').Stats | null = null;
  try {
    st = await fsp.stat(o.path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (st && !st.isFile()) throw new Error(`${o.path} exists and is not a regular file`);
  let sha: string | null = null;
  let hashed: FileModelActual['hashed'] = null;
  if (st) {
    const p = o.prior;
    if (p && p.path === o.path && p.size === st.size && p.mtimeMs === st.mtimeMs) {
      sha = p.sha256;
      hashed = 'state';
    } else if (o.size !== null && st.size !== o.size) {
      // Wrong size: it cannot match; hashing gigabytes would only confirm it.
      sha = `size-${st.size}`;
      hashed = 'now';
    } else {
      sha = await cachedDigest(o.cacheDir, o.path, st);
      hashed = sha ? 'cache' : 'now';
      if (!sha) {
        sha = await sha256File(o.path);
        await rememberDigest(o.cacheDir, o.path, st, sha);
      }
    }
  }
  const needed = !st || sha !== o.sha256;
  const partial = needed ? await sizeOrZero(partialPath(o.path, o.sha256)) : 0;
  const remoteSize = needed && o.size === null ? await headSize(o.url, o.headTimeoutMs ?? 10_000, o.signal) : null;
  return {
    provider: 'file',
    path: o.path,
    exists: Boolean(st),
    size: st ? st.size : null,
    sha256: sha,
    hashed,
    partial,
    remoteSize,
    volatile: { disk: needed ? await diskFor(path.dirname(o.path)) : null },
  };
}

async function headSize(url: string, timeoutMs: number, signal?: AbortSignal): Promise<number | null> {
  try {
    const s = AbortSignal.timeout(timeoutMs);
    const res = await fetch(url, { method: 'HEAD', redirect: 'follow', signal: signal ? AbortSignal.any([signal, s]) : s });
    if (!res.ok) return null;
    const n = Number(res.headers.get('content-length'));
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

export interface DownloadOptions {
  url: string;
  dest: string;
  sha256: string;
  /** Declared size, for progress when the server does not say. */
  size?: number | null;
  signal?: AbortSignal;
  /** Progress lines (already throttled by Progress). */
  progress?: Progress;
  /** Extra lines (resuming, restarting). */
  note?: (line: string) => void;
  /** Resume attempts within this call after a dropped connection (default 2). */
  retries?: number;
  /** The fetch to use (default: the global one). */
  fetchImpl?: typeof fetch;
}

export interface DownloadResult {
  size: number;
  /** Bytes that were already on disk from an earlier, interrupted download. */
  resumedFrom: number;
  mtimeMs: number;
}

class Restart extends Error {}

export async function downloadFile(o: DownloadOptions): Promise<DownloadResult> {
  const f = o.fetchImpl ?? fetch;
  const tmp = partialPath(o.dest, o.sha256);
  await fsp.mkdir(path.dirname(o.dest), { recursive: true });
  const retries = o.retries ?? 2;
  let failures = 0;
  let firstOffset = -1;
  for (;;) {
    let hash: ReturnType<typeof createHash> | null = null;
    let offset = await sizeOrZero(tmp);
    if (o.size && offset > o.size) {
      await fsp.rm(tmp, { force: true });
      offset = 0;
    }
    if (firstOffset < 0) firstOffset = offset;
    if (offset > 0) o.note?.(`resuming at ${formatBytes(offset)}${o.size ? ` of ${formatBytes(o.size)}` : ''} (Range: bytes=${offset}-)`);
    let res: Response;
    try {
      res = await f(o.url, { headers: offset > 0 ? { Range: `bytes=${offset}-` } : {}, redirect: 'follow', signal: o.signal });
    } catch (err) {
      if (o.signal?.aborted) throw err;
      if (++failures > retries) throw new Error(`cannot download ${o.url}: ${(err as Error).message}`);
      o.note?.(`request failed (${(err as Error).message}); retrying`);
      continue;
    }
    try {
      if (res.status === 416 && offset > 0) {
        // The server has nothing past our offset: the temp file may be complete. Verify below.
        await res.body?.cancel();
      } else {
        if (!res.ok) {
          await res.body?.cancel();
          const e = new Error(`cannot download ${o.url}: HTTP ${res.status} ${res.statusText}`.trim());
          // 4xx will not get better by retrying; 5xx may (the retry budget applies).
          throw res.status < 500 ? new HttpFailure(e) : e;
        }
        let append = false;
        let total = o.size ?? null;
        if (res.status === 206) {
          const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
          if (!m || Number(m[1]) !== offset) {
            await res.body?.cancel();
            await fsp.rm(tmp, { force: true });
            o.note?.('the server answered a different range; starting over');
            throw new Restart();
          }
          append = true;
          if (m[3] !== '*') total = Number(m[3]);
        } else {
          if (offset > 0) o.note?.('the server does not support Range requests; starting over');
          const len = Number(res.headers.get('content-length'));
          if (Number.isFinite(len) && len > 0) total = len;
        }
        // Hash while receiving; on a resume, the bytes already on disk first.
        hash = createHash('sha256');
        if (append) await hashInto(tmp, hash, offset);
        await receive(res, tmp, append ? offset : 0, total ?? undefined, hash, o.progress);
      }
    } catch (err) {
      if (err instanceof Restart) continue;
      if (o.signal?.aborted) throw err;
      if (err instanceof HttpFailure) throw err.cause;
      const have = await sizeOrZero(tmp);
      if (++failures > retries) {
        throw new Error(`download of ${o.url} interrupted after ${formatBytes(have)}: ${(err as Error).message}; the partial file ${tmp} is kept and the next apply resumes it`);
      }
      o.note?.(`connection lost after ${formatBytes(have)} (${(err as Error).message}); resuming`);
      continue;
    }
    const got = hash ? hash.digest('hex') : await sha256File(tmp);
    if (got !== o.sha256) {
      const n = await sizeOrZero(tmp);
      await fsp.rm(tmp, { force: true });
      throw new Error(`sha256 mismatch for ${o.url}: expected ${o.sha256}, got ${got} (${formatBytes(n)}); the download was deleted`);
    }
    await fsp.chmod(tmp, 0o644);
    await fsp.rename(tmp, o.dest);
    const st = await fsp.stat(o.dest);
    return { size: st.size, resumedFrom: firstOffset, mtimeMs: st.mtimeMs };
  }
}

class HttpFailure extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

async function hashInto(file: string, hash: ReturnType<typeof createHash>, end: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = createReadStream(file, { start: 0, end: end - 1 });
    s.on('data', (c) => hash.update(c));
    s.on('error', reject);
    s.on('end', () => resolve());
  });
}

async function receive(res: Response, tmp: string, offset: number, total: number | undefined, hash: ReturnType<typeof createHash>, progress?: Progress): Promise<void> {
  const fh = await fsp.open(tmp, offset > 0 ? 'a' : 'w', 0o600);
  let done = offset;
  try {
    if (offset === 0) await fh.truncate(0);
    progress?.update(done, total, 'downloading', true);
    if (!res.body) throw new HttpFailure(new Error('the server sent no body'));
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      await fh.write(chunk);
      hash.update(chunk);
      done += chunk.byteLength;
      progress?.update(done, total, 'downloading');
    }
    await fh.sync();
    progress?.update(done, total, 'downloaded', true);
  } finally {
    await fh.close();
  }
}

/** Remove a model file this tool downloaded, and the `.partial` of a download of it that was interrupted. */
export async function removeModelFile(file: string, sha256?: string): Promise<void> {
  await fsp.rm(file, { force: true });
  if (sha256) await fsp.rm(partialPath(file, sha256), { force: true });
}
