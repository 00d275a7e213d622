// `fleet plan`: for each device descriptor, its group, manifest and the resources it would get. Reads
// fleet.yaml and the manifests only: no machine access (the profile expander, which detects hardware,
// is left out: what a profile adds is decided on the device).
import path from 'node:path';
import type { Diagnostic } from '../core/types.js';
import type { Home } from '../core/home.js';
import type { DeviceDescriptor } from './device.js';
import type { Fleet } from './fleet-file.js';
import { resolveDevice } from './resolve.js';

export interface DevicePlan {
  device: string;
  origin: string;
  descriptor: Omit<DeviceDescriptor, 'origin'>;
  group: string | null;
  /** Where the group is declared (file:line:column). */
  group_at: string | null;
  manifest: string | null;
  overrides: string[];
  resources: string[];
  misses: { group: string; why: string }[];
  diagnostics: Diagnostic[];
}

export async function planDevices(fleet: Fleet, devices: DeviceDescriptor[], o: { env: NodeJS.ProcessEnv; home: Home }): Promise<DevicePlan[]> {
  const { loadManifest } = await import('../manifest/load.js');
  const { kinds, expanders } = await import('../reconcilers/index.js');
  const { profileExpander } = await import('../manifest/expanders/profile.js');
  const noMachine = expanders.filter((e) => e !== profileExpander);
  const out: DevicePlan[] = [];
  for (const d of devices) {
    const r = await resolveDevice(fleet, d, o.env);
    const { origin, ...descriptor } = d;
    const p: DevicePlan = {
      device: d.hostname,
      origin,
      descriptor,
      group: r.group?.name ?? null,
      group_at: r.group ? fleet.source.locate(['groups', r.selection.index]) : null,
      manifest: r.group ? r.group.manifest : null,
      overrides: Object.keys(r.overrides),
      resources: [],
      misses: r.selection.misses,
      diagnostics: [...r.diagnostics],
    };
    if (r.manifestPath && !r.diagnostics.some((x) => x.severity === 'error')) {
      const loaded = await loadManifest(r.manifestPath, { env: o.env, home: o.home, kinds, expanders: noMachine, overrides: { ...r.overrides, ...(d.profile ? { profile: d.profile } : {}) } });
      p.diagnostics.push(...loaded.diagnostics);
      p.resources = loaded.manifest?.resources.map((x) => x.address) ?? [];
    }
    const seen = new Set<string>(); // the group's overrides and the manifest loader read the same file: say each thing once
    p.diagnostics = p.diagnostics.filter((x) => {
      const k = `${x.severity}|${x.location}|${x.summary}`;
      return !seen.has(k) && Boolean(seen.add(k));
    });
    out.push(p);
  }
  return out;
}

export function renderPlans(plans: DevicePlan[], fleetFile: string): string {
  const lines: string[] = [];
  for (const p of plans) {
    const d = p.descriptor;
    const labels = Object.entries(d.labels).map(([k, v]) => `${k}=${v}`).join(' ');
    lines.push(`${p.device} (${p.origin}; arch ${d.arch}, profile ${d.profile ?? '-'}${labels ? `, labels ${labels}` : ''})`);
    if (!p.group) {
      lines.push(`  no group in ${path.basename(fleetFile)} matches: this device does nothing`);
      for (const m of p.misses) lines.push(`    ${m.group}: ${m.why}`);
    } else {
      lines.push(`  group:     ${p.group} (${p.group_at})`);
      lines.push(`  manifest:  ${p.manifest}${p.overrides.length ? ` + overrides of ${p.overrides.join(', ')}` : ''}`);
      if (!p.diagnostics.some((x) => x.severity === 'error')) lines.push(`  resources: ${p.resources.length ? p.resources.join(', ') : '(none)'}`);
    }
    for (const x of p.diagnostics) lines.push(`  ${x.severity === 'error' ? 'Error' : 'Warning'}: ${x.location ? `${x.location}: ` : ''}${x.summary}`);
    lines.push('');
  }
  return lines.join('\n');
}
