// The registry: the one list of resource kinds. Adding a kind = a provider + a reconciler + a schema +
// one line here (the manifest's schema is built from this list: src/manifest/manifest-schema.ts). Kinds
// import heavy libraries (dockerode, the MCP SDK…) lazily inside read/apply.
import type { Kind } from '../core/kind.js';
import { mcpKind } from './mcp/index.js';
import { secretsKind } from './secrets.js';
import { stacksKind } from './stacks.js';
import { modelsKind } from './models/index.js';
import { runtimesKind } from './runtimes/index.js';
import { devicesKind } from './devices/index.js';

export const kinds: Kind[] = [secretsKind, mcpKind, stacksKind, modelsKind, runtimesKind, devicesKind];

/** The expanders, in their order (declared in src/manifest/expanders/index.ts). */
export { expanders } from '../manifest/expanders/index.js';
