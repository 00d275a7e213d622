// Which group a device belongs to: the first group (in fleet.yaml order) whose selector matches. Pure.
import type { DeviceDescriptor } from './device.js';
import type { FleetGroup, Strings } from './fleet-file.js';

/** Glob → RegExp: `*` any run, `?` one character, `[...]` a class; anything else literal. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        re += `[${body.startsWith('!') ? '^' + body.slice(1) : body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export const globMatch = (glob: string, value: string) => globToRegExp(glob).test(value);

const ARCH: Record<string, string> = { amd64: 'x64', x86_64: 'x64', x64: 'x64', aarch64: 'arm64', arm64: 'arm64' };
export const normArch = (a: string) => ARCH[a.toLowerCase()] ?? a.toLowerCase();

const list = (s: Strings | undefined) => (s === undefined ? undefined : Array.isArray(s) ? s : [s]);

/** Why a group does not match (first reason), or null when it matches. */
export function mismatch(g: FleetGroup, d: DeviceDescriptor): string | null {
  const m = g.match ?? {};
  const hosts = list(m.hostname);
  if (hosts && !hosts.some((h) => globMatch(h, d.hostname))) return `hostname ${d.hostname} is not ${hosts.join(' | ')}`;
  const profiles = list(m.profile);
  if (profiles && !(d.profile && profiles.includes(d.profile))) return `profile ${d.profile ?? '(none)'} is not ${profiles.join(' | ')}`;
  const arches = list(m.arch);
  if (arches && !arches.map(normArch).includes(normArch(d.arch))) return `arch ${d.arch} is not ${arches.join(' | ')}`;
  for (const [k, v] of Object.entries(m.labels ?? {})) {
    const have = d.labels[k];
    if (have === undefined || !globMatch(v, have)) return `label ${k}=${have ?? '(unset)'} is not ${v}`;
  }
  return null;
}

export interface Selection {
  group: FleetGroup | null;
  index: number;
  /** For each group before the chosen one (or all, when none matched): why it did not match. */
  misses: { group: string; why: string }[];
}

export function selectGroup(groups: FleetGroup[], d: DeviceDescriptor): Selection {
  const misses: Selection['misses'] = [];
  for (const [i, g] of groups.entries()) {
    const why = mismatch(g, d);
    if (why === null) return { group: g, index: i, misses };
    misses.push({ group: g.name, why });
  }
  return { group: null, index: -1, misses };
}
