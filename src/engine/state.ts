// state.json: what this tool owns and what it last applied. Never a secret value: digests are keyed
// with state.key (random, 0600), so a digest of a short secret cannot be brute-forced from state alone.
import { createHmac, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { OperationError } from '../core/errors.js';
import { readDirOrEmpty, readFileOrNull, writeFileAtomic } from '../core/fs.js';
import type { Home } from '../core/home.js';
import type { StateEntry } from '../core/types.js';

export interface State {
  version: 1;
  /** Increases with every write; saved plans and watch mode use it. */
  serial: number;
  resources: Record<string, StateEntry>;
  /** Where the last watch-mode apply came from (e.g. `{ commit, url }` of a git source). */
  source?: Record<string, unknown>;
}

export function emptyState(): State {
  return { version: 1, serial: 0, resources: {} };
}

export async function loadState(home: Home): Promise<State> {
  const text = await readFileOrNull(home.state);
  let state = emptyState();
  if (text !== null) {
    try {
      state = JSON.parse(text) as State;
      if (state.version !== 1 || typeof state.resources !== 'object') throw new Error('unknown format');
    } catch (err) {
      throw new OperationError(`${home.state}: state file is not readable (${(err as Error).message}); move it aside to start over`);
    }
  }
  // Segments an apply wrote after the last full write (a killed apply's last changes): newer, they win.
  for (const seg of await segments(home)) {
    if (seg.serial <= state.serial) continue;
    const text = await readFileOrNull(seg.file);
    if (text === null) continue;
    let data: Segment;
    try {
      data = JSON.parse(text) as Segment;
    } catch (err) {
      throw new OperationError(`${seg.file}: state segment is not readable (${(err as Error).message}); move it aside to start over`);
    }
    for (const [address, entry] of Object.entries(data.resources)) {
      if (entry) state.resources[address] = entry;
      else delete state.resources[address];
    }
    state.serial = data.serial;
  }
  return state;
}

export async function saveState(home: Home, state: State): Promise<void> {
  state.serial += 1;
  // One line per entry: as readable as indented JSON, and linear to write for 10,000 resources.
  await writeFileAtomic(home.state, serialize(state), { mode: 0o600 });
}

function serialize(state: State): string {
  const entries = Object.entries(state.resources);
  const out: string[] = [`{\n  "version": ${state.version},\n  "serial": ${state.serial},\n  "resources": {`];
  entries.forEach(([address, entry], i) => out.push(`\n    ${JSON.stringify(address)}: ${JSON.stringify(entry)}${i < entries.length - 1 ? ',' : ''}`));
  out.push(entries.length ? '\n  }' : '}');
  if (state.source !== undefined) out.push(`,\n  "source": ${JSON.stringify(state.source)}`);
  out.push('\n}\n');
  return out.join('');
}

// ---- the writer an apply uses -----------------------------------------------------------------------

interface Segment {
  serial: number;
  /** address → its entry now, or null: removed. */
  resources: Record<string, StateEntry | null>;
}

function segmentDir(home: Home): string {
  return path.join(home.root, 'state.d');
}

async function segments(home: Home): Promise<{ serial: number; file: string }[]> {
  return (await readDirOrEmpty(segmentDir(home)))
    .filter((n) => /^\d+\.json$/.test(n))
    .map((n) => ({ serial: Number(n.slice(0, -5)), file: path.join(segmentDir(home), n) }))
    .sort((a, b) => a.serial - b.serial);
}

/** Below this many entries every write is a whole state.json (small, and what a reader expects to see). */
const SEGMENTS_FROM = 256;

/**
 * Durable state writes during an apply, linear in the number of resources. `record(address)` makes
 * that address's current entry durable before it resolves (write-ahead: a `pending` entry is on disk
 * before the change starts). Concurrent records share one write. A write is either the whole state
 * (state.json), or, once the state is large, a small segment in state.d/ holding only the entries
 * changed since the last write; state.json is rewritten whenever the segments hold a quarter of the
 * state's entries (so the bytes written stay proportional to the changes), and by `close()`.
 * loadState applies segments newer than state.json, so a killed apply loses nothing.
 */
export class StateWriter {
  private dirty = new Set<string>();
  private inSegments = 0;
  private inflight: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(
    private readonly home: Home,
    private readonly state: State,
  ) {}

  record(address: string): Promise<void> {
    this.dirty.add(address);
    if (this.queued) return this.queued;
    if (!this.inflight) return this.start();
    this.queued = this.inflight
      .catch(() => {})
      .then(() => {
        this.queued = null;
        return this.start();
      });
    return this.queued;
  }

  /** Folds the segments into state.json and removes them (no-op when nothing was written in segments). */
  async close(): Promise<void> {
    await (this.queued ?? this.inflight)?.catch(() => {});
    if (this.inSegments || this.dirty.size) await this.full();
  }

  private start(): Promise<void> {
    this.inflight = this.write().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async write(): Promise<void> {
    const batch = [...this.dirty];
    this.dirty.clear();
    const total = Object.keys(this.state.resources).length;
    if (total >= SEGMENTS_FROM && this.inSegments + batch.length < total / 4) {
      this.state.serial += 1;
      const seg: Segment = { serial: this.state.serial, resources: {} };
      for (const a of batch) seg.resources[a] = this.state.resources[a] ?? null;
      await writeFileAtomic(path.join(segmentDir(this.home), `${String(seg.serial).padStart(12, '0')}.json`), JSON.stringify(seg) + '\n', { mode: 0o600 });
      this.inSegments += batch.length;
      return;
    }
    await this.full();
  }

  private async full(): Promise<void> {
    this.dirty.clear();
    await saveState(this.home, this.state);
    this.inSegments = 0;
    for (const seg of await segments(this.home)) if (seg.serial <= this.state.serial) await fsp.rm(seg.file, { force: true });
  }
}

/** A small binary file, refused when it is not a regular file or larger than `max` bytes. */
async function readRegularBytes(file: string, max: number): Promise<Buffer> {
  const st = await fsp.stat(file);
  if (!st.isFile()) throw Object.assign(new Error(`${file}: is not a regular file`), { code: st.isDirectory() ? 'EISDIR' : 'ENOTREG', path: file });
  if (st.size > max) throw Object.assign(new Error(`${file}: is ${st.size} bytes, over the limit of ${max}`), { code: 'EFBIG', path: file });
  return fsp.readFile(file);
}

/** An OS error that does not name its file (a read on a folder) gets the path, for the message. */
function withPath(err: unknown, file: string): unknown {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && e.code && !e.path) e.path = file;
  return err;
}

/** The machine's state key, created on first use. */
export async function stateKey(home: Home): Promise<Buffer> {
  try {
    const key = await readRegularBytes(home.key, 4096);
    // An empty or cut key would key every digest with (almost) nothing: refuse it rather than use it.
    if (key.length < 16) throw new OperationError(`${home.key}: the state key is ${key.length} bytes (pmoves writes 32): restore it, or move it aside to start a new one (the next plan then reads everything afresh)`);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw withPath(err, home.key);
  }
  await fsp.mkdir(home.root, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  try {
    await fsp.writeFile(home.key, key, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return fsp.readFile(home.key); // another process won the race
    throw err;
  }
}

export function keyedDigest(key: Buffer, value: string): string {
  return 'hmac-sha256:' + createHmac('sha256', key).update(value).digest('hex');
}
