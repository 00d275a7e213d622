// This device as fleet.yaml selectors see it: hostname (PMOVES_HOSTNAME, else device.yaml's override,
// else the OS's), architecture, profile (--profile, else the pinned one, else detected when asked) and
// labels from $PMOVES_HOME/device.yaml (`pmoves mini device label KEY=VALUE`).
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { UserError, formatDiagnostic } from '../core/errors.js';
import { readFileOrNull, writeFileAtomic } from '../core/fs.js';
import type { Home } from '../core/home.js';
import type { Diagnostic } from '../core/types.js';
import { validate } from '../manifest/schema.js';
import { parseYamlText } from '../manifest/yaml-source.js';

export interface DeviceDescriptor {
  hostname: string;
  arch: string;
  profile: string | null;
  labels: Record<string, string>;
  /** Where it came from (a --device-file, or "this device"). */
  origin: string;
}

export interface DeviceFile {
  hostname?: string;
  arch?: string;
  profile?: string;
  labels?: Record<string, string>;
}

export const deviceFile = (home: Home) => path.join(home.root, 'device.yaml');

/** A device descriptor YAML (device.yaml or a --device-file): value, or diagnostics at file:line:column. */
export async function readDescriptorFile(file: string, missingOk = false): Promise<{ value?: DeviceFile; diagnostics: Diagnostic[] }> {
  const text = await readFileOrNull(file);
  if (text === null) return missingOk ? { value: {}, diagnostics: [] } : { diagnostics: [{ severity: 'error', summary: 'no such file', location: file }] };
  const { source, diagnostics } = parseYamlText(file, text);
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  const data = (source.doc.toJS() ?? {}) as unknown;
  const errors = validate('device.schema.json', data, source);
  if (errors.length) return { diagnostics: errors };
  return { value: data as DeviceFile, diagnostics: [] };
}

export async function readDevice(home: Home): Promise<DeviceFile> {
  const r = await readDescriptorFile(deviceFile(home), true);
  if (!r.value) throw new UserError(r.diagnostics.map(formatDiagnostic).join('\n'), r.diagnostics);
  return r.value;
}

export async function writeDevice(home: Home, d: DeviceFile): Promise<string> {
  const file = deviceFile(home);
  const body = `# This device for fleet.yaml selectors. Written by \`pmoves mini device\`; labels are plain\n# key: value pairs (never put a secret here: labels are shown and published).\n${stringify(d)}`;
  await writeFileAtomic(file, body);
  return file;
}

/** Descriptor of the machine this runs on. `detect` may read the hardware to find the best profile. */
export async function localDescriptor(home: Home, env: NodeJS.ProcessEnv, o: { profile?: string; detect?: boolean } = {}): Promise<DeviceDescriptor> {
  const dev = await readDevice(home);
  let profile: string | null = o.profile && o.profile !== 'auto' ? o.profile : null;
  if (!profile) {
    const { readPin } = await import('../providers/hardware/profiles.js');
    profile = (await readPin(home)).id;
  }
  if (!profile && o.detect) profile = await detectProfile(home, env).catch(() => null);
  return {
    hostname: env.PMOVES_HOSTNAME || dev.hostname || os.hostname(),
    arch: os.arch(),
    profile,
    labels: dev.labels ?? {},
    origin: 'this device',
  };
}

async function detectProfile(home: Home, env: NodeJS.ProcessEnv): Promise<string | null> {
  const { detectFromEnv } = await import('../providers/hardware/detect.js');
  const { loadProfiles, rankProfiles, bestProfile } = await import('../providers/hardware/profiles.js');
  const set = await loadProfiles({ env, home });
  return bestProfile(rankProfiles(set.profiles.values(), await detectFromEnv(env)))?.profile.id ?? null;
}

export function descriptorFromFile(d: DeviceFile, origin: string): DeviceDescriptor {
  return { hostname: d.hostname ?? path.basename(origin).replace(/\.(ya?ml|json)$/, ''), arch: d.arch ?? 'x64', profile: d.profile ?? null, labels: d.labels ?? {}, origin };
}

/** MQTT topic segment for a device: its hostname with anything MQTT treats specially replaced. */
export const deviceId = (d: { hostname: string }) => d.hostname.replace(/[/+#\s]/g, '_');
