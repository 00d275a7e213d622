// devices.<name>: edge devices as desired state. type esp32 (esp32.ts): firmware on a board over USB
// serial, verified by the flash's MD5. type jetson (jetson.ts): this Jetson's camera service, CSI
// cameras and Docker's default runtime. Providers (esptool-js, serialport) load only inside read/apply.
import type { Kind } from '../../core/kind.js';
import { applyEsp32, planEsp32, readEsp32Device, type Esp32Actual } from './esp32.js';
import { applyJetson, planJetson, readJetsonDevice, type JetsonActual } from './jetson.js';
import { layoutDiagnostics, normalizeDevice, type DeviceSpec, type Esp32Spec, type JetsonSpec } from './spec.js';
import type { Target } from '../../core/kind.js';

type DeviceActual = Esp32Actual | JetsonActual;

const typeOf = (t: Target<DeviceSpec>) => t.desired?.spec.type ?? (t.prior?.data as { type?: string } | undefined)?.type ?? 'esp32';

export const devicesKind: Kind<DeviceSpec, DeviceActual> = {
  section: 'devices',
  order: 50,
  schema: 'devices.schema.json',
  normalize: (spec, name, ctx) => normalizeDevice(spec, name, ctx),
  // esptool's layout rules (overlap, shared sector, alignment, flash size, bootloader offset): validate and plan refuse
  check: async (r, ctx) => (r.spec.type === 'esp32' ? layoutDiagnostics(r.address, r.spec, ctx) : []),
  inputs: (r) => (r.spec.type === 'esp32' ? r.spec.images.map((i) => i.file).filter((f): f is string => f !== null) : []),

  read: (ctx, t) => (typeOf(t) === 'jetson' ? readJetsonDevice(ctx, t as Target<JetsonSpec>) : readEsp32Device(ctx, t as Target<Esp32Spec>)),

  plan: (t, a, ctx) => (a.type === 'jetson' ? planJetson(t as Target<JetsonSpec>, a, ctx) : planEsp32(t as Target<Esp32Spec>, a, ctx)),

  apply: (ctx, t, a, planned) => (a.type === 'jetson' ? applyJetson(ctx, t as Target<JetsonSpec>, a, planned) : applyEsp32(ctx, t as Target<Esp32Spec>, a, planned)),

  describe(_t, a) {
    if (a.type === 'jetson') {
      if (a.error || !a.jetson) return [a.error ?? 'not a Jetson'];
      const cams = (a.cameras ?? []).filter((c) => c.csi).map((c) => `${c.device} ${c.name}`);
      return [`L4T ${a.jetson.l4t ?? '?'}`, `nvargus-daemon ${a.nvargus?.enabled}/${a.nvargus?.active}`, `cameras: ${cams.join(', ') || 'none'}`, `default-runtime ${a.daemon?.defaultRuntime ?? '(unset)'}`];
    }
    if (a.error) return [a.error];
    return [`${a.chip} on ${a.port}`, ...(a.mac ? [`MAC ${a.mac}`] : []), ...a.regions.filter((r) => r.role !== 'config').map((r) => `${r.role} ${r.blank ? 'blank' : r.have === r.want ? 'verified' : 'differs'}`)];
  },
};
