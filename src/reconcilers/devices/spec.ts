// The shapes of devices.<name>: an ESP32 (firmware images, optional config partition) or this Jetson
// (camera service, cameras, Docker runtime); normalize turns the manifest's spec into them.
import type { LoadContext } from '../../core/kind.js';
import type { ImageSource } from '../../providers/edge/firmware.js';

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

export function bootloaderOffset(chip: string): number {
  return chip === 'esp32' || chip === 'esp32s2' ? 0x1000 : 0;
}

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
