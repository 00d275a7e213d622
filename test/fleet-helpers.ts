// Helpers for fleet tests: a real mosquitto broker on 127.0.0.1 (with a password file, optionally a
// TLS listener with certificates made here by openssl, persistence in its folder), restartable on
// the same ports; and the retained status of a prefix read with the built CLI. Every broker started
// here is stopped by `stop()`.
import { execa, type ResultPromise } from 'execa';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { cli, waitFor } from './helpers.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const canConnect = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });

/** CA, server (SAN IP 127.0.0.1) and client certificates under `dir`. */
export async function makeCerts(dir: string): Promise<{ ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string; otherCa: string }> {
  const f = (n: string) => path.join(dir, n);
  const ssl = (args: string[]) => execa('openssl', args, { cwd: dir, stdin: 'ignore' });
  await ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=pmoves test CA']);
  await ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-days', '2', '-subj', '/CN=another CA']);
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const [name, cn, ext] of [['server', '127.0.0.1', ['-extfile', 'server.ext']], ['client', 'device', []]] as const) {
    await ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    await ssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', ...ext]);
  }
  return { ca: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientCert: f('client.crt'), clientKey: f('client.key'), otherCa: f('other-ca.crt') };
}

export interface Broker {
  port: number;
  tlsPort: number | null;
  url(prefix: string): string;
  tlsUrl(prefix: string): string;
  log(): Promise<string>;
  start(): Promise<void>;
  /** SIGTERM (mosquitto saves its retained messages) and wait. */
  stop(): Promise<void>;
}

export async function startBroker(dir: string, o: { users: Record<string, string>; tls?: Awaited<ReturnType<typeof makeCerts>>; port?: number }): Promise<Broker> {
  const port = o.port ?? (await freePort());
  const tlsPort = o.tls ? await freePort() : null;
  const pw = path.join(dir, 'passwd');
  writeFileSync(pw, '');
  for (const [u, p] of Object.entries(o.users)) await execa('mosquitto_passwd', ['-b', pw, u, p], { stdin: 'ignore' });
  const conf = [
    'per_listener_settings false',
    'allow_anonymous false',
    `password_file ${pw}`,
    'persistence true',
    `persistence_location ${dir}/`,
    'log_dest stderr',
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    `listener ${port} 127.0.0.1`,
    ...(o.tls ? [`listener ${tlsPort} 127.0.0.1`, `cafile ${o.tls.ca}`, `certfile ${o.tls.serverCert}`, `keyfile ${o.tls.serverKey}`, 'require_certificate true'] : []),
    '',
  ].join('\n');
  const confFile = path.join(dir, 'mosquitto.conf');
  writeFileSync(confFile, conf);
  let proc: ResultPromise | null = null;
  let log = '';
  const b: Broker = {
    port,
    tlsPort,
    url: (prefix) => `mqtt://127.0.0.1:${port}/${prefix}`,
    tlsUrl: (prefix) => `mqtts://127.0.0.1:${tlsPort}/${prefix}`,
    log: async () => log,
    async start() {
      proc = execa('mosquitto', ['-c', confFile], { reject: false, stdin: 'ignore', cleanup: true });
      proc.stderr!.on('data', (c: Buffer) => (log += c.toString()));
      const p = proc;
      await waitFor(async () => (p.exitCode !== null && p.exitCode !== undefined ? Promise.reject(new Error(`mosquitto exited: ${log}`)) : (await canConnect(port)) && (!tlsPort || (await canConnect(tlsPort)))), 'mosquitto to listen', 15_000);
    },
    async stop() {
      if (!proc) return;
      const p = proc;
      proc = null;
      p.kill('SIGTERM');
      await p;
    },
  };
  await b.start();
  return b;
}

/** `fleet status --json` rows by device. */
export async function fleetStatus(args: string[], env: Record<string, string> = {}): Promise<{ devices: Record<string, any>; head: string | null; raw: string }> {
  const r = await cli(['mini', 'fleet', 'status', '--json', ...args], { env });
  if (r.exitCode !== 0) throw new Error(`fleet status failed (${r.exitCode}): ${r.stderr}`);
  const out = JSON.parse(String(r.stdout).trim().split('\n').pop()!);
  return { devices: Object.fromEntries(out.devices.map((d: any) => [d.device, d])), head: out.head, raw: String(r.stdout) };
}
