// n8n flows (upstream's automation_loader): each flow JSON's id, name, active flag, the channels its
// name and nodes mention, its webhook nodes. Pure apart from reading the folder.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface Webhook {
  name: string;
  path: string;
  method: string;
}
export interface Automation {
  id: string;
  name: string;
  active: boolean;
  file: string;
  channels: string[];
  webhooks: Webhook[];
}

const CHANNELS: [string, string][] = [
  ['discord', 'discord'],
  ['telegram', 'telegram'],
  ['whatsapp', 'whatsapp'],
  ['webhook', 'webhook'],
  ['slack', 'slack'],
  ['web rtc', 'webrtc'],
  ['signal', 'signal'],
  ['twilio', 'twilio'],
];

export function defaultFlowsDir(root: string): string {
  return path.join(root, 'pmoves', 'n8n', 'flows');
}

type Node = Record<string, unknown>;

export function inferChannels(name: string, nodes: Node[]): string[] {
  const tokens = [name.toLowerCase()];
  for (const n of nodes) for (const v of Object.values(n)) if (typeof v === 'string') tokens.push(v.toLowerCase());
  return [...new Set(CHANNELS.filter(([needle]) => tokens.some((t) => t.includes(needle))).map(([, l]) => l))].sort();
}

export function extractWebhooks(nodes: Node[]): Webhook[] {
  const out: Webhook[] = [];
  for (const n of nodes) {
    if (n.type !== 'n8n-nodes-base.webhook') continue;
    const p = (n.parameters ?? {}) as Record<string, unknown>;
    const hookPath = (p.path || p.pathSegment) as string | undefined;
    if (hookPath) out.push({ name: String(n.name ?? 'Webhook'), path: String(hookPath), method: String(p.httpMethod || 'GET').toUpperCase() });
  }
  return out;
}

/** Flows by id, in file-name order (a later file with the same id replaces the earlier one in place). */
export function loadAutomations(dir: string): Map<string, Automation> {
  const out = new Map<string, Automation>();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
    const file = path.join(dir, f);
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch {
      continue; // as upstream: a file that is not JSON is skipped
    }
    if (!data || typeof data !== 'object' || Array.isArray(data)) continue;
    const name = (data.name as string) || f.slice(0, -'.json'.length);
    const id = String((data.id as string) || name);
    const nodes = (Array.isArray(data.nodes) ? data.nodes : []).filter((n): n is Node => Boolean(n) && typeof n === 'object');
    out.set(id, { id, name, active: Boolean(data.active), file, channels: inferChannels(name, nodes), webhooks: extractWebhooks(nodes) });
  }
  return out;
}
