// The registry: one entry per resource kind. Adding a kind = a provider + a reconciler + a schema +
// one line here. Kinds import heavy libraries (dockerode, the MCP SDK…) lazily inside read/apply.
import type { Kind } from '../core/kind.js';
import type { Expander } from '../manifest/load.js';
import { mcpExpander, mcpKind } from './mcp/index.js';
import { secretsKind, secretsManifestExpander } from './secrets.js';
import { stacksExpander, stacksKind } from './stacks.js';
import { modelsKind } from './models/index.js';
import { manifestBundlesExpander } from '../manifest/expanders/model-bundles.js';
import { profileExpander } from '../manifest/expanders/profile.js';

export const kinds: Kind[] = [secretsKind, mcpKind, stacksKind, modelsKind];

/** Steps that add or change resources after the manifest's own (profiles, model bundles). */
export const expanders: Expander[] = [
  // secrets.<name>.from_manifest → one secrets resource per target file of upstream's secrets manifest
  secretsManifestExpander,
  manifestBundlesExpander,
  // after the manifest's own bundles (they win), before mcp/stacks: profile contributions + hardware gating
  profileExpander,
  // after the profile expander: resolves `from:` catalog ids and hands mcp_clients to every mcp server
  mcpExpander,
  // keep stacksExpander last: it hands compose.command to every stack, also those other expanders add
  stacksExpander,
];
