// Ownership: whether this tool created a thing and may delete it. One rule for every kind, over state.
import path from 'node:path';
import { pathErrorWords } from './errors.js';
import { clip, isInside, realOrSelf, writeTarget } from './fs.js';
import type { StateEntry } from './types.js';

/** This tool created the thing and may delete it (state says so, also while a change is pending). */
export function isOwned(prior: StateEntry | undefined): boolean {
  return prior?.owned === true;
}

/** The `owned` flag to record after an apply: kept once known, else true when this apply created it. */
export function ownedAfter(prior: StateEntry | undefined, created: boolean): boolean {
  return prior?.owned ?? created;
}

/** The home's real path, once per process (10,000 resources check against the same one). */
const realHomes = new Map<string, Promise<string>>();

/**
 * The takeover rule's first half, for every path a kind writes (env files, model files, agent config
 * files): nothing under $PMOVES_HOME is a target, also not through a symlink, except the folders pmoves
 * keeps for such files itself (`allowed`, e.g. `$PMOVES_HOME/models`). Returns what is wrong, or null.
 * A path the OS cannot even look at (a name over 255 bytes, a symlink loop) is wrong too, in words.
 * The second half (never over a file this tool did not create, unless --force) is each kind's plan.
 */
export async function targetProblem(home: string, file: string, allowed: string[] = []): Promise<string | null> {
  let target: string;
  let realHome: string;
  try {
    let h = realHomes.get(home);
    if (!h) realHomes.set(home, (h = realOrSelf(home)));
    [target, realHome] = await Promise.all([writeTarget(file).then(realOrSelf), h]);
  } catch (err) {
    return `${clip(file)}: ${pathErrorWords(err)}`;
  }
  // the allowed folders as given and as real paths (a home reached through a symlink)
  const ok = [...allowed, ...allowed.filter((a) => isInside(home, a)).map((a) => path.join(realHome, path.relative(home, a)))];
  const inHome = (p: string, h: string) => isInside(h, p) && !ok.some((a) => isInside(a, p) && a !== p);
  if (inHome(target, realHome) || inHome(path.resolve(file), path.resolve(home))) {
    return `${clip(file)} is inside $PMOVES_HOME (${home}), where pmoves keeps its own state; choose another path`;
  }
  return null;
}
