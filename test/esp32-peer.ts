// A serial peer that answers as an ESP32-S3's ROM bootloader (and, once uploaded, as esptool's flasher
// stub) over a pseudo-terminal pair made by socat. The host side is a path the CLI opens as its serial
// port; this side speaks SLIP frames: SYNC, READ_REG / WRITE_REG (chip magic, efuse MAC),
// GET_SECURITY_INFO (chip id), SPI_ATTACH, SPI_SET_PARAMS, MEM_BEGIN/DATA/END (stub upload, then "OHAI"),
// CHANGE_BAUDRATE, FLASH_BEGIN/DATA/END, FLASH_DEFL_BEGIN/DATA/END, SPI_FLASH_MD5. Its flash is a byte
// array the tests read.
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
  esp32s3: { id: 9, magic: 0x9 },
  esp32c3: { id: 5, magic: 0x1b31506f },
} as const;

export type PeerChip = keyof typeof CHIPS;

const MAGIC_REG = 0x40001000;
const MAC_REG = 0x60007044;
const SECTOR = 4096;
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
  FLASH_DEFL_BEGIN: 0x10,
  FLASH_DEFL_DATA: 0x11,
  FLASH_DEFL_END: 0x12,
  SPI_FLASH_MD5: 0x13,
  GET_SECURITY_INFO: 0x14,
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
  static async start(dir: string, o: { chip?: PeerChip; flashSize?: number } = {}): Promise<Esp32Peer> {
    const host = path.join(dir, 'ttyESP');
    const peer = path.join(dir, 'ttyPEER');
    const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${peer}`], { stdio: 'ignore' });
    for (let i = 0; i < 200 && !(existsSync(host) && existsSync(peer)); i++) await new Promise((r) => setTimeout(r, 25));
    if (!existsSync(host)) throw new Error('socat did not make the pty pair');
    const port = new SerialPort({ path: peer, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    const flashSize = o.flashSize ?? 4 << 20;
    const p = new Esp32Peer(host, socat, port, o.chip ?? 'esp32s3', flashSize);
    // efuse MAC 7c:df:a1:12:34:56 (word 0 holds the low four bytes, word 1 the high two)
    p.regs.set(MAC_REG, 0xa1123456);
    p.regs.set(MAC_REG + 4, 0x7cdf);
    return p;
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
        if (f.length) this.command(f);
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
    this.port.write(slip(Buffer.concat([head, body])));
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
    switch (op) {
      case OP.SYNC:
        // A session starts with the reset pulse a pty cannot carry: the ROM answers, eight times.
        this.mode = 'rom';
        this.write = null;
        for (let i = 0; i < 8; i++) this.reply(op, 0x20120707);
        return;
      case OP.READ_REG: {
        const addr = word(0);
        const v = addr === MAGIC_REG ? CHIPS[this.chip].magic : (this.regs.get(addr) ?? 0);
        return this.reply(op, v);
      }
      case OP.WRITE_REG:
        this.regs.set(word(0), word(1));
        return this.reply(op, 0);
      case OP.GET_SECURITY_INFO: {
        const info = Buffer.alloc(20);
        info.writeUInt32LE(CHIPS[this.chip].id, 12);
        return this.reply(op, 0, info);
      }
      case OP.SPI_ATTACH:
      case OP.SPI_SET_PARAMS:
      case OP.CHANGE_BAUDRATE:
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
          this.port.write(slip(Buffer.from('OHAI')));
        }
        return;
      case OP.FLASH_BEGIN:
      case OP.FLASH_DEFL_BEGIN: {
        const [size, , blockSize, offset] = [word(0), word(1), word(2), word(3)];
        if (offset + size > this.flash.length) return this.fail(op, 0x06);
        const start = Math.floor(offset / SECTOR) * SECTOR;
        const end = Math.min(this.flash.length, Math.ceil((offset + size) / SECTOR) * SECTOR);
        this.flash.fill(0xff, start, end);
        this.write = { offset, blockSize, chunks: [], written: 0, deflate: op === OP.FLASH_DEFL_BEGIN };
        return this.reply(op, 0);
      }
      case OP.FLASH_DATA: {
        const w = this.write;
        const block = data.subarray(16);
        if (!w || w.deflate) return this.fail(op, 0x05);
        if (!this.checksumOk(block, chk)) return this.fail(op, 0x07);
        this.flash.set(block.subarray(0, Math.max(0, Math.min(block.length, this.flash.length - w.offset - word(1) * w.blockSize))), w.offset + word(1) * w.blockSize);
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
        const digest = createHash('md5').update(this.flash.subarray(word(0), word(0) + word(1))).digest();
        return this.reply(op, 0, this.mode === 'stub' ? digest : Buffer.from(digest.toString('hex'), 'latin1'));
      }
      default:
        return this.fail(op, 0x05);
    }
  }

  private checksumOk(block: Uint8Array, chk: number): boolean {
    let s = CHECKSUM_MAGIC;
    for (const b of block) s ^= b;
    return s === (chk & 0xff);
  }
}
