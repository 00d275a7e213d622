// An ESP32 over USB serial, through esptool-js (Espressif's ROM-bootloader client) on node's serialport:
// connect (DTR/RTS reset into download mode, SYNC), identify the chip, start the flasher stub, ask the MD5
// of flash regions, write images (compressed), verify them by MD5, hard-reset into the app. The ROM
// protocol itself is the library's; this file only sequences its calls and words the failures.
//
// Contracts:
//  - readEsp32 changes nothing in flash. It leaves the board reset into its app.
//  - flashEsp32 either leaves every image written and MD5-verified, or throws a FlashError naming the
//    flash offset where writing stopped (the board is then half-flashed and says so).
import { createHash } from 'node:crypto';
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
  offset: number;
  /** Bytes as they go to flash (padded to 4 bytes with 0xFF, as esptool pads). */
  data: Uint8Array;
  md5: string;
}

export class FlashError extends Error {
  constructor(
    message: string,
    readonly offset: number | null,
  ) {
    super(message);
  }
}

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

interface Session {
  loader: Loader;
  port: NodeWebSerialPort;
  /** The loader's info lines (kept for error messages; never printed as they come). */
  lines: string[];
}

async function open(link: Esp32Link, baud: number): Promise<Session> {
  const { ESPLoader, Transport } = await import('esptool-js');
  const ids = link.vid && link.pid ? { usbVendorId: parseInt(link.vid, 16), usbProductId: parseInt(link.pid, 16) } : {};
  const port = new NodeWebSerialPort(link.port, ids);
  const transport = new Transport(port as unknown as ConstructorParameters<typeof Transport>[0], false);
  // The transport traces a few events to the console even when tracing is off: this is a CLI, keep them.
  transport.trace = () => {};
  const lines: string[] = [];
  const terminal = { clean: () => {}, write: (s: string) => void lines.push(s), writeLine: (s: string) => void lines.push(s) };
  const loader = new ESPLoader({ transport, baudrate: baud, romBaudrate: ROM_BAUD, terminal });
  return { loader, port, lines };
}

async function connect(s: Session, link: Esp32Link): Promise<string> {
  try {
    await s.loader.connect('default_reset', 3, true);
  } catch (err) {
    await close(s);
    const why = (err as Error).message;
    if (why.startsWith('cannot open ')) throw new Error(/permission denied/i.test(why) ? `${why} (add yourself to the dialout group: docs/edge.md)` : why);
    const noReset = s.port.signalsUnsupported ? ' (this port cannot drive DTR/RTS: hold BOOT, press RESET, then try again)' : ' (hold BOOT and press RESET to enter download mode, then try again)';
    throw new Error(`no answer from an ESP32 bootloader on ${link.port}: ${why}${noReset}`);
  }
  return chipId(s.loader.chip.CHIP_NAME);
}

async function close(s: Session): Promise<void> {
  try {
    await s.loader.transport.disconnect();
  } catch {
    await s.port.close();
  }
}

/** Attach the SPI flash and tell the ROM/stub its geometry (esptool's flash_spi_attach + flash_set_parameters). */
async function attachFlash(loader: Loader, flashSize: number): Promise<void> {
  await loader.flashSpiAttach(0);
  const words = [0, flashSize, 64 * 1024, 4 * 1024, 256, 0xffff];
  const pkt = new Uint8Array(words.length * 4);
  const view = new DataView(pkt.buffer);
  words.forEach((w, i) => view.setUint32(i * 4, w, true));
  await loader.checkCommand('set SPI params', 0x0b, pkt);
}

/** The stub answers SPI_FLASH_MD5 with 16 raw bytes (hex here); the ROM with 32 ASCII hex digits. */
function md5Text(v: string): string {
  return v.length === 64 ? Buffer.from(v, 'hex').toString('latin1').toLowerCase() : v.toLowerCase();
}

async function hardReset(s: Session): Promise<void> {
  await s.loader.after('hard_reset', false);
}

/**
 * Connect, identify, and (when the chip is `expectChip`) read the MD5 of each region. The board is
 * reset into its app afterwards.
 */
export async function readEsp32(link: Esp32Link, o: { expectChip: string; regions: Region[]; flashSize: number }): Promise<Esp32Reading> {
  const s = await open(link, ROM_BAUD);
  const chip = await connect(s, link);
  try {
    let mac: string | null = null;
    try {
      mac = await s.loader.chip.readMac(s.loader);
    } catch {
      mac = null;
    }
    if (chip !== o.expectChip) {
      await hardReset(s);
      return { chip, mac, md5: o.regions.map(() => null) };
    }
    await s.loader.runStub();
    await attachFlash(s.loader, o.flashSize);
    const md5: string[] = [];
    for (const r of o.regions) md5.push(md5Text(await s.loader.flashMd5sum(r.offset, r.size)));
    await hardReset(s);
    return { chip, mac, md5 };
  } finally {
    await close(s);
  }
}

export interface FlashOptions {
  expectChip: string;
  baud: number;
  flashSize: number;
  images: FlashImage[];
  /** Bytes written so far of all images (uncompressed offsets are named in errors). */
  progress?: (done: number, total: number) => void;
  /** Ctrl-C: the port is closed, the write stops, and the error names the offset like any failed write. */
  signal?: AbortSignal;
}

/** Write the images (compressed), verify each by MD5, hard-reset into the app. */
export async function flashEsp32(link: Esp32Link, o: FlashOptions): Promise<void> {
  const s = await open(link, o.baud);
  const chip = await connect(s, link);
  let at: number | null = null;
  const stop = () => void s.port.close();
  o.signal?.addEventListener('abort', stop, { once: true });
  try {
    if (chip !== o.expectChip) throw new FlashError(`${link.port} is an ${chip}, not the declared ${o.expectChip}; nothing was written`, null);
    await s.loader.runStub();
    if (o.baud !== ROM_BAUD) await s.loader.changeBaud();
    await attachFlash(s.loader, o.flashSize);
    const total = o.images.reduce((n, i) => n + i.data.length, 0);
    let before = 0;
    for (const img of o.images) {
      at = img.offset;
      s.lines.length = 0;
      await s.loader.writeFlash({
        fileArray: [{ data: img.data, address: img.offset }],
        flashMode: 'keep',
        flashFreq: 'keep',
        flashSize: 'keep',
        eraseAll: false,
        compress: true,
        reportProgress: (_i, written, compressed) => {
          // the library counts compressed bytes; scale them to the image's size for the total
          const done = compressed ? Math.round((written / compressed) * img.data.length) : 0;
          at = img.offset + done;
          o.progress?.(before + done, total);
        },
        calculateMD5Hash: (image) => md5Of(image),
      });
      before += img.data.length;
      at = null;
    }
    await hardReset(s);
  } catch (err) {
    if (err instanceof FlashError) throw err;
    const where = s.lines.map((l) => /Writing at (0x[0-9a-f]+)/i.exec(l)?.[1]).filter(Boolean).pop();
    const offset = where ? parseInt(where, 16) : at;
    const msg = (err as Error).message.split('\n')[0]!.replace(/\.\s*$/, '');
    throw new FlashError(offset === null ? msg : `write failed at offset ${hex(offset)}: ${msg}`, offset);
  } finally {
    o.signal?.removeEventListener('abort', stop);
    await close(s);
  }
}
