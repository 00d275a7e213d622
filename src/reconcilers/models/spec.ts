// The shapes of models.<name> for both providers (Ollama, a model file): spec, actual state, what state
// keeps; normalize, and the short digest shown in plans.
import path from 'node:path';
import type { LoadContext } from '../../core/kind.js';
import type { DiskInfo, FileModelActual, FileModelState } from '../../providers/models/model-file.js';
import type { RuntimeId } from '../../providers/models/runtime-table.js';
import { parseSize } from '../../providers/models/transfer-progress.js';
import { seconds } from '../stacks/types.js';

export type ModelState = 'present' | 'loaded' | 'absent' | 'unloaded';

export interface OllamaModelSpec {
  provider: 'ollama';
  model: string;
  /** Pinned digest (hex, possibly a prefix of at least 12), or null. */
  digest: string | null;
  /** `unloaded` is never written in a manifest: `models stop` sets it. */
  state: ModelState;
  keep_alive: string | number;
  /** Expected download size in bytes (an estimate for the budget), or null. */
  size: number | null;
  description?: string;
  /** The bundle file this resource came from (watch mode). */
  bundle_file?: string;
  /** Keys given that belong to the other provider (reported by check). */
  stray?: string[];
}

/** The server for a model file (`runtime:` and its options on the model): see src/reconcilers/runtimes/. */
export interface ServeSpec {
  runtime: RuntimeId;
  port: number | null;
  context_size: number | null;
  quantization: string | null;
  gpus: number | null;
  image: string | null;
  served_name: string | null;
  /** Declared VRAM need in bytes (else estimated from the file size). */
  vram: number | null;
  /** Seconds apply waits for the API. */
  ready_timeout: number | null;
}

export interface FileModelSpec {
  provider: 'file';
  /** Served by a runtime (null: only the file). */
  serve?: ServeSpec | null;
  url: string;
  sha256: string;
  size: number | null;
  path: string;
  state: 'present' | 'absent';
  description?: string;
  bundle_file?: string;
  stray?: string[];
}

export type ModelSpec = OllamaModelSpec | FileModelSpec;

export interface OllamaModelActual {
  provider: 'ollama';
  host: string;
  /** Why Ollama could not be asked (not running, …); null when it answered. */
  error: string | null;
  present: { name: string; digest: string; size: number } | null;
  /** Loaded into memory (expires_at is left out: it moves on every use and would make saved plans stale). */
  loaded: { size_vram: number | null } | null;
  /** Free disk where a local Ollama keeps models, read only when a pull may be needed (a live reading: volatile). */
  volatile: { disk: DiskInfo | null };
}

export type ModelActual = OllamaModelActual | FileModelActual;

export interface OllamaModelState {
  provider: 'ollama';
  model: string;
  host: string;
  digest: string | null;
}

export type ModelStateData = OllamaModelState | FileModelState;

const OLLAMA_KEYS = ['model', 'digest', 'keep_alive'];
const FILE_KEYS = ['url', 'sha256', 'path'];
/** Options of a runtime other than Ollama: only with `runtime:` on a file model. */
export const SERVE_KEYS = ['port', 'context_size', 'quantization', 'gpus', 'image', 'served_name', 'vram', 'ready_timeout'];

function serveOf(spec: Record<string, unknown>): ServeSpec | null {
  if (typeof spec.runtime !== 'string' || spec.runtime === 'ollama') return null;
  const num = (k: string) => (typeof spec[k] === 'number' ? (spec[k] as number) : null);
  const str = (k: string) => (typeof spec[k] === 'string' ? (spec[k] as string) : null);
  return {
    runtime: spec.runtime as RuntimeId,
    port: num('port'),
    context_size: num('context_size'),
    quantization: str('quantization'),
    gpus: num('gpus'),
    image: str('image'),
    served_name: str('served_name'),
    vram: spec.vram === undefined ? null : (parseSize(spec.vram) ?? null),
    ready_timeout: spec.ready_timeout === undefined ? null : seconds(spec.ready_timeout, 300),
  };
}

function defaultFileName(url: string, name: string): string {
  try {
    const base = path.posix.basename(new URL(url).pathname);
    return base && base !== '/' ? decodeURIComponent(base) : name;
  } catch {
    return name;
  }
}

export function normalizeModel(spec: Record<string, unknown>, name: string, ctx: LoadContext): ModelSpec {
  const size = spec.size === undefined ? null : (parseSize(spec.size) ?? null);
  const description = typeof spec.description === 'string' ? { description: spec.description } : {};
  if (spec.provider === 'file') {
    const serve = serveOf(spec);
    const stray = [...OLLAMA_KEYS, ...(serve ? [] : SERVE_KEYS)].filter((k) => k in spec);
    if (spec.runtime === 'ollama') stray.push('runtime');
    const url = String(spec.url ?? '');
    return {
      provider: 'file',
      serve,
      url,
      sha256: String(spec.sha256 ?? '').toLowerCase(),
      size,
      path: spec.path ? ctx.resolvePath(String(spec.path)) : path.join(ctx.home.root, 'models', defaultFileName(url, name)),
      state: spec.state === 'absent' ? 'absent' : 'present',
      ...description,
      ...(stray.length ? { stray } : {}),
    };
  }
  const stray = [...FILE_KEYS, ...SERVE_KEYS].filter((k) => k in spec);
  if (typeof spec.runtime === 'string' && spec.runtime !== 'ollama') stray.push('runtime');
  return {
    provider: 'ollama',
    model: String(spec.model ?? ''),
    digest: spec.digest ? String(spec.digest).toLowerCase().replace(/^sha256:/, '') : null,
    state: (spec.state as ModelState | undefined) ?? 'present',
    keep_alive: (spec.keep_alive as string | number | undefined) ?? -1,
    size,
    ...description,
    ...(stray.length ? { stray } : {}),
  };
}

export function shortDigest(d: string): string {
  const hex = d.replace(/^sha256:/, '');
  return hex.length > 12 ? `${hex.slice(0, 12)}…` : `${hex}…`;
}
