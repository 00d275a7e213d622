// state.json: what this tool owns and what it last applied. Never a secret value: digests are keyed
// with state.key (random, 0600), so a digest of a short secret cannot be brute-forced from state alone.
import { createHmac, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { OperationError } from '../core/errors.js';
import { readFileOrNull, writeFileAtomic } from '../core/fs.js';
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
  if (text === null) return emptyState();
  try {
    const s = JSON.parse(text) as State;
    if (s.version !== 1 || typeof s.resources !== 'object') throw new Error('unknown format');
    return s;
  } catch (err) {
    throw new OperationError(`${home.state}: state file is not readable (${(err as Error).message}); move it aside to start over`);
  }
}

export async function saveState(home: Home, state: State): Promise<void> {
  state.serial += 1;
  await writeFileAtomic(home.state, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
}

/** The machine's state key, created on first use. */
export async function stateKey(home: Home): Promise<Buffer> {
  try {
    return await fsp.readFile(home.key);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
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
