// A Web Serial–like port over node's `serialport`: what esptool-js's Transport drives (open, close,
// readable/writable web streams, setSignals for DTR/RTS, an in-place baud change, getInfo). Nothing of
// the ROM protocol is here; this only moves bytes and modem-line states.
import type { SerialPort as NodeSerialPort } from 'serialport';

interface OpenOptions {
  baudRate: number;
}

interface Signals {
  dataTerminalReady?: boolean;
  requestToSend?: boolean;
  break?: boolean;
}

export class NodeWebSerialPort {
  readable: ReadableStream<Uint8Array> | null = null;
  writable: WritableStream<Uint8Array> | null = null;
  /** Set when the port cannot drive DTR/RTS (a pseudo-terminal, some adapters): no automatic reset. */
  signalsUnsupported = false;
  private port: NodeSerialPort | null = null;
  private lines = { dtr: false, rts: false };

  constructor(
    readonly path: string,
    private readonly info: { usbVendorId?: number; usbProductId?: number } = {},
  ) {}

  getInfo(): { usbVendorId?: number; usbProductId?: number } {
    return this.info;
  }

  async open(o: OpenOptions): Promise<void> {
    const { SerialPort } = await import('serialport');
    const port = new SerialPort({ path: this.path, baudRate: o.baudRate, autoOpen: false, hupcl: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(new Error(`cannot open ${this.path}: ${err.message.replace(/^Error: /, '').replace(/, cannot open .*$/, '')}`)) : resolve())));
    this.port = port;
    let closed = false;
    this.readable = new ReadableStream<Uint8Array>({
      start(controller) {
        port.on('data', (d: Buffer) => {
          if (!closed) controller.enqueue(new Uint8Array(d));
        });
        port.on('close', () => {
          if (!closed) {
            closed = true;
            controller.close();
          }
        });
      },
      cancel() {
        closed = true;
      },
    });
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) =>
        new Promise<void>((resolve, reject) => {
          port.write(Buffer.from(chunk), (err) => {
            if (err) return reject(err);
            port.drain((e) => (e ? reject(e) : resolve()));
          });
        }),
    });
  }

  async setSignals(s: Signals): Promise<void> {
    if (s.dataTerminalReady !== undefined) this.lines.dtr = s.dataTerminalReady;
    if (s.requestToSend !== undefined) this.lines.rts = s.requestToSend;
    const port = this.port;
    if (!port || this.signalsUnsupported) return;
    // serialport's set() fills unspecified lines with defaults: always give both.
    await new Promise<void>((resolve) =>
      port.set({ dtr: this.lines.dtr, rts: this.lines.rts, brk: Boolean(s.break) }, (err) => {
        if (err) this.signalsUnsupported = true;
        resolve();
      }),
    );
  }

  async setBaudRate(baudRate: number): Promise<void> {
    const port = this.port;
    if (!port) throw new Error(`${this.path} is not open`);
    await new Promise<void>((resolve, reject) => port.update({ baudRate }, (err) => (err ? reject(err) : resolve())));
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = null;
    this.readable = null;
    this.writable = null;
    if (!port?.isOpen) return;
    await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}
