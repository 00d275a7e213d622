// bring-up STACK / tear-down STACK: `apply --target stacks.STACK` with the stack's state forced.
// Per-service status is part of the engine's `status` (the stacks kind's parts and describe).
import type { Command } from 'commander';
import { UserError } from '../core/errors.js';
import type { Resource } from '../core/types.js';
import type { StackSpec } from '../reconcilers/stacks.js';
import { globals, parseDuration } from './common.js';

/** The session transform: force `state` on one declared stack, and say so when the manifest disagrees. */
export function forceState(name: string, state: 'up' | 'down', notes: string[]) {
  const address = `stacks.${name}`;
  return (resources: Resource[]): Resource[] => {
    const r = resources.find((x) => x.address === address);
    if (!r) {
      const declared = resources.filter((x) => x.section === 'stacks').map((x) => x.name);
      throw new UserError(`${address} is not declared in the manifest (declared stacks: ${declared.join(', ') || 'none'})`);
    }
    const declaredState = (r.spec as StackSpec).state;
    if (declaredState !== state) {
      const undo = state === 'up' ? 'tear it down again' : 'bring it up again';
      notes.push(`Note: the manifest declares ${address} with state: ${declaredState}; the next \`pmoves mini apply\` (or watch) will ${undo}. Change the manifest to keep it ${state}.`);
    }
    return resources.map((x) => (x === r ? { ...x, spec: { ...(x.spec as StackSpec), state } } : x));
  };
}

function register(mini: Command, name: 'bring-up' | 'tear-down', state: 'up' | 'down', description: string): void {
  mini
    .command(`${name} <stack>`)
    .description(description)
    .option('--auto-approve', 'do not ask for confirmation')
    .option('--lock-timeout <duration>', 'wait this long for another apply to finish', parseDuration('--lock-timeout'), 0)
    .option('--refresh-timeout <duration>', 'deadline for reading one resource', parseDuration('--refresh-timeout'), 60_000)
    .action(async (stack: string, o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const { runApply } = await import('./core.js');
      const notes: string[] = [];
      const address = `stacks.${stack.replace(/^stacks\./, '')}`;
      await runApply(g, { ...o, target: [address] }, {
        command: name,
        extra: { targets: [address], transform: forceState(address.slice('stacks.'.length), state, notes) },
        notes,
      });
    });
}

export function registerStacks(mini: Command): void {
  register(mini, 'bring-up', 'up', 'start one declared stack (apply --target stacks.STACK with state: up)');
  register(mini, 'tear-down', 'down', 'stop and remove one declared stack (apply --target stacks.STACK with state: down; volumes are kept)');
}
