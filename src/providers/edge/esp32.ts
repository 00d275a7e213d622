// An ESP32 over USB serial, through esptool-js (Espressif's ROM-bootloader client) on node's serialport:
// connect (DTR/RTS reset into download mode, SYNC), identify the chip, start the flasher stub, ask the MD5
// of flash regions, write images compressed, verify the whole board by MD5, hard-reset into the app.
// esptool-js does the connect, the chip detection, the stub upload and single commands; the write loop is
// ours (esptool's own: each deflate block sent as it is, the next one as soon as the previous is
// acknowledged), because the library's writeFlash inflates every block on the host to count bytes.
//
// One session per apply: when an apply will follow at once (--auto-approve), the plan's read leaves its
// session open for a moment (IDLE_MS); the apply's re-read and write borrow it, so the board is connected
// to once and the stub uploaded once. A session nobody borrows is reset into the app and closed. A plan
// on its own (or an apply that asks first) resets and closes right after its read.
//
// Contracts:
//  - readEsp32 changes nothing in flash. It leaves the board reset into its app (after IDLE_MS).
//  - flashEsp32 either leaves every region written and the whole board MD5-verified after the last
//    write, or throws a FlashError saying what it was doing and where (a VerifyError for a region whose
//    MD5 differs after the writes: its range and both digests).
//  - Every failure names the port, what was being done, and the recovery; no library message alone.
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { NodeWebSerialPort } from './serial-port.js';

/** The ROM's own speed: every session starts here, then the stub switches to the declared baud. */
export const ROM_BAUD = 115200;

export interface Esp32Link {
  /** Serial device path (/dev/ttyACM0…). */
  port: string;
  /** USB ids when known (hex strings), for the USB-Serial/JTAG reset sequence. */
  vid?: string;
  pid?: string;
}

export interface Region {
  offset: number;
  size: number;
}

export interface Esp32Reading {
  /** Chip as esptool names it, normalised: esp32s3, esp32c3, esp32… */
  chip: string;
  mac: string | null;
  /** MD5 of each asked region, in order; null when the chip is not the expected one (not asked). */
  md5: (string | null)[];
}

export interface FlashImage {
  /** bootloader, partition_table, firmware, config (named in errors). */
  role: string;
  /** Holds secret values (the config document): its digests are never printed. */
  sensitive?: boolean;
  offset: number;
  /** Bytes as they go to flash (padded to 4 bytes with 0xFF, as esptool pads). */
  data: Uint8Array;
  md5: string;
}

export class FlashError extends Error {
  constructor(
    message: string,
    /** Where writing stopped (the board is half-flashed), or null when nothing was written. */
    readonly offset: number | null,
  ) {
    super(message);
  }
}

/** After the last write, a region's MD5 on the board is not the image's. */
export class VerifyError extends FlashError {}

/** `ESP32-S3` → `esp32s3`. */
export function chipId(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** esptool pads every image to a multiple of 4 bytes with 0xFF; the flashed region's MD5 covers that. */
export function padImage(data: Uint8Array): Uint8Array {
  const rem = data.length % 4;
  if (!rem) return data;
  const out = new Uint8Array(data.length + 4 - rem).fill(0xff);
  out.set(data);
  return out;
}

export function md5Of(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

type Loader = import('esptool-js').ESPLoader;

/** How long a read's session waits for the apply that may follow before it resets the board and closes. */
const IDLE_MS = 500;
const OP_CHANGE_BAUDRATE = 0x0f;
const OP_FLASH_DEFL_DATA = 0x11;
const OP_SPI_SET_PARAMS = 0x0b;
const CHIP_MAGIC_REG = 0x40001000;
const RECOVER = 'hold BOOT, press RESET, then try again';

class Session {
  chip = '';
  mac: string | null = null;
  stub = false;
  baud = ROM_BAUD;
  attached = 0;
  closed = false;
  idle: NodeJS.Timeout | null = null;
  /**
   * MD5s read in this session, by `offset:size`. The port is held open (and locked) from the read to the
   * write, so nothing else can change the flash meanwhile: the apply's re-read costs no second pass over
   * the flash. Any write clears it.
   */
  readings = new Map<string, string>();
  constructor(
    readonly link: Esp32Link,
    readonly loader: Loader,
    readonly port: NodeWebSerialPort,
  ) {}
}

const pool = new Map<string, Session>();

async function open(link: Esp32Link, baud: number): Promise<Session> {
  const { ESPLoader, Transport } = await import('esptool-js');
  const ids = link.vid && link.pid ? { usbVendorId: parseInt(link.vid, 16), usbProductId: parseInt(link.pid, 16) } : {};
  const port = new NodeWebSerialPort(link.port, ids);
  const transport = new Transport(port as unknown as ConstructorParameters<typeof Transport>[0], false);
  // The transport traces a few events to the console even when tracing is off: this is a CLI, keep them.
  transport.trace = () => {};
  const quiet = { clean: () => {}, write: () => {}, writeLine: () => {} };
  const loader = new ESPLoader({ transport, baudrate: baud, romBaudrate: ROM_BAUD, terminal: quiet });
  const s = new Session(link, loader, port);
  try {
    await loader.connect('default_reset', 3, true);
  } catch (err) {
    await close(s);
    const why = (err as Error).message;
    if (why.startsWith('cannot open ')) throw new Error(/permission denied/i.test(why) ? `${why} (add yourself to the dialout group: docs/edge.md)` : why);
    throw new Error(`no answer from an ESP32 bootloader on ${link.port}: ${firstLine(why)}${hint(s)}`);
  }
  s.chip = chipId(loader.chip.CHIP_NAME);
  try {
    s.mac = await loader.chip.readMac(loader);
  } catch {
    s.mac = null;
  }
  return s;
}

/** A library failure in the user's words: the port, what was being done, and the recovery. */
function trouble(s: Session, doing: string, err: unknown, aborted = false): string {
  const msg = firstLine((err as Error).message);
  if (aborted) return `interrupted while ${doing} on ${s.link.port}`;
  // esptool-js's "Serial data stream stopped" / "Timeout": nothing came back in time
  if (/stream stopped|time(d)? ?out/i.test(msg)) return `the ESP32 on ${s.link.port} stopped answering while ${doing}${hint(s)}`;
  return `the ESP32 on ${s.link.port} failed while ${doing} (${msg})${hint(s)}`;
}

function firstLine(msg: string): string {
  return msg.split('\n')[0]!.trim().replace(/\.$/, '');
}

function hint(s: Session): string {
  return s.port.signalsUnsupported ? ` (this port cannot drive DTR/RTS: ${RECOVER})` : ` (${RECOVER}; if it still does not answer, unplug and replug it)`;
}

/** A session for this port: the one a read left open, or a new connection. */
async function borrow(link: Esp32Link, baud: number): Promise<Session> {
  const s = pool.get(link.port);
  if (s && !s.closed) {
    pool.delete(link.port);
    if (s.idle) clearTimeout(s.idle);
    s.idle = null;
    return s;
  }
  return open(link, baud);
}

/** Keep the session for the apply that may follow; reset the board and close it if none does. */
function release(s: Session): void {
  if (s.closed) return;
  pool.set(s.link.port, s);
  s.idle = setTimeout(() => {
    if (pool.get(s.link.port) === s) pool.delete(s.link.port);
    void finish(s);
  }, IDLE_MS);
}

async function close(s: Session): Promise<void> {
  if (s.closed) return;
  s.closed = true;
  try {
    await s.loader.transport.disconnect();
  } catch {
    await s.port.close();
  }
}

/** Reset into the app (DTR/RTS, where the port has them) and close. */
async function finish(s: Session): Promise<void> {
  if (s.closed) return;
  try {
    await s.loader.after('hard_reset', false);
  } catch {
    // a board that stopped answering: closing is all that is left
  }
  await close(s);
}

/**
 * Get the session ready: with `stub`, start the flasher stub (once per session) and switch to `baud`;
 * then attach the flash and give its geometry (esptool's flash_spi_attach + flash_set_parameters), again
 * when the stub has replaced the ROM.
 */
async function ready(s: Session, o: { stub: boolean; baud: number; flashSize: number }): Promise<void> {
  // a board still running the stub of an earlier session answers as the stub: runStub just says so
  const stubRunning = (s.loader as unknown as { syncStubDetected?: boolean }).syncStubDetected === true;
  if ((o.stub || stubRunning) && !s.stub) {
    await s.loader.runStub();
    s.stub = true;
    s.attached = 0;
  }
  if (o.baud !== s.baud) {
    // esptool's change_baud: the command, the host's port, 50 ms, drop what arrived meanwhile
    const pkt = new Uint8Array(8);
    new DataView(pkt.buffer).setUint32(0, o.baud, true);
    new DataView(pkt.buffer).setUint32(4, s.stub ? s.baud : 0, true);
    await s.loader.command(OP_CHANGE_BAUDRATE, pkt);
    await s.loader.transport.changeBaudrate(o.baud);
    await new Promise((r) => setTimeout(r, 50));
    s.loader.transport.flushInput();
    s.baud = o.baud;
  }
  if (s.attached !== o.flashSize) {
    await s.loader.flashSpiAttach(0);
    const words = [0, o.flashSize, 64 * 1024, 4 * 1024, 256, 0xffff];
    const pkt = new Uint8Array(words.length * 4);
    const view = new DataView(pkt.buffer);
    words.forEach((w, i) => view.setUint32(i * 4, w, true));
    await s.loader.checkCommand('set SPI params', OP_SPI_SET_PARAMS, pkt);
    s.attached = o.flashSize;
  }
}

/** The stub answers SPI_FLASH_MD5 with 16 raw bytes (hex here); the ROM with 32 ASCII hex digits. */
function md5Text(v: string): string {
  return v.length === 64 ? Buffer.from(v, 'hex').toString('latin1').toLowerCase() : v.toLowerCase();
}

async function regionMd5(s: Session, r: Region): Promise<string> {
  return md5Text(await s.loader.flashMd5sum(r.offset, r.size));
}

const span = (r: { offset: number; size: number }) => `${hex(r.offset)}–${hex(r.offset + r.size)}`;

/**
 * Connect (or borrow the session a read left), identify, and when the chip is `expectChip` read the MD5 of
 * each region. The session stays open for IDLE_MS for an apply; then the board is reset into its app.
 */
export async function readEsp32(link: Esp32Link, o: { expectChip: string; baud: number; regions: (Region & { role?: string })[]; flashSize: number; keepOpen: boolean }): Promise<Esp32Reading> {
  const s = await borrow(link, o.baud);
  if (s.chip !== o.expectChip) {
    await finish(s);
    return { chip: s.chip, mac: s.mac, md5: o.regions.map(() => null) };
  }
  let doing = 'attaching the flash';
  try {
    // The ROM answers SPI_FLASH_MD5 itself (esptool --no-stub verify_flash does the same): a read needs
    // no stub and no faster baud (a few bytes each way); the stub is uploaded when something is written.
    await ready(s, { stub: false, baud: s.baud, flashSize: o.flashSize });
    const md5: string[] = [];
    for (const r of o.regions) {
      doing = `reading the MD5 of ${r.role ?? 'the region'} at ${span(r)}`;
      const key = `${r.offset}:${r.size}`;
      const got = s.readings.get(key) ?? (await regionMd5(s, r));
      s.readings.set(key, got);
      md5.push(got);
    }
    if (o.keepOpen) release(s);
    else await finish(s);
    return { chip: s.chip, mac: s.mac, md5 };
  } catch (err) {
    await finish(s);
    throw new Error(`${trouble(s, doing, err)}; nothing was written`);
  }
}

export interface FlashOptions {
  expectChip: string;
  baud: number;
  flashSize: number;
  images: FlashImage[];
  /** Every region the manifest declares (written now or not): all are MD5-checked after the last write. */
  verify: (FlashImage & { size?: number })[];
  /** Bytes written so far of all images (estimated from the compressed bytes acknowledged). */
  progress?: (done: number, total: number) => void;
  /** Ctrl-C: the port is closed, the write stops, and the error says where, like any failed write. */
  signal?: AbortSignal;
}

/**
 * Write the images compressed (esptool's write loop), then verify every declared region by MD5 (a later
 * write that erased part of an earlier region is caught), then hard-reset into the app.
 */
export async function flashEsp32(link: Esp32Link, o: FlashOptions): Promise<void> {
  const s = await borrow(link, o.baud);
  let at: number | null = null;
  let doing = 'starting the flasher stub';
  const stop = () => void s.port.close();
  o.signal?.addEventListener('abort', stop, { once: true });
  try {
    if (s.chip !== o.expectChip) throw new FlashError(`${link.port} is an ${s.chip}, not the declared ${o.expectChip}; nothing was written`, null);
    await ready(s, { stub: true, baud: o.baud, flashSize: o.flashSize });
    s.readings.clear();
    const total = o.images.reduce((n, i) => n + i.data.length, 0);
    let before = 0;
    const loader = s.loader;
    for (const img of o.images) {
      const packed = deflateSync(img.data, { level: 9 });
      const blockSize = loader.FLASH_WRITE_SIZE;
      const blocks = Math.ceil(packed.length / blockSize);
      const ratio = img.data.length / packed.length;
      at = img.offset;
      doing = `erasing for ${img.role} at ${span({ offset: img.offset, size: img.data.length })}`;
      await loader.flashDeflBegin(img.data.length, packed.length, img.offset);
      for (let seq = 0; seq < blocks; seq++) {
        const block = packed.subarray(seq * blockSize, (seq + 1) * blockSize);
        const estimate = Math.min(img.data.length, Math.round(seq * blockSize * ratio));
        at = img.offset + estimate;
        doing = `writing ${img.role} at ${span({ offset: img.offset, size: img.data.length })} (block ${seq + 1} of ${blocks}, about ${hex(at)})`;
        const pkt = new Uint8Array(16 + block.length);
        const view = new DataView(pkt.buffer);
        view.setUint32(0, block.length, true);
        view.setUint32(4, seq, true);
        pkt.set(block, 16);
        // esptool's per-block timeout: the stub acknowledges a block, then erases and writes it while the
        // next one arrives; its uncompressed size is estimated from the ratio (no inflate on the host)
        const timeout = Math.max(3000, loader.timeoutPerMb(loader.ERASE_WRITE_TIMEOUT_PER_MB, block.length * ratio));
        await loader.checkCommand(`write compressed data to flash after seq ${seq}`, OP_FLASH_DEFL_DATA, pkt, loader.checksum(block), undefined, timeout);
        o.progress?.(before + Math.min(img.data.length, Math.round((seq + 1) * blockSize * ratio)), total);
      }
      // the stub answers a register read once the last block is in flash (esptool does the same)
      doing = `finishing ${img.role} at ${span({ offset: img.offset, size: img.data.length })}`;
      await loader.readReg(CHIP_MAGIC_REG, Math.max(3000, loader.timeoutPerMb(loader.ERASE_WRITE_TIMEOUT_PER_MB, blockSize * ratio)));
      before += img.data.length;
    }
    if (o.images.length) {
      doing = 'leaving flash mode';
      await loader.flashBegin(0, 0);
      await loader.flashDeflFinish(false);
    }
    at = null;
    const wrong: string[] = [];
    for (const r of o.verify) {
      doing = `verifying ${r.role} at ${span({ offset: r.offset, size: r.data.length })}`;
      const got = await regionMd5(s, { offset: r.offset, size: r.data.length });
      const where = `${r.role} at ${span({ offset: r.offset, size: r.data.length })}`;
      if (got !== r.md5) wrong.push(r.sensitive ? `${where} differs on the board from the document written (its digests are not shown: it holds secrets)` : `${where} has MD5 ${got} on the board, not the image's ${r.md5}`);
    }
    if (wrong.length) {
      throw new VerifyError(`verification after the last write failed: ${wrong.join('; ')}`, null);
    }
    await finish(s);
  } catch (err) {
    await finish(s);
    if (err instanceof FlashError) throw err;
    throw new FlashError(trouble(s, doing, err, o.signal?.aborted), at);
  } finally {
    o.signal?.removeEventListener('abort', stop);
  }
}
