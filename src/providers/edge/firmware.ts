// Firmware images for a device: a local file, or a URL fetched into $PMOVES_HOME/cache/firmware/ by the
// model-file downloader (resumed, sha256-verified, renamed into place). Reading never downloads.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { downloadFile, sha256File } from '../models/model-file.js';
import type { Progress } from '../models/transfer-progress.js';
import { md5Of, padImage } from './esp32.js';

export interface ImageSource {
  /** bootloader, partition_table, firmware, config */
  role: string;
  offset: number;
  file: string | null;
  url: string | null;
  sha256: string | null;
}

export type LoadedImage = { role: string; offset: number; data: Uint8Array; md5: string; sha256: string | null } | { role: string; offset: number; missing: string };

export function cachedImagePath(cacheRoot: string, sha256: string): string {
  return path.join(cacheRoot, 'firmware', `${sha256}.bin`);
}

function where(src: ImageSource, cacheRoot: string): string {
  return src.file ?? cachedImagePath(cacheRoot, src.sha256!);
}

/** The image's bytes, sha256-checked when a digest is declared; `missing` when a URL is not fetched yet. */
export async function loadImage(src: ImageSource, cacheRoot: string): Promise<LoadedImage> {
  const file = where(src, cacheRoot);
  let raw: Buffer;
  try {
    raw = await fsp.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (src.file) throw new Error(`${src.role} image ${src.file} does not exist`);
    return { role: src.role, offset: src.offset, missing: `not downloaded yet from ${src.url}` };
  }
  if (src.sha256) {
    const got = await sha256File(file);
    if (got !== src.sha256) throw new Error(`${src.role} image ${file}: sha256 ${got} is not the declared ${src.sha256}`);
  }
  const data = padImage(new Uint8Array(raw));
  return { role: src.role, offset: src.offset, data, md5: md5Of(data), sha256: src.sha256 };
}

/** Download a URL image into the cache (verified), then load it. */
export async function fetchImage(src: ImageSource, cacheRoot: string, o: { signal?: AbortSignal; progress?: Progress; note?: (l: string) => void }): Promise<LoadedImage> {
  if (src.url && !src.file) {
    const dest = cachedImagePath(cacheRoot, src.sha256!);
    const have = await fsp.stat(dest).then(() => true, () => false);
    if (!have) await downloadFile({ url: src.url, dest, sha256: src.sha256!, signal: o.signal, progress: o.progress, note: o.note });
  }
  return loadImage(src, cacheRoot);
}
