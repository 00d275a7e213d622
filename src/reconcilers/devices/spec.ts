// The shapes of devices.<name>: an ESP32 (firmware images, optional config partition) or this Jetson
// (camera service, cameras, Docker runtime); normalize turns the manifest's spec into them.
import type { LoadContext } from '../../core/kind.js';
import type { ImageSource } from '../../providers/edge/firmware.js';
import type { Diagnostic } from '../../core/types.js';

export interface ConfigSpec {
  offset: number;
  wifi_ssid_from_secret: string | null;
  wifi_password_from_secret: string | null;
  mqtt_url: string | null;
  topic_prefix: string;
}

export interface Esp32Spec {
  type: 'esp32';
  /** A device path, or `auto`. */
  port: string;
  chip: string;
  baud: number;
  flash_size: string;
  /** In flash order: bootloader, partition_table, firmware (those declared). */
  images: ImageSource[];
  config: ConfigSpec | null;
}

export interface JetsonSpec {
  type: 'jetson';
  nvargus: 'running' | 'stopped';
  cameras: { min: number; sensors: string[] };
  docker_runtime: string | null;
  /** Declared path (absolute), or null: /etc/docker/daemon.json under the probe's root. */
  daemon_json: string | null;
}

export type DeviceSpec = Esp32Spec | JetsonSpec;

const DEFAULT_OFFSETS: Record<string, number> = { partition_table: 0x8000, firmware: 0x10000 };

export function parseOffset(v: unknown): number {
  if (typeof v === 'number') return v;
  const s = String(v);
  return /^0x/i.test(s) ? parseInt(s.slice(2), 16) : Number(s);
}

/** Where the chip's ROM looks for the second-stage bootloader (esptool v4.8.1's BOOTLOADER_FLASH_OFFSET). */
export function bootloaderOffset(chip: string): number {
  return chip === 'esp32' || chip === 'esp32s2' ? 0x1000 : chip === 'esp32p4' ? 0x2000 : 0;
}

/** The unit the ROM and the flasher stub erase: a write erases every sector it touches, from its start. */
export const SECTOR = 0x1000;

export const FLASH_SIZES: Record<string, number> = { '1MB': 1 << 20, '2MB': 2 << 20, '4MB': 4 << 20, '8MB': 8 << 20, '16MB': 16 << 20, '32MB': 32 << 20 };

export function normalizeDevice(spec: Record<string, any>, name: string, ctx: LoadContext): DeviceSpec {
  if (spec.type === 'jetson') {
    return {
      type: 'jetson',
      nvargus: spec.nvargus === 'stopped' ? 'stopped' : 'running',
      cameras: { min: spec.cameras?.min ?? 0, sensors: spec.cameras?.sensors ?? [] },
      docker_runtime: spec.docker_runtime === undefined ? 'nvidia' : spec.docker_runtime,
      daemon_json: spec.daemon_json ? ctx.resolvePath(spec.daemon_json) : null,
    };
  }
  const chip = String(spec.chip ?? 'esp32s3');
  const images: ImageSource[] = [];
  for (const role of ['bootloader', 'partition_table', 'firmware']) {
    const i = spec[role] as Record<string, unknown> | undefined;
    if (!i) continue;
    const offset = i.offset !== undefined ? parseOffset(i.offset) : role === 'bootloader' ? bootloaderOffset(chip) : DEFAULT_OFFSETS[role]!;
    images.push({
      role,
      offset,
      file: typeof i.file === 'string' ? ctx.resolvePath(i.file) : null,
      url: typeof i.url === 'string' ? i.url : null,
      sha256: typeof i.sha256 === 'string' ? i.sha256.toLowerCase() : null,
    });
  }
  const c = spec.config as Record<string, unknown> | undefined;
  return {
    type: 'esp32',
    port: String(spec.port ?? 'auto'),
    chip,
    baud: Number(spec.baud ?? 921600),
    flash_size: String(spec.flash_size ?? '4MB'),
    images,
    config: c
      ? {
          offset: parseOffset(c.offset),
          wifi_ssid_from_secret: (c.wifi_ssid_from_secret as string | undefined) ?? null,
          wifi_password_from_secret: (c.wifi_password_from_secret as string | undefined) ?? null,
          mqtt_url: (c.mqtt_url as string | undefined) ?? null,
          topic_prefix: (c.topic_prefix as string | undefined) ?? `pmoves/${name}/`,
        }
      : null,
  };
}

/** The config partition's bytes: one JSON document, NUL-terminated (padded to 4 bytes when written). */
export function configBlob(c: ConfigSpec, env: NodeJS.ProcessEnv): Uint8Array {
  const secret = (label: string | null) => {
    if (!label) return undefined;
    const v = env[label];
    if (v === undefined) throw new Error(`CHIT label ${label} is not set in this environment (load the CHIT env file, e.g. env.shared)`);
    return v;
  };
  const doc = {
    wifi: { ssid: secret(c.wifi_ssid_from_secret), password: secret(c.wifi_password_from_secret) },
    mqtt: { url: c.mqtt_url ?? undefined, topic_prefix: c.topic_prefix },
  };
  return Buffer.from(`${JSON.stringify(doc)}\0`);
}

/** One region of flash as the manifest lays it out; `size` is null when not known yet (a URL not downloaded). */
export interface LayoutRegion {
  role: string;
  offset: number;
  size: number | null;
}

export interface LayoutProblem {
  /** The region the problem is reported at (its offset is where the manifest is pointed to). */
  role: string;
  rule: 'sector-aligned' | 'bootloader-offset' | 'fits-flash' | 'no-overlap' | 'own-sector';
  message: string;
}

const hx = (n: number) => `0x${n.toString(16)}`;
const range = (r: { offset: number; size: number | null }) => (r.size === null ? `${hx(r.offset)}…` : `${hx(r.offset)}–${hx(r.offset + r.size)}`);
const sectorStart = (n: number) => n - (n % SECTOR);
const sectorEnd = (n: number) => Math.ceil(n / SECTOR) * SECTOR;

/**
 * esptool's layout rules, checked before anything is written (docs/edge.md, "Layout rules", says where
 * they differ from esptool v4.8.1's): every offset starts a 4 KiB sector; the bootloader sits where the
 * chip's ROM looks for it; every region fits in flash_size; no two regions overlap or share a sector.
 */
export function layoutProblems(chip: string, flashSize: number, regions: LayoutRegion[]): LayoutProblem[] {
  const out: LayoutProblem[] = [];
  const sorted = [...regions].sort((a, b) => a.offset - b.offset);
  for (const r of sorted) {
    if (r.offset % SECTOR) {
      const prev = sorted.filter((o) => o !== r && o.offset < r.offset && o.offset >= sectorStart(r.offset)).map((o) => ` (${o.role} at ${range(o)} is in that sector)`)[0] ?? '';
      out.push({
        role: r.role,
        rule: 'sector-aligned',
        message: `${r.role} at ${hx(r.offset)} is not at the start of a 4 KiB flash sector: writing it erases the ${hx(r.offset % SECTOR)} bytes from ${hx(sectorStart(r.offset))} before it${prev}; use an offset that is a multiple of 0x1000`,
      });
    }
    if (r.role === 'bootloader' && r.offset !== bootloaderOffset(chip)) {
      out.push({ role: r.role, rule: 'bootloader-offset', message: `bootloader at ${hx(r.offset)}: the ${chip} ROM starts the bootloader at ${hx(bootloaderOffset(chip))}; the board would not boot it (leave offset out for the default)` });
    }
    if (r.size !== null && r.offset + r.size > flashSize) {
      out.push({
        role: r.role,
        rule: 'fits-flash',
        message: `${r.role} at ${range(r)} (${r.size} bytes) does not fit in flash_size ${flashSize / (1 << 20)}MB (ends at ${hx(flashSize)}): change flash_size or the offset`,
      });
    }
  }
  for (let i = 1; i < sorted.length; i++) {
    const b = sorted[i]!;
    for (const a of sorted.slice(0, i)) {
      // a URL image not downloaded yet: only its first sector is known to be taken
      const aEnd = a.offset + (a.size ?? 1);
      if (b.offset < aEnd) {
        out.push({ role: b.role, rule: 'no-overlap', message: `${b.role} at ${range(b)} overlaps ${a.role} at ${range(a)}: each write would erase the other, and the board would hold neither` });
      } else if (sectorStart(b.offset) < sectorEnd(aEnd)) {
        out.push({
          role: b.role,
          rule: 'own-sector',
          message: `${b.role} at ${range(b)} shares the 4 KiB sector ${hx(sectorStart(b.offset))} with ${a.role} at ${range(a)}: writing ${b.role} erases that sector, and the end of ${a.role} with it`,
        });
      }
    }
  }
  return out;
}

/** The manifest's regions with their sizes from the files (padded to 4, as written); URLs not cached are unknown. */
export async function layoutDiagnostics(address: string, spec: Esp32Spec, ctx: LoadContext): Promise<Diagnostic[]> {
  const { promises: fsp } = await import('node:fs');
  const { cachedImagePath } = await import('../../providers/edge/firmware.js');
  const cache = `${ctx.home.root}/cache`;
  const regions: LayoutRegion[] = [];
  for (const i of spec.images) {
    const file = i.file ?? (i.sha256 ? cachedImagePath(cache, i.sha256) : null);
    const size = file ? await fsp.stat(file).then((s) => s.size, () => null) : null;
    regions.push({ role: i.role, offset: i.offset, size: size === null ? null : Math.ceil(size / 4) * 4 });
  }
  if (spec.config) {
    let size = 4;
    try {
      size = Math.ceil(configBlob(spec.config, ctx.env).length / 4) * 4;
    } catch {
      // a secret not set here is reported when the board is read; the region starts at its offset
    }
    regions.push({ role: 'config', offset: spec.config.offset, size });
  }
  return layoutProblems(spec.chip, FLASH_SIZES[spec.flash_size] ?? 4 << 20, regions).map((p) => ({
    severity: 'error' as const,
    address,
    summary: `${address}: ${p.message}`,
    detail: `layout rule: ${p.rule} (esptool's rules: docs/edge.md, "Layout rules")`,
    location: ctx.locate(address, [p.role, 'offset']) ?? ctx.locate(address, [p.role]),
  }));
}
