// Planning mcp.<name> (pure): one part per agent config file, the registry entry as the resource's
// value, and readiness as diagnostics, never as a change.
import type { PlanContext, Target } from '../../core/kind.js';
import { isOwned } from '../../core/ownership.js';
import type { Change, Diagnostic, PlanResult } from '../../core/types.js';
import { CLIENTS, type ClientId } from '../../providers/mcp/clients.js';
import { intentsOf, newText, registryText, tilde } from './intents.js';
import { registryEntry, type McpActual, type McpSpec } from './spec.js';

function readinessDiagnostics(t: Target<McpSpec>, actual: McpActual, registered: boolean): Diagnostic[] {
  const spec = t.desired?.spec;
  if (!spec) return [];
  const prefix = registered ? 'registered, not ready' : 'not ready';
  const probe = actual.volatile.probe;
  const out: Diagnostic[] = [];
  if (actual.missing.length) {
    out.push({ severity: 'warning', address: t.address, summary: `${prefix}: missing commands: ${actual.missing.join(', ')}`, ...(spec.setup_instructions.length ? { detail: spec.setup_instructions.map((s) => `- ${s}`).join('\n') } : {}) });
  } else if (probe && !probe.ok) {
    const lines = probe.stderr ? probe.stderr.split('\n').slice(-5) : [];
    out.push({ severity: 'warning', address: t.address, summary: `${prefix}: ${probe.error}`, ...(lines.length ? { detail: `stderr: ${lines.join('\n')}` } : {}) });
  } else if (probe?.ok && spec.enabled_tools) {
    const unknown = spec.enabled_tools.filter((x) => !probe.tools.includes(x));
    if (unknown.length) out.push({ severity: 'warning', address: t.address, summary: `enabled_tools names tools the server does not offer: ${unknown.join(', ')}` });
  }
  if (actual.unset.length) {
    out.push({ severity: 'warning', address: t.address, summary: `${actual.unset.join(', ')} ${actual.unset.length > 1 ? 'are' : 'is'} not set in this environment; agents started from it will not have ${actual.unset.length > 1 ? 'them' : 'it'} (load the CHIT env file, e.g. env.shared)` });
  }
  return out;
}

export function planMcp(t: Target<McpSpec>, actual: McpActual, ctx: PlanContext): PlanResult {
  const spec = t.desired?.spec;
  const reg = actual.registry;
  if (reg.error) {
    // pmoves' own registry is not JSON any more (a hand edit, a disk fault): say which file and where
    const summary = `${reg.path}:${reg.error.line}:${reg.error.column}: ${reg.error.message}`;
    const detail = 'pmoves keeps its list of MCP servers there; fix the file, or move it aside (the next apply writes it anew)';
    return { action: 'no-op', reason: 'the registry cannot be read', before: null, after: null, diagnostics: [{ severity: 'error', address: t.address, summary, detail }] };
  }
  const home = actual.home ?? undefined;
  const intents = intentsOf(t, actual, Boolean(ctx.flags.force));
  const parts: Change[] = [];
  const diagnostics: Diagnostic[] = [];
  const warnings: string[] = [];
  const conflicts: string[] = [];
  for (const i of intents) {
    const file = i.kind === 'remove' && i.stale ? actual.stale[i.client]! : actual.files[i.client]!;
    const shown = tilde(i.path, home);
    switch (i.kind) {
      case 'broken':
        diagnostics.push({ severity: 'error', address: t.address, summary: `${CLIENTS[i.client].label} config: ${i.error.message}; nothing will be written to it`, location: `${i.path}:${i.error.line}:${i.error.column}` });
        break;
      case 'unsupported':
        diagnostics.push({ severity: 'warning', address: t.address, summary: `not registered with ${i.client}: ${i.why}` });
        break;
      case 'conflict':
        if (i.scope) {
          // Claude Code uses local, then project, then user: one of the two entries is not the one it runs
          const mine = actual.files['claude-code'] ? t.desired!.spec.scope : null;
          const rank = { local: 0, project: 1, user: 2 } as const;
          const wins = mine && rank[i.scope] > rank[mine] ? `ours (${mine} scope) shadows it` : `Claude Code uses it, not ours (${mine} scope)`;
          const text = `${shown} (Claude Code's ${i.scope} scope) also has a server "${t.name}" that pmoves did not write; ${wins} (remove it with: claude mcp remove ${t.name} -s ${i.scope})`;
          conflicts.push(`${i.client}: ${text}`);
          diagnostics.push({ severity: 'warning', address: t.address, summary: `conflict: ${text}` });
          break;
        }
        conflicts.push(`${i.client}: ${shown} already has a server "${t.name}" that pmoves did not write${file.inline ? ' (inline keys: edit it by hand)' : ' (apply --force overwrites it)'}`);
        diagnostics.push({
          severity: 'warning',
          address: t.address,
          summary: `conflict: ${shown} already has a server "${t.name}" that pmoves did not write; apply leaves it alone${file.inline ? ' (it is written as inline keys; edit it by hand)' : ' (use apply --force to overwrite it)'}`,
        });
        break;
      case 'adopted':
        break;
      case 'write':
      case 'remove': {
        if (i.kind === 'write') for (const n of i.notes) warnings.push(n);
        const after = newText(i, file.text, t.name)!;
        if (after === (file.text ?? '')) {
          if (file.text !== null) parts.push(part(t, i.client, 'no-op', 'in sync', { [shown]: file.text }, { [shown]: after }));
          break;
        }
        const creating = file.text === null;
        const reason =
          i.kind === 'remove'
            ? i.why
            : file.entry === undefined
              ? `"${t.name}" is not registered with ${i.client}`
              : i.owned
                ? `the entry in ${shown} differs from the manifest`
                : `--force: the hand-written entry is overwritten`;
        parts.push(part(t, i.client, creating ? 'create' : 'update', reason, creating ? null : { [shown]: file.text }, { [shown]: after }));
        break;
      }
      default: {
        const never: never = i;
        throw new Error(`unknown intent ${JSON.stringify(never)}`);
      }
    }
  }
  const regAfter = registryText(t, actual);
  const regChanged = regAfter !== (actual.registry.text ?? '');
  // An apply killed after its edits but before it recorded them (the state still says pending) left
  // entries identical to ours that the state does not list: recording them is a change (an update that
  // rewrites nothing), or a later removal would leave them behind as if they were the user's.
  // (The write-ahead entry lists the files it was about to edit, so any pending entry is recorded anew.)
  const unrecorded = Boolean(spec && t.prior?.pending) && intents.some((i) => i.kind === 'write' && i.owned);
  const changing = unrecorded || parts.some((p) => p.action !== 'no-op') || (regChanged && (spec !== undefined || actual.registry.entry !== undefined));
  const before = actual.registry.entry ?? null;
  const registeredEverywhere = !changing && intents.every((i) => i.kind === 'write' || i.kind === 'adopted');
  diagnostics.push(...readinessDiagnostics(t, actual, registeredEverywhere));

  if (!spec) {
    if (!changing || !isOwned(t.prior)) return { action: 'no-op', reason: 'not declared any more', before, after: before, parts, diagnostics };
    return { action: 'delete', reason: 'it is no longer in the manifest; only the entries pmoves wrote are removed', before, after: null, parts, diagnostics, verb: 'unregistered' };
  }
  const after = registryEntry(spec, actual.clients);
  const conflicted = conflicts.length ? { conflicts } : {};
  if (!changing) return { action: 'no-op', reason: conflicts.length ? 'in conflict' : 'registered', before, after: before ?? after, parts, diagnostics, ...(warnings.length ? { warnings } : {}), ...conflicted };
  const fresh = (!t.prior || t.prior.pending === 'create') && actual.registry.entry === undefined;
  const targets = [...new Set(parts.filter((p) => p.action !== 'no-op').map((p) => p.name.split('.').pop()))];
  return {
    action: fresh ? 'create' : 'update',
    reason: fresh
      ? `not registered yet${targets.length ? ` (${targets.join(', ')})` : ''}`
      : unrecorded && !targets.length && !regChanged
        ? 'an interrupted apply wrote its entries but did not record them: recording them (no file changes)'
        : `registration differs${targets.length ? ` (${targets.join(', ')})` : ' (registry)'}`,
    before: fresh ? null : before,
    after,
    parts,
    diagnostics,
    ...(warnings.length ? { warnings: [...new Set(warnings)] } : {}),
    verb: fresh ? 'registered' : undefined,
    ...conflicted,
  };
}

function part(t: Target<McpSpec>, client: ClientId, action: Change['action'], reason: string, before: unknown, after: unknown): Change {
  return { address: `${t.address}.${client}`, section: 'mcp', name: `${t.name}.${client}`, action, reason, before, after };
}
