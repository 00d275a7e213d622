// `fleet status` connects first and loads the rest while the broker answers. The bundle's entry calls
// `startEarly(argv)` before it loads the CLI (scripts/bundle.mjs): for a one-shot `mini fleet status`
// this module (node's net/tls and the broker options only) opens the connection, sends MQTT 3.1.1
// CONNECT and the two SUBSCRIBEs, and collects the retained messages, while commander, the commands
// and the renderer load. runStatus then takes what arrived (`earlyStatus()`) instead of connecting
// with MQTT.js, whose client alone takes longer to load than the broker takes to answer.
// Only what this read needs of the protocol is here (MQTT 3.1.1, OASIS standard: CONNECT/CONNACK,
// SUBSCRIBE/SUBACK, PUBLISH at QoS 0, DISCONNECT); --watch (which must reconnect) and anything
// unusual on the command line take the MQTT.js path. Never throws: a failure is the read's result.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';

export interface EarlyRead {
  /** Retained messages in arrival order; the read ends when our probe message comes back. */
  messages: [topic: string, payload: Buffer][];
  /** Set when the broker refused or the connection failed (MQTT.js's words). */
  error?: string;
}

let early: Promise<EarlyRead | null> | null = null;

/** The early read of this process, if one was started (null inside: the options need the full CLI's word). */
export const earlyStatus = (): Promise<EarlyRead | null> | null => early;

const REFUSED: Record<number, string> = {
  1: 'Connection refused: Unacceptable protocol version',
  2: 'Connection refused: Identifier rejected',
  3: 'Connection refused: Server unavailable',
  4: 'Connection refused: Bad username or password',
  5: 'Connection refused: Not authorized',
};

/**
 * Start the early read when argv is a one-shot `mini fleet status` (else do nothing). Called by the
 * bundle's entry (scripts/bundle.mjs), which knip does not read.
 * @public
 */
export function startEarly(argv: string[]): void {
  const a = argv.slice(2);
  if (a[0] !== 'mini' || a[1] !== 'fleet' || a[2] !== 'status' || a.includes('--watch') || a.includes('--help') || a.includes('-h')) return;
  const flags: Record<string, string> = {};
  for (let i = 3; i < a.length; i++) {
    const [k, v] = a[i]!.includes('=') ? [a[i]!.slice(0, a[i]!.indexOf('=')), a[i]!.slice(a[i]!.indexOf('=') + 1)] : [a[i]!, a[i + 1]];
    if (['--broker', '--ca', '--cert', '--key', '--auth'].includes(k)) {
      if (v === undefined) return;
      flags[k.slice(2)] = v;
      if (!a[i]!.includes('=')) i++;
    }
  }
  if (!flags.broker) return;
  early = read(flags).catch(() => null);
}

const str = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]);
};
function packet(type: number, body: Buffer): Buffer {
  const len: number[] = [];
  let n = body.length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 128;
    len.push(byte);
  } while (n > 0);
  return Buffer.concat([Buffer.from([type, ...len]), body]);
}

/** Null when the options are wrong (bad URL, a file missing): runStatus then says so as the CLI does. */
async function read(flags: Record<string, string>): Promise<EarlyRead | null> {
  const { parseBroker, connectOptions } = await import('./broker.js');
  const b = parseBroker(flags.broker!, '--broker', { ca: flags.ca, cert: flags.cert, key: flags.key, auth: flags.auth });
  const o = (await connectOptions(b)) as { username?: string; password?: string; ca?: Buffer; cert?: Buffer; key?: Buffer };
  const u = new URL(b.url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const sock = b.tls ? tls.connect({ host, port: Number(u.port), ca: o.ca, cert: o.cert, key: o.key, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: true }) : net.connect(Number(u.port), host);
  const probe = `${b.prefix}/_probe/${randomBytes(6).toString('hex')}`;
  const flagsByte = 0x02 | (o.username !== undefined ? 0x80 : 0) | (o.password !== undefined ? 0x40 : 0);
  const connect = packet(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, flagsByte, 0, 30]), str(`pmoves-status-${randomBytes(6).toString('hex')}`), ...(o.username !== undefined ? [str(o.username)] : []), ...(o.password !== undefined ? [str(o.password)] : [])]));
  const subscribe = (id: number, topics: string[]) => packet(0x82, Buffer.concat([Buffer.from([id >> 8, id & 255]), ...topics.map((t) => Buffer.concat([str(t), Buffer.from([0])]))]));
  const out: EarlyRead = { messages: [] };
  return new Promise<EarlyRead | null>((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      if (error) out.error = error;
      if (!sock.destroyed) sock.end(Buffer.from([0xe0, 0])); // DISCONNECT
      resolve(out);
    };
    sock.once(b.tls ? 'secureConnect' : 'connect', () => sock.write(connect));
    sock.on('error', (err) => finish(err.message));
    sock.on('close', () => finish('the broker closed the connection'));
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk; // socket chunks are never reused: slices of them are kept
      for (;;) {
        // fixed header: type byte, remaining length (1–4 bytes, 7 bits each)
        let len = 0;
        let mul = 1;
        let i = 1;
        for (; i < buf.length && i <= 4; i++) {
          len += (buf[i]! & 127) * mul;
          mul *= 128;
          if (!(buf[i]! & 128)) break;
        }
        if (i >= buf.length || buf.length < i + 1 + len) return; // incomplete
        const first = buf[0]!;
        const type = first >> 4;
        const body = buf.subarray(i + 1, i + 1 + len);
        buf = buf.subarray(i + 1 + len);
        if (type === 2) {
          // CONNACK: subscribe to the status topics, then to our probe, and publish to it
          if (body[1]) return finish(REFUSED[body[1]] ?? `Connection refused: code ${body[1]}`);
          sock.write(Buffer.concat([subscribe(1, [`${b.prefix}/+/status`, `${b.prefix}/+/online`]), subscribe(2, [probe]), packet(0x30, Buffer.concat([str(probe), Buffer.from('end')]))]));
        } else if (type === 3) {
          const qos = (first >> 1) & 3; // a packet id follows the topic when QoS > 0
          const tlen = (body[0]! << 8) | body[1]!;
          const topic = body.subarray(2, 2 + tlen).toString('utf8');
          const payload = body.subarray(2 + tlen + (qos ? 2 : 0));
          if (topic === probe) return finish();
          out.messages.push([topic, payload]);
        }
      }
    });
  });
}
