// `fleet status`: the retained status and online messages of every device under a prefix, folded
// into one row per device (pure), rendered as a table or JSON. A device is flagged `behind` when its
// commit is not the repository's head, and `stale` when its last status is older than --stale.
import type { DeviceStatus } from './status-message.js';

export interface DeviceRow {
  device: string;
  group: string | null;
  commit: string | null;
  result: string;
  reason?: string;
  generation: number | null;
  profile: string | null;
  failing: { address: string; reason: string }[];
  /** Seconds since the device's last status (null: none seen). */
  age_s: number | null;
  last_apply: string | null;
  online: 'online' | 'offline' | 'unknown';
  behind: boolean;
  stale: boolean;
}

export class FleetView {
  readonly status = new Map<string, DeviceStatus>();
  readonly online = new Map<string, string>();
  invalid = 0;
  messages = 0;

  constructor(readonly prefix: string) {}

  /** One MQTT message; returns true when it changed the view. */
  add(topic: string, payload: Buffer | string): boolean {
    this.messages++;
    if (!topic.startsWith(this.prefix + '/')) return false;
    const rest = topic.slice(this.prefix.length + 1).split('/');
    if (rest.length !== 2) return false;
    const [device, kind] = rest as [string, string];
    const text = payload.toString();
    if (kind === 'online') {
      if (!text) this.online.delete(device);
      else this.online.set(device, text);
      return true;
    }
    if (kind !== 'status') return false;
    if (!text) {
      this.status.delete(device); // a retained message cleared
      return true;
    }
    try {
      const s = JSON.parse(text) as DeviceStatus;
      if (!s || typeof s !== 'object' || typeof s.result !== 'string') throw new Error('not a status');
      this.status.set(device, s);
      return true;
    } catch {
      this.invalid++;
      return false;
    }
  }

  rows(o: { now?: number; head?: string | null; staleMs: number }): DeviceRow[] {
    const now = o.now ?? Date.now();
    const ids = [...new Set([...this.status.keys(), ...this.online.keys()])].sort();
    return ids.map((id) => {
      const s = this.status.get(id);
      const t = s?.time ? Date.parse(s.time) : NaN;
      const age = Number.isFinite(t) ? Math.max(0, Math.round((now - t) / 1000)) : null;
      const on = this.online.get(id);
      return {
        device: id,
        group: s?.group ?? null,
        commit: s?.commit ?? null,
        result: s?.result ?? 'unknown',
        ...(s?.reason ? { reason: s.reason } : {}),
        generation: s?.generation ?? null,
        profile: s?.profile ?? null,
        failing: s?.failing ?? [],
        age_s: age,
        last_apply: s?.last_apply ?? null,
        online: on === 'online' ? 'online' : on === 'offline' ? 'offline' : 'unknown',
        behind: Boolean(o.head && s?.commit !== o.head),
        stale: age === null || age * 1000 > o.staleMs,
      };
    });
  }
}

export function fmtAge(s: number | null): string {
  if (s === null) return '-';
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

export function renderTable(rows: DeviceRow[], head: string | null): string {
  const table: string[][] = [['DEVICE', 'GROUP', 'COMMIT', 'RESULT', 'AGE', 'ONLINE', 'FLAGS']];
  for (const r of rows) {
    const flags = [r.behind ? 'behind' : '', r.stale ? 'stale' : ''].filter(Boolean).join(',');
    table.push([r.device, r.group ?? '-', r.commit ? r.commit.slice(0, 12) : '-', r.result, fmtAge(r.age_s), r.online, flags || '-']);
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const lines = table.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
  const count = (p: (r: DeviceRow) => boolean) => rows.filter(p).length;
  lines.push('');
  lines.push(
    `${rows.length} device(s): ${count((r) => r.result === 'converged')} converged, ${count((r) => r.result === 'failed')} failed, ${count((r) => r.result === 'blocked')} blocked; ` +
      `${count((r) => r.online === 'online')} online, ${count((r) => r.online === 'offline')} offline` +
      (head ? `; head ${head.slice(0, 12)}, ${count((r) => r.behind)} behind` : '') +
      `; ${count((r) => r.stale)} stale`,
  );
  for (const r of rows) for (const f of r.failing.slice(0, 5)) lines.push(`  ${r.device}: ${f.address}: ${f.reason}`);
  for (const r of rows) if (r.result === 'blocked' && r.reason) lines.push(`  ${r.device}: blocked: ${r.reason}`);
  return lines.join('\n') + '\n';
}
