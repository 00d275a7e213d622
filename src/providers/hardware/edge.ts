// Edge devices for `status`: a Jetson's camera stack (nvargus-daemon, CSI cameras) and ESP32 boards on
// USB serial, read through the same seam as the hardware detector.
import { detectCameras, detectJetson, detectSerial, NVARGUS, type Camera, type SerialDevice } from './detect.js';
import { probeFromEnv, type Probe } from './probe.js';

export interface EdgeStatus {
  jetson: { model: string; l4t: string | null; nvargus: string; cameras: Camera[] } | null;
  esp32: SerialDevice[];
}

/** Cheap: no nvidia-smi, no Docker. One `systemctl` call on a Jetson. */
export async function edgeStatus(p: Probe): Promise<EdgeStatus> {
  const [jetson, serial] = await Promise.all([detectJetson(p), detectSerial(p)]);
  let j: EdgeStatus['jetson'] = null;
  if (jetson) {
    const [r, cameras] = await Promise.all([p.run(NVARGUS, 2000), detectCameras(p)]);
    const nvargus = r.status === 'ok' ? r.stdout.trim() || 'unknown' : r.status === 'failed' ? r.stdout.trim() || 'inactive' : r.status === 'missing' ? 'unknown (no systemctl)' : 'unknown (systemctl timed out)';
    j = { model: jetson.model, l4t: jetson.l4t, nvargus, cameras };
  }
  return { jetson: j, esp32: serial };
}

export function edgeLines(e: EdgeStatus): string[] {
  const out: string[] = [];
  if (e.jetson) {
    const cams = e.jetson.cameras.length ? e.jetson.cameras.map((c) => `${c.device}${c.name ? ` (${c.name}${c.csi ? ', CSI' : ''})` : ''}`).join(', ') : 'none';
    out.push(`jetson: ${e.jetson.model}${e.jetson.l4t ? ` (L4T ${e.jetson.l4t})` : ''}; nvargus-daemon ${e.jetson.nvargus}; cameras: ${cams}`);
  }
  for (const d of e.esp32) out.push(`esp32: ${d.port} ${d.chip} (${d.vid}:${d.pid}${d.product ? `, "${d.product}"` : ''})`);
  return out;
}

/** Edge devices for `status`: lines to print (none on an ordinary machine) and the JSON value. */
export async function edgeReport(env: NodeJS.ProcessEnv = process.env): Promise<{ lines: string[]; json: EdgeStatus }> {
  const e = await edgeStatus(await probeFromEnv(env));
  return { lines: edgeLines(e), json: e };
}
