// bring-up STACK / tear-down STACK: `apply --target stacks.STACK` with the stack's state forced.
// Per-service status is part of the engine's `status` (the stacks kind's parts and describe).
import type { Command } from 'commander';
import { UserError } from '../core/errors.js';
import type { Resource } from '../core/types.js';
import type { StackSpec } from '../reconcilers/stacks.js';
import { globals, parseDuration } from './common.js';

/** Declared stacks that are up and depend on `address` (directly or through other resources), sorted. */
function dependentStacks(resources: Resource[], address: string): Resource[] {
  const byAddress = new Map(resources.map((r) => [r.address, r] as const));
  const reaches = (r: Resource, seen = new Set<string>()): boolean =>
    r.dependsOn.some((d) => d === address || (!seen.has(d) && (seen.add(d), byAddress.has(d)) && reaches(byAddress.get(d)!, seen)));
  return resources.filter((r) => r.section === 'stacks' && r.address !== address && (r.spec as StackSpec).state !== 'down' && reaches(r)).sort((a, b) => a.address.localeCompare(b.address));
}

/**
 * The session transform: force `state` on one declared stack, and say so when the manifest disagrees.
 * Tearing down a stack that other declared stacks depend on is refused, unless `withDependents`: then
 * they are torn down too (added to `targets`; the engine destroys in reverse dependency order).
 */
export function forceState(name: string, state: 'up' | 'down', notes: string[], opts: { withDependents?: boolean; targets?: string[] } = {}) {
  const address = `stacks.${name}`;
  return (resources: Resource[]): Resource[] => {
    const r = resources.find((x) => x.address === address);
    if (!r) {
      const declared = resources.filter((x) => x.section === 'stacks').map((x) => x.name);
      throw new UserError(`${address} is not declared in the manifest (declared stacks: ${declared.join(', ') || 'none'})`);
    }
    const forced = new Set([address]);
    if (state === 'down') {
      const deps = dependentStacks(resources, address);
      if (deps.length && !opts.withDependents) {
        throw new UserError(`${deps.map((d) => d.address).join(', ')} ${deps.length > 1 ? 'depend' : 'depends'} on ${address}: tear ${deps.length > 1 ? 'them' : 'it'} down first, or pass --with-dependents to tear ${deps.length > 1 ? 'them' : 'it'} down too (dependents first)`);
      }
      for (const d of deps) {
        forced.add(d.address);
        if (opts.targets && !opts.targets.includes(d.address)) opts.targets.push(d.address);
      }
    }
    for (const a of forced) {
      const declaredState = (resources.find((x) => x.address === a)!.spec as StackSpec).state;
      if (declaredState !== state) {
        const undo = state === 'up' ? 'tear it down again' : 'bring it up again';
        notes.push(`Note: the manifest declares ${a} with state: ${declaredState}; the next \`pmoves mini apply\` (or watch) will ${undo}. Change the manifest to keep it ${state}.`);
      }
    }
    return resources.map((x) => (forced.has(x.address) ? { ...x, spec: { ...(x.spec as StackSpec), state } } : x));
  };
}

function register(mini: Command, name: 'bring-up' | 'tear-down', state: 'up' | 'down', description: string): void {
  const cmd = mini
    .command(`${name} <stack>`)
    .description(description)
    .option('--auto-approve', 'do not ask for confirmation')
    .option('--lock-timeout <duration>', 'wait this long for another apply to finish', parseDuration('--lock-timeout'), 0)
    .option('--refresh-timeout <duration>', 'deadline for reading one resource', parseDuration('--refresh-timeout'), 60_000)
    .option('--skip-unsatisfiable', 'leave out services this machine cannot run (a GPU they reserve) instead of failing the plan (as the stack field skip_unsatisfiable)');
  if (state === 'down') cmd.option('--with-dependents', 'also tear down the declared stacks that depend on this one (they go first)');
  cmd.action(async (stack: string, o: Record<string, unknown>, c: Command) => {
    const g = globals(c);
    const { runApply } = await import('./core.js');
    const notes: string[] = [];
    const address = `stacks.${stack.replace(/^stacks\./, '')}`;
    const targets = [address];
    const { withDependents, ...rest } = o;
    await runApply(g, { ...rest, target: targets }, {
      command: name,
      extra: { targets, transform: forceState(address.slice('stacks.'.length), state, notes, { withDependents: Boolean(withDependents), targets }) },
      notes,
    });
  });
}

export function registerStacks(mini: Command): void {
  register(mini, 'bring-up', 'up', 'start one declared stack (apply --target stacks.STACK with state: up)');
  register(mini, 'tear-down', 'down', 'stop and remove one declared stack (apply --target stacks.STACK with state: down; volumes are kept)');
}
