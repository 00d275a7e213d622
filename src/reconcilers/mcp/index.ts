// mcp.<name>: one MCP server, registered with each listed local agent in that agent's own config file
// (plus pmoves' registry), and proven ready by a real MCP handshake. Desired state = registrations;
// readiness is a health diagnostic on the plan, never a change.
// The kind is assembled here from spec.ts (shapes, normalize), expand.ts (catalog ids, mcp_clients),
// read.ts, intents.ts (pure, shared by plan and apply), plan.ts and apply.ts.
import path from 'node:path';
import type { Kind } from '../../core/kind.js';
import { clip, notARegularFile } from '../../core/fs.js';
import { targetProblem } from '../../core/ownership.js';
import type { ClientId } from '../../providers/mcp/clients.js';
import type { Diagnostic } from '../../core/types.js';
import { catalogIds } from '../../providers/mcp/catalog.js';
import { applyMcp } from './apply.js';
import { intentsOf, stateOf } from './intents.js';
import { planMcp } from './plan.js';
import { readOne } from './read.js';
import { normalizeSpec, type McpActual, type McpSpec, type McpState } from './spec.js';

export { detectClients } from './read.js';
export { registryEntry, type McpActual, type McpSpec } from './spec.js';

export const mcpKind: Kind<McpSpec, McpActual> = {
  section: 'mcp',
  order: 40,
  schema: 'mcp.schema.json',

  normalize: (spec, name, ctx) => normalizeSpec(spec as Record<string, unknown>, name, ctx),

  async check(r, ctx) {
    const s = r.spec;
    const out: Diagnostic[] = [];
    const at = (p: (string | number)[]) => ctx.locate(r.address, p);
    if (s.command === null && s.url === null) {
      out.push({ severity: 'error', address: r.address, summary: `${r.address}: expected command (stdio), url (remote) or from (a catalog id: ${(await catalogIds()).join(', ')})`, location: at([]) });
    } else if (s.command !== null && s.url !== null) {
      out.push({ severity: 'error', address: r.address, summary: `${r.address}: give either command (stdio) or url (remote), not both`, location: at(['url']) });
    } else if (s.transport === 'stdio' && s.url !== null) {
      out.push({ severity: 'error', address: r.address, summary: `${r.address}.transport: stdio needs command, not url (use http or sse)`, location: at(['transport']) });
    } else if (s.transport !== 'stdio' && s.command !== null) {
      out.push({ severity: 'error', address: r.address, summary: `${r.address}.transport: ${s.transport} needs url, not command`, location: at(['transport']) });
    }
    // The one takeover rule for the agent config files it edits: never inside $PMOVES_HOME (but a watched
    // repository's worktree under sources/, whose project files are the user's), a regular file
    for (const c of s.clients ?? ([] as ClientId[])) {
      const file = s.paths[c];
      if (!file) continue;
      const problem = (await targetProblem(ctx.home.root, file, [path.join(ctx.home.root, 'sources')])) ?? (await notARegularFile(file).then((w) => (w ? `${clip(file)} ${w}` : null)));
      if (problem) out.push({ severity: 'error', address: r.address, summary: `${r.address}.config_paths.${c}: ${problem}`, location: at(['config_paths', c]) });
    }
    return out;
  },

  read: (ctx, t) => readOne(ctx, t),

  async readAll(ctx, targets) {
    // Every server's handshake at once, each under its own deadline: the plan waits for the slowest.
    const out = new Map<string, McpActual | Error>();
    await Promise.all(
      targets.map((t) =>
        readOne(ctx, t).then(
          (a) => void out.set(t.address, a),
          (e: unknown) => void out.set(t.address, e instanceof Error ? e : new Error(String(e))),
        ),
      ),
    );
    return out;
  },

  // Before any agent file is edited: the files this apply is about to write an entry into (with those the
  // state already lists), so that an apply killed between edits still owns them and removal takes them out.
  intent(t, actual) {
    const prior = stateOf(t);
    if (!t.desired) return prior;
    const clients = { ...(prior?.clients ?? {}) };
    const at = { ...(prior?.at ?? {}) };
    for (const i of intentsOf(t, actual, false)) {
      if (i.kind !== 'write') continue;
      clients[i.client] = i.path;
      if (i.at) at[i.client] = i.at;
    }
    return { clients, ...(Object.keys(at).length ? { at } : {}), registry: prior?.registry ?? actual.registry.path } satisfies McpState;
  },

  plan: (t, actual, ctx) => planMcp(t, actual, ctx),

  apply: (ctx, t, actual, planned) => applyMcp(ctx, t, actual, planned),

  describe(_t, actual) {
    const out: string[] = [];
    const probe = actual.volatile.probe;
    if (actual.missing.length) out.push(`missing commands: ${actual.missing.join(', ')}`);
    else if (probe?.ok) out.push(`ready, ${probe.tools.length} tools`);
    else if (probe) out.push(`not ready: ${probe.error}`);
    const have = actual.clients.filter((c) => actual.files[c]?.entry !== undefined);
    if (have.length) out.push(`clients: ${have.join(', ')}`);
    return out;
  },
};
