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
import { registerCrush } from './crush.js';
import { registerBootstrap } from './bootstrap.js';
import { registerAutomations } from './automations.js';
import { registerDeps } from './deps.js';
import { registerTailscale } from './tailscale.js';
import { registerAgents } from './agents.js';
import { registerApprove } from './approve.js';
import { registerMcpServe } from './mcp-serve.js';
import { registerFleet } from './fleet.js';
import { registerDevice } from './device.js';
import { registerEdge } from './edge.js';
import { registerGraph } from './graph.js';
import { registerUi } from './ui.js';
import { registerUpstreamUsage } from '../upstream/usage.js';

/** Adds commands to `mini`. Read global options with `cmd.optsWithGlobals()` (see common.ts). */
export type Register = (mini: Command) => void;

export const commands: Register[] = [
  registerCore,
  registerSecrets,
  registerInit,
  registerStacks,
  registerWatch,
  registerMcp,
  registerModels,
  registerProfile,
  registerCrush,
  registerBootstrap,
  registerAutomations,
  registerDeps,
  registerTailscale,
  registerAgents,
  registerApprove,
  registerMcpServe,
  registerFleet,
  registerDevice,
  registerEdge,
  registerGraph,
  registerUi,
  registerUpstreamUsage, // last: it walks the commands above
];
