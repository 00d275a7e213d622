// Per-client intents (pure; shared by plan and apply): what to do with each agent's config file.
import path from 'node:path';
import type { Target } from '../../core/kind.js';
import { CLIENTS, type ClaudeScope, type ClientId } from '../../providers/mcp/clients.js';
import { editJsonEntry, sameJson } from '../../providers/mcp/json-edit.js';
import { REGISTRY_KEY, registryEntry, sameAt, type FileRead, type McpActual, type McpSpec, type McpState } from './spec.js';

/** `at`: the servers' map in the file when not the client's usual key (Claude Code's local scope). */
export type Intent =
  | { client: ClientId; path: string; at?: string[]; kind: 'write'; entry: Record<string, unknown>; owned: boolean; notes: string[] }
  /** `stale`: the file is one state remembers but the spec no longer points at (read into actual.stale). */
  | { client: ClientId; path: string; at?: string[]; kind: 'remove'; stale: boolean; why: string }
  /** `scope`: Claude Code's other scope holding a same-named server (else: the entry in our own place). */
  | { client: ClientId; path: string; kind: 'conflict'; entry: Record<string, unknown>; scope?: ClaudeScope }
  | { client: ClientId; path: string; kind: 'adopted' }
  | { client: ClientId; path: string; kind: 'unsupported'; why: string }
  | { client: ClientId; path: string; kind: 'broken'; error: NonNullable<FileRead['error']> | { message: string; line: number; column: number } };

export function stateOf(t: Target<McpSpec>): McpState | undefined {
  return t.prior?.data as McpState | undefined;
}

export function intentsOf(t: Target<McpSpec>, actual: McpActual, force: boolean): Intent[] {
  const prior = stateOf(t);
  const out: Intent[] = [];
  const spec = t.desired?.spec;
  if (spec) {
    for (const c of actual.clients) {
      const file = actual.files[c]!;
      if (file.error) {
        out.push({ client: c, path: file.path, kind: 'broken', error: file.error });
        continue;
      }
      const r = CLIENTS[c].entry(spec);
      // ours only where pmoves wrote it: this client, this file, this place in the file
      const at = spec.at[c];
      const owned = prior?.clients[c] === file.path && sameAt(prior?.at?.[c], at);
      const where = at ? { at } : {};
      if ('unsupported' in r) {
        out.push({ client: c, path: file.path, kind: 'unsupported', why: r.unsupported });
        // the entry pmoves wrote before (when the client could hold the server) goes
        if (owned && file.entry !== undefined) out.push({ client: c, path: file.path, ...where, kind: 'remove', stale: false, why: `${c} cannot hold this server any more: the entry pmoves wrote is removed` });
        continue;
      }
      if (file.entry !== undefined && !owned) {
        if (sameJson(file.entry, r.entry)) {
          // After an apply that failed half-way (state still says pending), an identical entry is the one
          // that apply wrote: take ownership back. Otherwise it is the user's and stays theirs.
          if (t.prior?.pending) out.push({ client: c, path: file.path, ...where, kind: 'write', entry: r.entry, owned: true, notes: r.notes });
          else out.push({ client: c, path: file.path, kind: 'adopted' });
          continue;
        }
        if (!force || file.inline) {
          out.push({ client: c, path: file.path, kind: 'conflict', entry: r.entry });
          continue;
        }
      }
      out.push({ client: c, path: file.path, ...where, kind: 'write', entry: r.entry, owned, notes: r.notes });
    }
    // Claude Code reads one name from one scope only: the same name elsewhere is someone else's entry in the way
    for (const s of actual.shadows) out.push({ client: 'claude-code', path: s.path, kind: 'conflict', entry: s.entry as Record<string, unknown>, scope: s.scope });
  }
  for (const [c, file] of Object.entries(actual.stale) as [ClientId, McpActual['stale'][ClientId] & object][]) {
    if (file.entry === undefined || file.error) continue;
    const listed = spec?.clients?.includes(c) || actual.clients.includes(c);
    const moved = c === 'claude-code' && spec ? `moved to the ${spec.scope} scope` : 'config moved';
    const why = !spec ? 'the entry pmoves wrote is removed' : `${c} ${listed ? moved : 'is no longer listed'}: the entry pmoves wrote is removed`;
    out.push({ client: c, path: file.path, ...(file.at ? { at: file.at } : {}), kind: 'remove', stale: true, why });
  }
  return out;
}

export function newText(i: Intent, text: string | null, name: string): string | null {
  if (i.kind === 'write') return CLIENTS[i.client].edit(text, name, i.entry, i.at);
  if (i.kind === 'remove') return CLIENTS[i.client].edit(text, name, undefined, i.at);
  return null;
}

export function registryText(t: Target<McpSpec>, actual: McpActual): string {
  const spec = t.desired?.spec;
  return editJsonEntry(actual.registry.text, REGISTRY_KEY, t.name, spec ? registryEntry(spec, actual.clients) : undefined);
}

export function tilde(p: string, home: string | undefined): string {
  return home && p.startsWith(home + path.sep) ? `~${p.slice(home.length)}` : p;
}
