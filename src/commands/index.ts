// The list of `pmoves mini` commands. Each module registers its commands on `mini` and imports the
// engine lazily inside its action.
import type { Command } from 'commander';
import { registerCore } from './core.js';
import { registerInit } from './init.js';
import { registerModels } from './models.js';
import { registerMcp } from './mcp.js';
import { registerSecrets } from './secrets.js';
import { registerStacks } from './stacks.js';
import { registerWatch } from './watch.js';
import { registerProfile } from './profile.js';
import { registerFleet } from './fleet.js';
import { registerDevice } from './device.js';

/** Adds commands to `mini`. Read global options with `cmd.optsWithGlobals()` (see common.ts). */
export type Register = (mini: Command) => void;

export const commands: Register[] = [registerCore, registerSecrets, registerInit, registerStacks, registerWatch, registerMcp, registerModels, registerProfile, registerFleet, registerDevice];
