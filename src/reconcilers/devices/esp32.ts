// devices.<name> with type esp32: read the board through its ROM bootloader (chip, MD5 of each declared
// region), plan a flash where an MD5 differs, apply by writing (compressed) and verifying.
import path from 'node:path';
import type { PlanContext, RunContext, Target } from '../../core/kind.js';
import { ownedAfter } from '../../core/ownership.js';
import type { ApplyResult, PlanResult } from '../../core/types.js';
import type { FlashImage } from '../../providers/edge/esp32.js';
import { formatBytes } from '../../providers/models/transfer-progress.js';
import { configBlob, FLASH_SIZES, layoutProblems, type Esp32Spec } from './spec.js';

export interface Region {
  role: string;
  offset: number;
  /** Bytes compared (the image padded to 4), or null when the image is not downloaded yet. */
  size: number | null;
  /** MD5 of the image, null when unknown (not downloaded). */
  want: string | null;
  /** MD5 of the same range on the board, null when not read. */
  have: string | null;
  /** The board's range is all 0xFF. */
  blank: boolean;
  /** Why `want` is unknown. */
  missing?: string;
}

export interface Esp32Actual {
  type: 'esp32';
  port: string | null;
  chip: string | null;
  mac: string | null;
  error: string | null;
  regions: Region[];
}

export interface Esp32State {
  type: 'esp32';
  port: string;
  chip: string;
  images: { role: string; offset: number; md5: string }[];
}

const short = (md5: string) => `${md5.slice(0, 4)}…`;

async function resolvePort(ctx: RunContext, spec: Esp32Spec): Promise<{ port: string; vid?: string; pid?: string }> {
  if (spec.port !== 'auto') return { port: spec.port };
  const { probeFromEnv } = await import('../../providers/hardware/probe.js');
  const { detectSerial } = await import('../../providers/hardware/detect.js');
  const p = await probeFromEnv(ctx.env);
  const found = await detectSerial(p);
  if (found.length !== 1) {
    const list = found.map((d) => `${d.port} (${d.vid}:${d.pid})`).join(', ');
    throw new Error(found.length ? `port: auto found ${found.length} ESP32 boards (${list}); name one as port:` : 'port: auto found no ESP32 board on USB (plug it in, or name the port)');
  }
  return { port: path.join(p.root, found[0]!.port), vid: found[0]!.vid, pid: found[0]!.pid };
}

/** The images (and config blob) as they would be written; URL images not yet fetched are `missing`. */
async function wanted(ctx: RunContext, t: Target<Esp32Spec>, spec: Esp32Spec, fetch: boolean) {
  const { loadImage, fetchImage } = await import('../../providers/edge/firmware.js');
  const { md5Of, padImage } = await import('../../providers/edge/esp32.js');
  const { Progress } = await import('../../providers/models/transfer-progress.js');
  const root = path.join(ctx.home.root, 'cache');
  const out = [];
  for (const src of spec.images) {
    out.push(fetch ? await fetchImage(src, root, { signal: ctx.signal, progress: new Progress({ tty: ctx.tty, log: (l) => ctx.log(t.address, l) }) }) : await loadImage(src, root));
  }
  if (spec.config) {
    const data = padImage(configBlob(spec.config, ctx.env));
    out.push({ role: 'config', offset: spec.config.offset, data, md5: md5Of(data), sha256: null });
  }
  return out;
}

export async function readEsp32Device(ctx: RunContext, t: Target<Esp32Spec>): Promise<Esp32Actual> {
  const spec = t.desired?.spec;
  const prior = t.prior?.data as Esp32State | undefined;
  if (!spec) return { type: 'esp32', port: prior?.port ?? null, chip: prior?.chip ?? null, mac: null, error: null, regions: [] };
  const { readEsp32, md5Of } = await import('../../providers/edge/esp32.js');
  const base = { type: 'esp32' as const, port: null as string | null, chip: null as string | null, mac: null as string | null };
  try {
    const images = await wanted(ctx, t, spec, false);
    const link = await resolvePort(ctx, spec);
    base.port = link.port;
    const sized = images.map((i) => ({ role: i.role, offset: i.offset, size: 'data' in i ? i.data.length : null, want: 'data' in i ? i.md5 : null, ...('missing' in i ? { missing: i.missing } : {}) }));
    const regions = sized.filter((r) => r.size !== null).map((r) => ({ role: r.role, offset: r.offset, size: r.size! }));
    // an apply that will not stop to ask (--auto-approve) reuses this connection for its write
    const keepOpen = ctx.flags.autoApprove === true;
    const reading = await readEsp32(link, { expectChip: spec.chip, baud: spec.baud, regions, flashSize: FLASH_SIZES[spec.flash_size]!, keepOpen });
    let k = 0;
    const out: Region[] = sized.map((r) => {
      const have = r.size === null ? null : (reading.md5[k++] ?? null);
      return { ...r, have, blank: r.size !== null && have === md5Of(new Uint8Array(r.size).fill(0xff)) };
    });
    return { ...base, chip: reading.chip, mac: reading.mac, error: null, regions: out };
  } catch (err) {
    return { ...base, error: (err as Error).message, regions: [] };
  }
}

function seconds(bytes: number, baud: number): number {
  return Math.max(1, Math.round((bytes * 10) / baud));
}

function display(a: Esp32Actual, pick: (r: Region) => string | null, ctx: PlanContext, chip: string | null) {
  const out: Record<string, unknown> = { chip, port: a.port };
  for (const r of a.regions) {
    const v = pick(r);
    out[r.role] = v === '(blank)' || v === null ? v : r.role === 'config' ? { $sensitive: ctx.fingerprint(v), $summary: 'config partition' } : short(v);
  }
  return out;
}

export function planEsp32(t: Target<Esp32Spec>, a: Esp32Actual, ctx: PlanContext): PlanResult {
  const spec = t.desired?.spec;
  if (!spec) return { action: 'no-op', reason: 'not declared any more (the board keeps its firmware)', before: null, after: null };
  if (a.error) {
    return { action: 'no-op', reason: 'the board cannot be read', before: null, after: null, diagnostics: [{ severity: 'error', address: t.address, summary: a.error }] };
  }
  const before = display(a, (r) => (r.blank ? '(blank)' : r.have), ctx, a.chip);
  if (a.chip !== spec.chip) {
    return {
      action: 'no-op',
      reason: 'wrong chip',
      before,
      after: before,
      diagnostics: [{ severity: 'error', address: t.address, summary: `the board on ${a.port} is an ${a.chip}, not the declared ${spec.chip}`, detail: 'check the port (or port: auto) and the chip: in the manifest; nothing will be written to it' }],
    };
  }
  const changed = a.regions.filter((r) => r.want === null || r.have !== r.want);
  if (!changed.length) {
    const what = a.regions.map((r) => (r.role === 'config' ? 'config' : `${r.role} ${short(r.have!)}`)).join(', ');
    return { action: 'no-op', reason: `${what} verified by MD5 on ${a.port}`, before, after: before };
  }
  const words = changed.map((r) => {
    if (r.role === 'config') return 'config partition differs';
    const from = r.blank ? '(blank)' : r.have ? short(r.have) : '(not compared)';
    const to = r.want ? short(r.want) : '(to download)';
    const size = r.size !== null ? ` (${formatBytes(r.size)}, ~${seconds(r.size, spec.baud)} s at ${spec.baud} baud)` : ` (${r.missing})`;
    return `${r.role} ${from} -> ${to}${size}`;
  });
  const after = display(a, (r) => r.want, ctx, spec.chip);
  return { action: 'update', reason: words.join('; '), before, after, verb: 'flashed' };
}

export async function applyEsp32(ctx: RunContext, t: Target<Esp32Spec>, a: Esp32Actual, planned: PlanResult): Promise<ApplyResult> {
  const spec = t.desired?.spec;
  if (!spec || planned.action === 'no-op') return { outcome: 'unchanged', state: t.prior ?? null };
  const { flashEsp32, FlashError, VerifyError, hex } = await import('../../providers/edge/esp32.js');
  const { Progress, bar } = await import('../../providers/models/transfer-progress.js');
  const log = (l: string) => ctx.log(t.address, l);
  const all = await wanted(ctx, t, spec, true);
  const todo = new Set(a.regions.filter((r) => r.want === null || r.have !== r.want).map((r) => r.role));
  const loaded: FlashImage[] = all.filter((i): i is Extract<typeof i, { data: Uint8Array }> => 'data' in i).map((i) => ({ role: i.role, offset: i.offset, data: i.data, md5: i.md5, sensitive: i.role === 'config' }));
  const images = loaded.filter((i) => todo.has(i.role));
  // the layout again, with the sizes of images downloaded just now (validate knew only the local files)
  const problems = layoutProblems(spec.chip, FLASH_SIZES[spec.flash_size]!, loaded.map((i) => ({ role: i.role, offset: i.offset, size: i.data.length })));
  if (problems.length) throw new Error(`${problems.map((p) => p.message).join('; ')} (esptool's layout rules, docs/edge.md); nothing was written`);
  const link = await resolvePort(ctx, spec);
  const progress: { update(done: number, total: number, label: string, force?: boolean): void; end?(): void } = ctx.tty ? oneLine(t.address, bar) : new Progress({ tty: false, log });
  try {
    await flashEsp32(link, {
      expectChip: spec.chip,
      baud: spec.baud,
      flashSize: FLASH_SIZES[spec.flash_size]!,
      images,
      verify: loaded,
      signal: ctx.signal,
      progress: (done, total) => progress.update(done, total, 'flashing', done === 0 || done === total),
    });
  } catch (err) {
    progress.end?.();
    const retry = `pmoves mini edge flash --device ${t.name}`;
    if (err instanceof VerifyError) throw new Error(`${err.message}; the board on ${link.port} will not boot as declared. Retry: ${retry} (the next plan shows which regions differ)`);
    const half = err instanceof FlashError && err.offset !== null;
    throw new Error(
      half
        ? `${(err as Error).message}; the board on ${link.port} is half-flashed and will not boot this image. Retry: ${retry} (if it does not answer, hold BOOT and press RESET first)`
        : `${(err as Error).message}. Retry: ${retry}`,
    );
  }
  progress.end?.();
  const roles = new Map(all.map((i) => [i.offset, i.role] as const));
  const verified = loaded.map((i) => (roles.get(i.offset) === 'config' ? `config at ${hex(i.offset)}` : `${hex(i.offset)} ${short(i.md5)}`)).join(', ');
  log(`wrote ${images.map((i) => `${i.role} at ${hex(i.offset)}`).join(', ')}; verified the whole board by MD5 after the last write: ${verified}; reset into the app`);
  const state: Esp32State = {
    type: 'esp32',
    port: link.port,
    chip: spec.chip,
    images: all.filter((i): i is Extract<typeof i, { data: Uint8Array }> => 'data' in i && i.role !== 'config').map((i) => ({ role: i.role, offset: i.offset, md5: i.md5 })),
  };
  return { outcome: 'updated', state: { section: 'devices', owned: ownedAfter(t.prior, false), digest: ctx.digest(JSON.stringify(all.map((i) => ('md5' in i ? i.md5 : '')))), data: state } };
}

/** On a terminal: one line rewritten in place (`\r`, erase to end of line), ended by the next log line. */
function oneLine(address: string, bar: (done: number, total: number) => string) {
  let last = '';
  let open = false;
  return {
    update(done: number, total: number | undefined, label: string) {
      const text = `${address}: ${label} ${bar(done, total ?? 0)} ${formatBytes(done)}/${formatBytes(total ?? 0)}`;
      if (text === last) return;
      last = text;
      open = true;
      process.stdout.write(`\r${text}\x1b[K`);
    },
    end() {
      if (open) process.stdout.write('\n');
      open = false;
    },
  };
}
