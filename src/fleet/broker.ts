// The broker address (`mqtt://host:port/prefix`, `mqtts://…` for TLS) and the connection options:
// CA, client certificate and key files, and the user name and password read from a CHIT bundle's
// labels (never from the command line, so they stay out of `ps`, shell history and unit files).
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.js';

export interface BrokerFlags {
  ca?: string;
  cert?: string;
  key?: string;
  /** `BUNDLE` or `BUNDLE#USER_LABEL,PASSWORD_LABEL` (default labels MQTT_USERNAME, MQTT_PASSWORD). */
  auth?: string;
}

export interface Broker {
  /** mqtt://host:port or mqtts://host:port (no credentials, no prefix): safe to print. */
  url: string;
  prefix: string;
  tls: boolean;
  flags: BrokerFlags;
}

export function parseBroker(value: string, flag: string, flags: BrokerFlags = {}): Broker {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UserError(`${flag}: expected mqtt://host:port/prefix or mqtts://host:port/prefix, got "${value.replace(/\/\/[^@/]*@/, '//…@')}"`);
  }
  if (u.protocol !== 'mqtt:' && u.protocol !== 'mqtts:') throw new UserError(`${flag}: expected an mqtt:// or mqtts:// URL, got ${u.protocol}//…`);
  if (u.username || u.password) throw new UserError(`${flag}: put no user or password in the URL; use ${flag === '--broker' ? '--auth' : `${flag}-auth`} BUNDLE (a CHIT bundle with MQTT_USERNAME and MQTT_PASSWORD labels)`);
  const tls = u.protocol === 'mqtts:';
  const prefix = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, '')) || 'pmoves';
  const rawPath = value.replace(/^[a-z]+:\/\/[^/]*/i, '');
  if (/[+#?]/.test(rawPath)) throw new UserError(`${flag}: the topic prefix "${rawPath.replace(/^\/+/, '')}" may not contain +, # or ?`);
  if ((flags.cert && !flags.key) || (flags.key && !flags.cert)) throw new UserError(`${flag}: a client certificate needs both the certificate and the key file`);
  if (!tls && (flags.ca || flags.cert)) throw new UserError(`${flag}: CA and client certificate files need an mqtts:// URL`);
  return { url: `${u.protocol}//${u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname}:${u.port || (tls ? 8883 : 1883)}`, prefix, tls, flags };
}

async function readFlagFile(file: string, what: string): Promise<Buffer> {
  try {
    return await fsp.readFile(path.resolve(file));
  } catch (err) {
    throw new UserError(`${what} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `cannot read (${(err as NodeJS.ErrnoException).code})`}`);
  }
}

/** The credentials' labels from a CHIT bundle. Errors name the bundle and label, never a value. */
export async function readCredentials(auth: string): Promise<{ username: string; password: string }> {
  const [file, labels] = auth.split('#') as [string, string | undefined];
  const [userLabel = 'MQTT_USERNAME', passLabel = 'MQTT_PASSWORD'] = (labels ?? '').split(',').filter(Boolean);
  const { readBundle, decodeBundle } = await import('../providers/chit/bundle.js');
  const values = decodeBundle(await readBundle(path.resolve(file)), file);
  const username = values.get(userLabel);
  const password = values.get(passLabel);
  if (username === undefined) throw new UserError(`${file}: no label ${userLabel} (the MQTT user name) in the bundle`);
  if (password === undefined) throw new UserError(`${file}: no label ${passLabel} (the MQTT password) in the bundle`);
  return { username, password };
}

/** Options for mqtt.connect (without will, client id, reconnect policy: callers add theirs). */
export async function connectOptions(b: Broker): Promise<Record<string, unknown>> {
  const o: Record<string, unknown> = {};
  if (b.flags.ca) o.ca = await readFlagFile(b.flags.ca, 'CA file');
  if (b.flags.cert) o.cert = await readFlagFile(b.flags.cert, 'client certificate');
  if (b.flags.key) o.key = await readFlagFile(b.flags.key, 'client key');
  if (b.tls) o.rejectUnauthorized = true;
  if (b.flags.auth) Object.assign(o, await readCredentials(b.flags.auth));
  return o;
}

/**
 * An MQTT.js client for `b`, loaded only when a broker is used. It builds the client from MQTT.js's
 * own MqttClient and tcp/tls stream builders rather than its index (which also loads WebSocket,
 * SOCKS and browser transports), and turns off its number cache (65,536 pre-made buffers, ~6 MB of
 * heap): together they keep a reporting device's footprint small.
 */
export async function mqttConnect(b: Broker, opts: Record<string, unknown>): Promise<import('mqtt').MqttClient> {
  const load = async (m: string) => {
    const mod = (await import(m)) as { default: { default?: unknown } };
    return (mod.default.default ?? mod.default) as never;
  };
  const MqttClient: new (build: (client: unknown) => unknown, o: Record<string, unknown>) => import('mqtt').MqttClient = await load('mqtt/lib/client');
  const build: (client: unknown, o: Record<string, unknown>) => unknown = await load(b.tls ? 'mqtt/lib/connect/tls' : 'mqtt/lib/connect/tcp');
  const u = new URL(b.url);
  const o: Record<string, unknown> = { ...(await connectOptions(b)), ...opts, protocol: b.tls ? 'mqtts' : 'mqtt', host: u.hostname.replace(/^\[|\]$/g, ''), hostname: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port), writeCache: false };
  return new MqttClient((client) => build(client, { ...o }), o);
}
