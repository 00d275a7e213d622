// The plan step of the watch loop: what this run converges to and what it leaves alone.
// - resolveHold: a rollback in force (history/hold.json) holds an earlier generation while the manifest
//   is still the one rolled back from; a changed manifest releases it.
// - selectWork: the resources to apply (held generation or desired state), and the ones in retry
//   backoff to leave out. Pure, apart from releasing the backoff it is given.
// - planEvent: the `plan` line (counts, drift, errors, backoff) from the engine's plan. Pure.
import type { Resource } from '../core/types.js';
import type { Plan } from '../planner/plan.js';
import type { Home } from '../core/home.js';
import type { Backoff } from './backoff.js';
import { clearHold, holdMatches, readGeneration, readHold, resourcesDigest, type Generation } from './history.js';
import type { Desired } from './load-step.js';
import type { WatchEvent } from './report.js';

export interface HoldOutcome {
  /** The generation held in place of the desired state (null: none). */
  held: Generation | null;
  /** A hold was released: resources in backoff are tried at once. */
  released: boolean;
  events: WatchEvent[];
}

export async function resolveHold(home: Home, desired: Pick<Desired, 'manifestDigest' | 'commit'>, heldBefore: number | null): Promise<HoldOutcome> {
  const hold = await readHold(home);
  if (!hold) return { held: null, released: false, events: [] };
  if (!holdMatches(hold, desired.manifestDigest, desired.commit)) {
    await clearHold(home);
    return { held: null, released: true, events: [{ event: 'hold-released', message: `the manifest changed: generation ${hold.generation} is no longer held`, generation: hold.generation }] };
  }
  const held = await readGeneration(home, hold.generation).catch(() => null);
  if (!held) {
    await clearHold(home);
    return { held: null, released: false, events: [{ event: 'warning', message: `hold.json names generation ${hold.generation}, which is not in the history any more; releasing it` }] };
  }
  const events: WatchEvent[] =
    heldBefore === held.generation ? [] : [{ event: 'hold', message: `holding generation ${held.generation} (rolled back: ${hold.reason}); edit the manifest or push a new commit to move on`, generation: held.generation }];
  return { held, released: false, events };
}

export interface Work {
  resources: Resource[];
  manifestDigest: string;
  /** The commit these resources came from (git source), else null. */
  commit: string | null;
  /** resourcesDigest(resources): the identity of this desired state. */
  digest: string;
  held: Generation | null;
  /** Addresses left alone in this run (retry backoff not over). */
  exclude: Set<string>;
}

export function selectWork(i: { desired: Desired; held: Generation | null; release: boolean; converging: string | null; generationDigest: string | null; backoff: Backoff; now: number }): Work {
  const resources = i.held ? i.held.resources : i.desired.resources;
  const digest = resourcesDigest(resources);
  // a desired state not seen before: whatever failed under the old one gets a fresh try
  const release = i.release || (digest !== i.converging && digest !== i.generationDigest);
  if (release) i.backoff.release(i.now);
  const exclude = i.backoff.blocked(i.now);
  return {
    resources,
    manifestDigest: i.held ? i.held.manifest_digest : i.desired.manifestDigest,
    commit: i.held ? (i.held.commit ?? null) : i.desired.commit,
    digest,
    held: i.held,
    exclude,
  };
}

/**
 * The `plan` event. Drift: changes found in resources that were in sync the run before, counted only
 * when `driftEligible` (the desired state stayed the same and no file or commit changed).
 */
export function planEvent(plan: Pick<Plan, 'changes' | 'diagnostics' | 'summary'>, exclude: Set<string>, wasOk: Set<string>, driftEligible: boolean): { event: WatchEvent; drift: number } {
  const errors = new Map<string, string[]>();
  for (const d of plan.diagnostics) if (d.severity === 'error' && d.address) errors.set(d.address, [...(errors.get(d.address) ?? []), d.summary]);
  const changing = plan.changes.filter((c) => c.action !== 'no-op' && !exclude.has(c.address) && !errors.has(c.address));
  const drift = driftEligible ? changing.filter((c) => wasOk.has(c.address)).length : 0;
  const s = plan.summary;
  const inBackoff = [...exclude];
  const conflicts = plan.changes.filter((c) => c.conflicts?.length && !exclude.has(c.address)).map((c) => c.address);
  return {
    drift,
    event: {
      event: 'plan',
      message: `plan: ${s.add} to add, ${s.change} to change, ${s.destroy} to destroy${drift ? ` (drift: ${drift})` : ''}${conflicts.length ? `; in conflict: ${conflicts.join(', ')}` : ''}${errors.size ? `; errors in ${[...errors.keys()].join(', ')}` : ''}${inBackoff.length ? `; in backoff: ${inBackoff.join(', ')}` : ''}`,
      add: s.add,
      change: s.change,
      destroy: s.destroy,
      drift,
      conflict: conflicts.length,
      errors: [...errors].map(([address, e]) => ({ address, error: e.join('; ') })),
      excluded: inBackoff,
    },
  };
}
