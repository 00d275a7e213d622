// Ownership: whether this tool created a thing and may delete it. One rule for every kind, over state.
import type { StateEntry } from './types.js';

/** This tool created the thing and may delete it (state says so, also while a change is pending). */
export function isOwned(prior: StateEntry | undefined): boolean {
  return prior?.owned === true;
}

/** The `owned` flag to record after an apply: kept once known, else true when this apply created it. */
export function ownedAfter(prior: StateEntry | undefined, created: boolean): boolean {
  return prior?.owned ?? created;
}
