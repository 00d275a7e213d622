// $PMOVES_HOME/history/: one file per generation (a desired state that converged), and hold.json (a
// rollback in force: "apply generation N instead of this manifest until the manifest changes").
// Generations hold resolved resources (values expanded from ${VAR} included), so files are 0600.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { readDirOrEmpty, readFileOrNull, readJsonOrNull, writeFileAtomic } from '../core/fs.js';
import type { Home } from '../core/home.js';
import type { Resource } from '../core/types.js';
import { canonical } from '../planner/plan.js';

export const HISTORY_FORMAT = 'pmoves-mini-generation';
/** Generations kept on disk; older ones are pruned. */
export const KEEP_GENERATIONS = 50;

export interface Generation {
  format: typeof HISTORY_FORMAT;
  generation: number;
  created_at: string;
  manifest_path: string;
  /** sha256 of the manifest file's bytes. */
  manifest_digest: string;
  /** sha256 of the canonical resolved resources: two generations are the same desired state when equal. */
  resources_digest: string;
  /** Git commit the manifest came from (GitOps source), if any. */
  commit?: string;
  source?: string;
  resources: Resource[];
}

/** What a rollback holds: the watcher applies `generation` while its manifest is still `avoid`. */
export interface Hold {
  generation: number;
  avoid: { manifest_digest: string; commit?: string | null };
  since: string;
  reason: string;
}

export function historyDir(home: Home): string {
  return path.join(home.root, 'history');
}

const holdFile = (home: Home) => path.join(historyDir(home), 'hold.json');
const genFile = (home: Home, n: number) => path.join(historyDir(home), `gen-${String(n).padStart(6, '0')}.json`);

export function resourcesDigest(resources: Resource[]): string {
  return createHash('sha256').update(canonical(resources)).digest('hex');
}

export async function listGenerations(home: Home): Promise<number[]> {
  return (await readDirOrEmpty(historyDir(home)))
    .map((n) => /^gen-(\d+)\.json$/.exec(n)?.[1])
    .filter((x): x is string => Boolean(x))
    .map(Number)
    .sort((a, b) => a - b);
}

export async function readGeneration(home: Home, n: number): Promise<Generation | null> {
  const text = await readFileOrNull(genFile(home, n));
  if (text === null) return null;
  try {
    const g = JSON.parse(text) as Generation;
    if (g.format !== HISTORY_FORMAT || !Array.isArray(g.resources)) throw new Error('unknown format');
    return g;
  } catch (err) {
    throw new UserError(`${genFile(home, n)}: not a generation file (${(err as Error).message})`);
  }
}

export async function latestGeneration(home: Home): Promise<Generation | null> {
  const all = await listGenerations(home);
  return all.length ? readGeneration(home, all[all.length - 1]!) : null;
}

/** Write the next generation; prunes beyond KEEP_GENERATIONS. Returns it with its number. */
export async function recordGeneration(home: Home, g: Omit<Generation, 'format' | 'generation' | 'created_at' | 'resources_digest'>, keep = KEEP_GENERATIONS): Promise<Generation> {
  await fsp.mkdir(historyDir(home), { recursive: true, mode: 0o700 });
  const all = await listGenerations(home);
  const n = (all[all.length - 1] ?? 0) + 1;
  const gen: Generation = {
    format: HISTORY_FORMAT,
    generation: n,
    created_at: new Date().toISOString(),
    resources_digest: resourcesDigest(g.resources),
    ...g,
  };
  await writeFileAtomic(genFile(home, n), JSON.stringify(gen, null, 2) + '\n', { mode: 0o600 });
  const hold = await readHold(home);
  for (const old of all.slice(0, Math.max(0, all.length + 1 - keep))) {
    if (old !== hold?.generation) await fsp.rm(genFile(home, old), { force: true });
  }
  return gen;
}

export async function readHold(home: Home): Promise<Hold | null> {
  return readJsonOrNull<Hold>(holdFile(home)); // never half-written (atomic): null only for a hand edit
}

export async function writeHold(home: Home, hold: Hold): Promise<void> {
  await fsp.mkdir(historyDir(home), { recursive: true, mode: 0o700 });
  await writeFileAtomic(holdFile(home), JSON.stringify(hold, null, 2) + '\n', { mode: 0o600 });
}

export async function clearHold(home: Home): Promise<void> {
  await fsp.rm(holdFile(home), { force: true });
}

/** Does this hold apply to the manifest (and commit) the watcher would otherwise apply? */
export function holdMatches(hold: Hold, manifestDigest: string, commit: string | null | undefined): boolean {
  return hold.avoid.manifest_digest === manifestDigest && (hold.avoid.commit ?? null) === (commit ?? null);
}

/** Commits some generation in the history came from (their worktrees are kept). */
export async function commitsInHistory(home: Home): Promise<Set<string>> {
  const keep = new Set<string>();
  for (const n of await listGenerations(home)) {
    const g = await readGeneration(home, n).catch(() => null);
    if (g?.commit) keep.add(g.commit);
  }
  return keep;
}
