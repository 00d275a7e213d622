// A serial peer that answers as the ROM bootloader of an ESP32-S3, ESP32-C3 or classic ESP32 (and, once
// uploaded, as esptool's flasher stub) over a pseudo-terminal pair made by socat. The host side is a path
// the CLI opens as its serial port; this side speaks SLIP frames: SYNC, READ_REG / WRITE_REG (chip magic,
// efuse MAC, UART divider, and the SPI controller's user commands, so RDID answers a flash id),
// GET_SECURITY_INFO (chip id; a classic ESP32 ROM does not know it), SPI_ATTACH, SPI_SET_PARAMS,
// MEM_BEGIN/DATA/END (stub upload, then "OHAI"), CHANGE_BAUDRATE, FLASH_BEGIN/DATA/END,
// FLASH_DEFL_BEGIN/DATA/END, SPI_FLASH_MD5, READ_FLASH (stub, acknowledged packets and a digest),
// READ_FLASH_SLOW (ROM), ERASE_FLASH / ERASE_REGION (stub). Its flash is a byte array the
// tests read. A write erases whole 4 KiB sectors from the start of the sector, as the stub and ROM do.
// test/esp32-esptool.test.ts checks it against real esptool v4.8.1.
//
// `paced`: bytes cross the wire at the current baud rate (10 bits a byte, both ways), as on a UART; the
// bench uses it, the tests do not.
//
// What a pty cannot carry: the DTR/RTS lines (esptool's reset into download mode, and the hard reset
// into the app). So a SYNC is taken as the start of a session after such a reset: the peer is back in
// its ROM (a stub left running by the previous session is gone), as a real board is after the reset
// pulse. `powerCycle()` is the user pressing RESET on a board that stopped answering.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { inflateSync, constants as zc } from 'node:zlib';
import { SerialPort } from 'serialport';

const CHIPS = {
  esp32s3: { id: 9 as number | null, magic: 0x9, spi: 0x60002000, w0: 0x58, mac: 0x60007044, clkdiv: 0x60000014 },
  esp32c3: { id: 5 as number | null, magic: 0x1b31506f, spi: 0x60002000, w0: 0x58, mac: 0x60008844, clkdiv: 0x60000014 },
  // the classic ESP32's ROM has no GET_SECURITY_INFO (clients fall back to the magic register); its
  // MAC is in efuse words 1 and 2
  esp32: { id: null as number | null, magic: 0x00f01d83, spi: 0x3ff42000, w0: 0x80, mac: 0x3ff5a004, clkdiv: 0x3ff40014 },
};

export type PeerChip = keyof typeof CHIPS;

const MAGIC_REG = 0x40001000;
const SECTOR = 4096;
const SPI_CMD_USR = 1 << 18;
const RDID = 0x9f;
/** Winbond's JEDEC manufacturer id; the capacity byte is log2 of the flash size. */
const FLASH_MANUFACTURER = 0xef;
const FLASH_TYPE = 0x40;
const CHECKSUM_MAGIC = 0xef;

const OP = {
  FLASH_BEGIN: 0x02,
  FLASH_DATA: 0x03,
  FLASH_END: 0x04,
  MEM_BEGIN: 0x05,
  MEM_END: 0x06,
  MEM_DATA: 0x07,
  SYNC: 0x08,
  WRITE_REG: 0x09,
  READ_REG: 0x0a,
  SPI_SET_PARAMS: 0x0b,
  SPI_ATTACH: 0x0d,
  CHANGE_BAUDRATE: 0x0f,
  READ_FLASH_SLOW: 0x0e,
  FLASH_DEFL_BEGIN: 0x10,
  FLASH_DEFL_DATA: 0x11,
  FLASH_DEFL_END: 0x12,
  SPI_FLASH_MD5: 0x13,
  GET_SECURITY_INFO: 0x14,
  ERASE_FLASH: 0xd0,
  ERASE_REGION: 0xd1,
  READ_FLASH: 0xd2,
  RUN_USER_CODE: 0xd3,
} as const;

function slip(payload: Uint8Array): Buffer {
  const out: number[] = [0xc0];
  for (const b of payload) {
    if (b === 0xc0) out.push(0xdb, 0xdc);
    else if (b === 0xdb) out.push(0xdb, 0xdd);
    else out.push(b);
  }
  out.push(0xc0);
  return Buffer.from(out);
}

export class Esp32Peer {
  readonly flash: Uint8Array;
  /** Commands seen, by name (the tests check the stub and compressed writes were used). */
  readonly seen: string[] = [];
  mode: 'rom' | 'stub' = 'rom';
  private silent = false;
  private silentAfter: number | null = null;
  private deflBlocks = 0;
  private regs = new Map<number, number>();
  private frame: number[] | null = null;
  private esc = false;
  private write: { offset: number; blockSize: number; chunks: Buffer[]; written: number; deflate: boolean } | null = null;
  private read: { offset: number; length: number; packet: number; window: number; sent: number; acked: number } | null = null;
  private hang: { op: string; left: number } | null = null;
  private flipAt: number | null = null;
  private extraErase: number | null = null;
  /** Pacing: the wire's baud rate, and when each direction of the wire is next free (ms, monotonic). */
  paced = false;
  private baud = 115200;
  private rxFree = 0;
  private txFree = 0;
  private rxChain: Promise<void> = Promise.resolve();
  private txChain: Promise<void> = Promise.resolve();

  private constructor(
    readonly hostPath: string,
    private readonly socat: ChildProcess,
    private readonly port: SerialPort,
    public chip: PeerChip,
    flashSize: number,
  ) {
    this.flash = new Uint8Array(flashSize).fill(0xff);
    port.on('data', (d: Buffer) => this.receive(d));
  }

  /** A pty pair under `dir`: `dir/ttyESP` is the board's port as the host sees it. */
  static async start(dir: string, o: { chip?: PeerChip; flashSize?: number; paced?: boolean } = {}): Promise<Esp32Peer> {
    const host = path.join(dir, 'ttyESP');
    const peer = path.join(dir, 'ttyPEER');
    const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${peer}`], { stdio: 'ignore' });
    for (let i = 0; i < 200 && !(existsSync(host) && existsSync(peer)); i++) await new Promise((r) => setTimeout(r, 25));
    if (!existsSync(host)) throw new Error('socat did not make the pty pair');
    const port = new SerialPort({ path: peer, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    const flashSize = o.flashSize ?? 4 << 20;
    const p = new Esp32Peer(host, socat, port, o.chip ?? 'esp32s3', flashSize);
    p.paced = Boolean(o.paced);
    return p;
  }

  /** Registers that are not plain storage: the chip's magic, its MAC, its UART divider (a 40 MHz crystal). */
  private register(addr: number): number {
    const c = CHIPS[this.chip];
    if (addr === MAGIC_REG) return c.magic;
    // efuse MAC 7c:df:a1:12:34:56 (the low four bytes, then the high two)
    if (addr === c.mac) return 0xa1123456;
    if (addr === c.mac + 4) return 0x7cdf;
    if (addr === c.clkdiv) return Math.round(40e6 / this.baud);
    return this.regs.get(addr) ?? 0;
  }

  /** The next command of this name is taken in and never answered: the board hung (e.g. 'SPI_FLASH_MD5'). */
  hangOn(op: keyof typeof OP, nth = 1): void {
    this.hang = { op, left: nth };
  }

  /** The next write that covers `addr` leaves one bit flipped there (flash that did not take it). */
  flipBitOnce(addr: number): void {
    this.flipAt = addr;
  }

  /** The next FLASH_(DEFL_)BEGIN also erases the sector at `addr` (a stub or chip that erases too much). */
  eraseAlsoOnce(addr: number): void {
    this.extraErase = addr;
  }

  /** Stop answering after this many compressed data blocks (a board that hung mid-write). */
  goSilentAfter(blocks: number): void {
    this.silentAfter = blocks;
    this.deflBlocks = 0;
  }

  /** RESET pressed: back in the ROM, answering again. */
  powerCycle(): void {
    this.silent = false;
    this.silentAfter = null;
    this.mode = 'rom';
    this.write = null;
    this.read = null;
    this.hang = null;
    this.baud = 115200;
  }

  md5(offset: number, size: number): string {
    return createHash('md5').update(this.flash.subarray(offset, offset + size)).digest('hex');
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.port.isOpen ? this.port.close(() => resolve()) : resolve()));
    this.socat.kill();
  }

  // ---- SLIP in ------------------------------------------------------------------------------------

  private receive(d: Buffer): void {
    if (!this.paced) return this.parse(d);
    const done = Math.max(performance.now(), this.rxFree) + (d.length * 10_000) / this.baud;
    this.rxFree = done;
    this.rxChain = this.rxChain
      .then(async () => {
        const wait = done - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        this.parse(d);
      })
      .catch((err: Error) => void process.stderr.write(`esp32 peer: ${err.stack}\n`));
  }

  private send(bytes: Buffer): void {
    if (!this.paced) {
      this.port.write(bytes);
      return;
    }
    // one queue, in order: each frame leaves when the wire is free and takes its time on it
    const start = Math.max(performance.now(), this.txFree);
    this.txFree = start + (bytes.length * 10_000) / this.baud;
    const due = this.txFree;
    this.txChain = this.txChain.then(async () => {
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      this.port.write(bytes);
    });
  }

  private parse(d: Buffer): void {
    for (const b of d) {
      if (this.frame === null) {
        if (b === 0xc0) this.frame = [];
        continue;
      }
      if (this.esc) {
        this.esc = false;
        this.frame.push(b === 0xdc ? 0xc0 : b === 0xdd ? 0xdb : b);
      } else if (b === 0xdb) this.esc = true;
      else if (b === 0xc0) {
        const f = Buffer.from(this.frame);
        this.frame = f.length ? null : [];
        if (f.length === 4 && this.read) this.readAck(f.readUInt32LE(0));
        else if (f.length) this.command(f);
      } else this.frame.push(b);
    }
  }

  // ---- commands -----------------------------------------------------------------------------------

  private reply(op: number, val: number, data: Uint8Array = new Uint8Array(0), status = 0, error = 0): void {
    const statusBytes = this.mode === 'rom' ? [status, error, 0, 0] : [status, error];
    const body = Buffer.concat([Buffer.from(data), Buffer.from(statusBytes)]);
    const head = Buffer.alloc(8);
    head[0] = 0x01;
    head[1] = op;
    head.writeUInt16LE(body.length, 2);
    head.writeUInt32LE(val >>> 0, 4);
    this.send(slip(Buffer.concat([head, body])));
  }

  private fail(op: number, error: number): void {
    this.reply(op, 0, new Uint8Array(0), 1, error);
  }

  private command(f: Buffer): void {
    if (this.silent || f.length < 8 || f[0] !== 0x00) return;
    const op = f[1]!;
    const chk = f.readUInt32LE(4);
    const data = f.subarray(8, 8 + f.readUInt16LE(2));
    const word = (i: number) => data.readUInt32LE(i * 4);
    const name = Object.entries(OP).find(([, v]) => v === op)?.[0] ?? `0x${op.toString(16)}`;
    this.seen.push(name);
    if (this.hang?.op === name && --this.hang.left === 0) {
      this.hang = null;
      this.silent = true; // taken in, never answered
      return;
    }
    const c = CHIPS[this.chip];
    switch (op) {
      case OP.SYNC:
        // A session starts with the reset pulse a pty cannot carry: the ROM answers, eight times.
        this.mode = 'rom';
        this.write = null;
        this.read = null;
        this.baud = 115200; // the reset put the UART back at the ROM's rate
        for (let i = 0; i < 8; i++) this.reply(op, 0x20120707);
        return;
      case OP.READ_REG:
        return this.reply(op, this.register(word(0)));
      case OP.WRITE_REG: {
        const [addr, value] = [word(0), word(1)];
        if (addr === c.spi && value & SPI_CMD_USR) {
          // a user SPI command runs at once: RDID leaves the JEDEC id in W0; the busy bit clears
          const command = (this.regs.get(c.spi + (this.chip === 'esp32' ? 0x24 : 0x20)) ?? 0) & 0xff;
          if (command === RDID) this.regs.set(c.spi + c.w0, FLASH_MANUFACTURER | (FLASH_TYPE << 8) | (Math.log2(this.flash.length) << 16));
          this.regs.set(addr, value & ~SPI_CMD_USR);
        } else this.regs.set(addr, value);
        return this.reply(op, 0);
      }
      case OP.GET_SECURITY_INFO: {
        if (c.id === null && this.mode === 'rom') return this.fail(op, 0x05);
        const info = Buffer.alloc(20);
        info.writeUInt32LE(c.id ?? 0, 12);
        return this.reply(op, 0, info);
      }
      case OP.CHANGE_BAUDRATE:
        if (word(0) < 9600 || word(0) > 5_000_000) return this.fail(op, 0x06);
        this.reply(op, 0);
        this.baud = word(0); // the answer leaves at the old rate, everything after at the new one
        return;
      case OP.SPI_ATTACH:
      case OP.SPI_SET_PARAMS:
      case OP.MEM_BEGIN:
        return this.reply(op, 0);
      case OP.MEM_DATA:
        if (!this.checksumOk(data.subarray(16), chk)) return this.fail(op, 0x07);
        return this.reply(op, 0);
      case OP.MEM_END:
        this.reply(op, 0);
        if (word(0) === 0) {
          // the stub is running: it says hello
          this.mode = 'stub';
          this.send(slip(Buffer.from('OHAI')));
        }
        return;
      case OP.FLASH_BEGIN:
      case OP.FLASH_DEFL_BEGIN: {
        const [size, , blockSize, offset] = [word(0), word(1), word(2), word(3)];
        if (offset + size > this.flash.length) return this.fail(op, 0x06);
        const start = Math.floor(offset / SECTOR) * SECTOR;
        const end = Math.min(this.flash.length, Math.ceil((offset + size) / SECTOR) * SECTOR);
        this.flash.fill(0xff, start, end);
        if (this.extraErase !== null && size > 0) {
          this.flash.fill(0xff, this.extraErase - (this.extraErase % SECTOR), this.extraErase - (this.extraErase % SECTOR) + SECTOR);
          this.extraErase = null;
        }
        this.write = { offset, blockSize, chunks: [], written: 0, deflate: op === OP.FLASH_DEFL_BEGIN };
        return this.reply(op, 0);
      }
      case OP.FLASH_DATA: {
        const w = this.write;
        const block = data.subarray(16);
        if (!w || w.deflate) return this.fail(op, 0x05);
        if (!this.checksumOk(block, chk)) return this.fail(op, 0x07);
        const at = w.offset + word(1) * w.blockSize;
        this.flash.set(block.subarray(0, Math.max(0, Math.min(block.length, this.flash.length - at))), at);
        this.flipIfIn(at, at + block.length);
        return this.reply(op, 0);
      }
      case OP.FLASH_DEFL_DATA: {
        const w = this.write;
        const block = data.subarray(16);
        if (!w || !w.deflate) return this.fail(op, 0x05);
        if (!this.checksumOk(block, chk)) return this.fail(op, 0x07);
        w.chunks.push(Buffer.from(block));
        const out = inflateSync(Buffer.concat(w.chunks), { finishFlush: zc.Z_SYNC_FLUSH });
        this.flash.set(out.subarray(w.written), w.offset + w.written);
        this.flipIfIn(w.offset + w.written, w.offset + out.length);
        w.written = out.length;
        this.deflBlocks++;
        if (this.silentAfter !== null && this.deflBlocks >= this.silentAfter) {
          this.silent = true; // the board hung: this block is written, never acknowledged
          return;
        }
        return this.reply(op, 0);
      }
      case OP.FLASH_END:
      case OP.FLASH_DEFL_END:
        this.write = null;
        return this.reply(op, 0);
      case OP.SPI_FLASH_MD5: {
        if (word(0) + word(1) > this.flash.length) return this.fail(op, 0x06);
        const digest = createHash('md5').update(this.flash.subarray(word(0), word(0) + word(1))).digest();
        return this.reply(op, 0, this.mode === 'stub' ? digest : Buffer.from(digest.toString('hex'), 'latin1'));
      }
      case OP.READ_FLASH_SLOW: {
        // the ROM's (the stub has READ_FLASH): up to 64 bytes a command, always answered with a 64-byte buffer
        if (this.mode !== 'rom') return this.fail(op, 0x05);
        const [offset, len] = [word(0), word(1)];
        if (len > 64 || offset + len > this.flash.length) return this.fail(op, 0x06);
        const out = Buffer.alloc(64, 0xff);
        out.set(this.flash.subarray(offset, offset + len));
        return this.reply(op, 0, out);
      }
      case OP.READ_FLASH: {
        if (this.mode !== 'stub') return this.fail(op, 0x05);
        const [offset, length, packet, window] = [word(0), word(1), word(2), word(3)];
        if (offset + length > this.flash.length || !packet) return this.fail(op, 0x06);
        this.reply(op, 0);
        this.read = { offset, length, packet, window: Math.max(1, window), sent: 0, acked: 0 };
        return this.readPump();
      }
      case OP.ERASE_FLASH:
        if (this.mode !== 'stub') return this.fail(op, 0x05);
        this.flash.fill(0xff);
        return this.reply(op, 0);
      case OP.ERASE_REGION: {
        if (this.mode !== 'stub') return this.fail(op, 0x05);
        const [offset, size] = [word(0), word(1)];
        if (offset % SECTOR || size % SECTOR || offset + size > this.flash.length) return this.fail(op, 0x06);
        this.flash.fill(0xff, offset, offset + size);
        return this.reply(op, 0);
      }
      case OP.RUN_USER_CODE:
        // the stub jumps to the app: no answer, the next session starts with a SYNC
        this.mode = 'rom';
        return;
      default:
        return this.fail(op, 0x05);
    }
  }

  /** The stub's READ_FLASH: packets as raw frames, at most `window` unacknowledged, then the MD5. */
  private readPump(): void {
    const r = this.read!;
    while (r.sent < r.length && r.sent - r.acked < r.window * r.packet) {
      const n = Math.min(r.packet, r.length - r.sent);
      this.send(slip(this.flash.subarray(r.offset + r.sent, r.offset + r.sent + n)));
      r.sent += n;
    }
  }

  private readAck(total: number): void {
    const r = this.read!;
    r.acked = total;
    if (r.acked >= r.length) {
      this.read = null;
      this.send(slip(createHash('md5').update(this.flash.subarray(r.offset, r.offset + r.length)).digest()));
    } else this.readPump();
  }

  private flipIfIn(from: number, to: number): void {
    if (this.flipAt !== null && this.flipAt >= from && this.flipAt < to) {
      this.flash[this.flipAt]! ^= 0x10;
      this.flipAt = null;
    }
  }

  private checksumOk(block: Uint8Array, chk: number): boolean {
    let s = CHECKSUM_MAGIC;
    for (const b of block) s ^= b;
    return s === (chk & 0xff);
  }
}
