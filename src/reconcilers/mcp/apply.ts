// Applying mcp.<name>: edit each agent's config file (re-read under a per-file lock: several servers
// may share one file), then pmoves' registry; state records which files hold an entry this tool wrote.
import type { RunContext, Target } from '../../core/kind.js';
import { withFileLock, writeFileAtomic } from '../../core/fs.js';
import type { ApplyResult, PlanResult, StateEntry } from '../../core/types.js';
import { Mutex } from '../../planner/concurrency.js';
import { CLIENTS, type ClientId } from '../../providers/mcp/clients.js';
import { editJsonEntry, readJsonEntry, sameJson } from '../../providers/mcp/json-edit.js';
import { intentsOf, newText, stateOf } from './intents.js';
import { readFile } from './read.js';
import { REGISTRY_KEY, registryEntry, registryPath, type McpActual, type McpSpec, type McpState } from './spec.js';

const locks = new Map<string, Mutex>();
function lockFor(file: string): Mutex {
  let m = locks.get(file);
  if (!m) locks.set(file, (m = new Mutex()));
  return m;
}

export async function applyMcp(ctx: RunContext, t: Target<McpSpec>, actual: McpActual, planned: PlanResult): Promise<ApplyResult> {
  const intents = intentsOf(t, actual, Boolean(ctx.flags.force));
  const prior = stateOf(t);
  const owned: Partial<Record<ClientId, string>> = {};
  const ownedAt: Partial<Record<ClientId, string[]>> = {};
  // A file we could not parse this time keeps the ownership it had; conflicts never become ours.
  for (const i of intents) {
    if (i.kind !== 'broken' || prior?.clients[i.client] !== i.path) continue;
    owned[i.client] = i.path;
    if (prior.at?.[i.client]) ownedAt[i.client] = prior.at[i.client];
  }
  const messages: string[] = [];
  for (const i of intents) {
    if (i.kind !== 'write' && i.kind !== 'remove') continue;
    // One writer at a time: this apply's other servers (the mutex), and every other pmoves on the
    // machine, whatever its home (the file lock): each edits the text the last one wrote.
    await lockFor(i.path).run(() => withFileLock(i.path, async () => {
      // Another mcp resource may have written this file since we read it: edit the fresh text.
      const fresh = await readFile(i.path, (text) => CLIENTS[i.client].read(text, t.name, i.at));
      if (fresh.error) throw new Error(`${i.path}:${fresh.error.line}:${fresh.error.column}: ${fresh.error.message}`);
      if (i.kind === 'write' && fresh.entry !== undefined && !i.owned && !ctx.flags.force && !sameJson(fresh.entry, i.entry)) {
        throw new Error(`${i.path} got a hand-written "${t.name}" since the plan; not overwritten`);
      }
      const text = newText(i, fresh.text, t.name)!;
      if (text !== (fresh.text ?? '')) {
        // project files are shared (0644); ~/.claude.json and the other user files are private
        const project = (i.client === 'claude-code' && t.desired?.spec.scope === 'project' && i.kind === 'write') || i.client === 'vscode';
        await writeFileAtomic(i.path, text, { mode: fresh.mode ?? (project ? 0o644 : 0o600) });
        messages.push(`${i.kind === 'write' ? 'registered in' : 'removed from'} ${i.path}`);
      }
    }));
    if (i.kind === 'write') {
      owned[i.client] = i.path;
      if (i.at) ownedAt[i.client] = i.at;
    }
  }
  const reg = prior?.registry ?? registryPath(ctx.home.root);
  await lockFor(reg).run(async () => {
    const fresh = await readFile(reg, (text) => readJsonEntry(text, REGISTRY_KEY, t.name));
    const text = editJsonEntry(fresh.text, REGISTRY_KEY, t.name, t.desired ? registryEntry(t.desired.spec, actual.clients) : undefined);
    if (text !== (fresh.text ?? '')) await writeFileAtomic(reg, text, { mode: 0o600 });
  });
  if (planned.action === 'delete') return { outcome: 'deleted', state: null, messages };
  const state: StateEntry = {
    section: 'mcp',
    // The registration is always this tool's (isOwned reads it); which client entries it wrote, and so may
    // remove, is the finer record in data.clients.
    owned: true,
    digest: ctx.digest(JSON.stringify(registryEntry(t.desired!.spec, actual.clients))),
    data: { clients: owned, ...(Object.keys(ownedAt).length ? { at: ownedAt } : {}), registry: reg } satisfies McpState,
  };
  return { outcome: planned.action === 'create' ? 'created' : 'updated', state, messages };
}
