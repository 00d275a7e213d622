// Expanders: steps that add or change resources after the manifest's own (upstream secrets manifests,
// model bundles, the hardware profile, MCP catalog ids, the compose command), in the one order written
// here. Each lives beside what it expands (this folder, or its kind's reconciler) and is listed only here.
import type { Expander } from '../load.js';
import { mcpExpander } from '../../reconcilers/mcp/expand.js';
import { secretsManifestExpander } from '../../reconcilers/secrets.js';
import { runtimesExpander } from '../../reconcilers/runtimes/index.js';
import { stacksExpander } from '../../reconcilers/stacks.js';
import { manifestBundlesExpander } from './model-bundles.js';
import { profileExpander } from './profile.js';

export const expanders: Expander[] = [
  // secrets.<name>.from_manifest → one secrets resource per target file of upstream's secrets manifest
  secretsManifestExpander,
  // the manifest's own `bundles: [id]` → models.<name> resources
  manifestBundlesExpander,
  // after the manifest's own bundles (they win), before mcp/stacks: profile contributions + hardware gating
  profileExpander,
  // after the profile expander: resolves `from:` catalog ids and hands mcp_clients to every mcp server
  mcpExpander,
  // after every expander that adds models (manifest bundles, the profile's): models.<name>.runtime → runtimes.<name>
  runtimesExpander,
  // keep stacksExpander last: it hands compose.command to every stack, also those other expanders add
  stacksExpander,
];
