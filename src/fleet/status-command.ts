// `fleet status`: subscribe to <prefix>/+/status and <prefix>/+/online, take the retained messages
// (the broker sends them right after the subscription; we wait until they stop arriving), print.
// --watch keeps the subscription and reprints on every change.
import { randomBytes } from 'node:crypto';
import { messageOf, OperationError } from '../core/errors.js';
import { mqttConnect, type Broker } from './broker.js';
import { earlyStatus } from './early-status.js';
import { FleetView, renderTable } from './status.js';

export interface StatusOptions {
  json: boolean;
  watch: boolean;
  staleMs: number;
  waitMs: number;
  repo?: string;
  branch?: string;
  /** Quiet time after the last retained message before printing (default 300 ms). */
  settleMs?: number;
}

export async function repoHead(url: string, branch?: string): Promise<string> {
  const { runChild } = await import('../core/child.js');
  const ref = branch ? `refs/heads/${branch}` : 'HEAD';
  const r = await runChild('git', ['ls-remote', '--', url, ref], { env: { ...process.env, GIT_TERMINAL_PROMPT: '0' }, timeoutMs: 60_000 });
  const line = String(r.stdout).split('\n').find((l) => l.endsWith(`\t${ref}`));
  if (r.exitCode !== 0 || !line) throw new OperationError(`--repo ${url}: cannot read the head of ${branch ?? 'the default branch'} (${String(r.stderr).trim().split('\n').pop() || 'no such ref'})`);
  return line.split('\t')[0]!;
}

export async function runStatus(broker: Broker, o: StatusOptions): Promise<void> {
  const t0 = Date.now();
  const head = o.repo ? repoHead(o.repo, o.branch) : Promise.resolve(null);
  head.catch(() => {}); // awaited below; read while the broker answers
  const view = new FleetView(broker.prefix);
  const early = o.watch ? null : earlyStatus();
  // connected before the CLI loaded (src/fleet/early-status.ts): the retained messages are here
  let timer: NodeJS.Timeout | undefined;
  const r = early && (await Promise.race([early, new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), o.waitMs)))]));
  clearTimeout(timer);
  if (r === 'timeout') throw new OperationError(`cannot reach the broker at ${broker.url} within ${o.waitMs} ms`);
  if (r) {
    if (r.error) throw new OperationError(`broker ${broker.url}: ${r.error}`);
    for (const [topic, payload] of r.messages) view.add(topic, payload);
    if (process.env.PMOVES_FLEET_TRACE) process.stderr.write(`${Date.now() - t0} ms retained messages received early (${view.messages} messages)\n`);
    printView(view, broker, o, await head);
    return;
  }
  return runWithClient(broker, o, view, await head, t0);
}

function printView(view: FleetView, broker: Broker, o: StatusOptions, head: string | null): void {
  const rows = view.rows({ head, staleMs: o.staleMs });
  if (o.json) process.stdout.write(JSON.stringify({ broker: broker.url, prefix: broker.prefix, head, time: new Date().toISOString(), devices: rows }) + '\n');
  else {
    if (o.watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
    process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${broker.url}/${broker.prefix}\n` + renderTable(rows, head));
  }
}

async function runWithClient(broker: Broker, o: StatusOptions, view: FleetView, head: string | null, t0: number): Promise<void> {
  const client = await mqttConnect(broker, {
    clientId: `pmoves-status-${randomBytes(6).toString('hex')}`,
    clean: true,
    connectTimeout: Math.max(1000, o.waitMs),
    reconnectPeriod: o.watch ? 2_000 : 0,
  });
  let last = Date.now();
  let changed = false;
  client.on('message', (topic, payload) => {
    last = Date.now();
    if (view.add(topic, payload)) changed = true;
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new OperationError(`cannot reach the broker at ${broker.url} within ${o.waitMs} ms`)), o.waitMs);
      client.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
      client.on('error', (err) => {
        // TLS errors come twice (the stream and MQTT.js); the first one decides, later ones are dropped
        clearTimeout(t);
        reject(new OperationError(`broker ${broker.url}: ${messageOf(err)}`));
      });
    });
    const trace = process.env.PMOVES_FLEET_TRACE ? (w: string) => process.stderr.write(`${Date.now() - t0} ms ${w} (${view.messages} messages)\n`) : () => {};
    trace('connected');
    await client.subscribeAsync([`${broker.prefix}/+/status`, `${broker.prefix}/+/online`], { qos: 0 }); // retained state: no acks needed
    trace('subscribed');
    // The broker queues a subscription's retained messages before it reads our next packet: a message
    // we publish to a probe topic of our own comes back after all of them. Where the broker refuses the
    // probe (ACLs), a quiet period ends the wait instead.
    const probe = `${broker.prefix}/_probe/${randomBytes(6).toString('hex')}`;
    let probed = false;
    client.on('message', (topic) => {
      if (topic === probe) probed = true;
    });
    await client.subscribeAsync(probe, { qos: 0 }).catch(() => {});
    client.publish(probe, 'end', { qos: 0 });
    last = Date.now();
    const end = Date.now() + o.waitMs;
    const settle = o.settleMs ?? 500;
    while (!probed && Date.now() - last < settle && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    trace(probed ? 'retained messages received (probe back)' : 'retained messages received (quiet)');

    const print = () => printView(view, broker, o, head);
    print();
    if (!o.watch) return;
    let stop: () => void = () => {};
    const done = new Promise<void>((r) => (stop = r));
    process.once('SIGINT', () => stop());
    process.once('SIGTERM', () => stop());
    const timer = setInterval(() => {
      if (!changed) return;
      changed = false;
      print();
    }, 1000);
    await done;
    clearInterval(timer);
  } finally {
    await new Promise<void>((r) => client.end(true, {}, () => r()));
  }
}
