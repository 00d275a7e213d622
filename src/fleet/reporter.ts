// --report mqtt://host:port/prefix: after every watch run, a retained status on <prefix>/<id>/status;
// one message per apply on <prefix>/<id>/events; `online` (retained) on <prefix>/<id>/online while
// connected and a last will `offline` there. A broker outage never blocks or fails the watch loop:
// observe() is synchronous and never throws; while disconnected, the status is kept (only the latest
// counts) and events wait in a bounded queue whose overflow is dropped and counted in /metrics.
import type { MqttClient } from 'mqtt';
import { messageOf } from '../core/errors.js';
import { mqttConnect, type Broker } from './broker.js';
import { foldEvent, newStatus, topics, type DeviceStatus } from './status-message.js';

export interface ReporterOptions {
  broker: Broker;
  device: string;
  hostname: string;
  profile: string | null;
  generation: number | null;
  /** Most apply events kept while the broker is away (default 100). */
  queueLimit?: number;
  /** A line for the watch log (event `report`). */
  log(message: string, fields?: Record<string, unknown>): void;
}

interface Pending {
  topic: string;
  payload: string;
  retain: boolean;
}

export class Reporter {
  readonly status: DeviceStatus;
  private client: MqttClient | null = null;
  private readonly t: ReturnType<typeof topics>;
  private statusDirty = false;
  private readonly events: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private wasConnected = false;
  private lastError = '';
  readonly counters = { published: 0, dropped: 0, connects: 0 };

  constructor(private readonly o: ReporterOptions) {
    this.status = newStatus(o.device, o.hostname, o.profile);
    this.status.generation = o.generation;
    this.t = topics(o.broker.prefix, o.device);
  }

  async start(): Promise<void> {
    const client = await mqttConnect(this.o.broker, {
      clientId: `pmoves-${this.o.device}`.slice(0, 128),
      clean: true,
      keepalive: 30,
      connectTimeout: 10_000,
      reconnectPeriod: 2_000,
      queueQoSZero: false,
      will: { topic: this.t.online, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      this.counters.connects++;
      this.wasConnected = true;
      this.lastError = '';
      this.o.log(`reporting to ${this.o.broker.url} as ${this.t.status}`, { action: 'connected', broker: this.o.broker.url });
      this.send({ topic: this.t.online, payload: 'online', retain: true });
      if (this.status.result !== 'unknown') this.statusDirty = true; // the broker may have lost it: say it again
      this.flush();
    });
    client.on('close', () => {
      if (this.wasConnected && !this.closed) this.o.log(`broker ${this.o.broker.url} went away; queueing (at most ${this.limit} apply events) until it is back`, { action: 'disconnected' });
      this.wasConnected = false;
    });
    client.on('error', (err) => {
      const m = messageOf(err);
      if (m !== this.lastError) this.o.log(`broker ${this.o.broker.url}: ${m}; retrying`, { action: 'error', error: m });
      this.lastError = m;
    });
  }

  private get limit(): number {
    return this.o.queueLimit ?? 100;
  }

  /** A watch event: fold it into the status and publish what the run produced. Never throws. */
  observe(e: { event: string; message: string; [k: string]: unknown }): void {
    try {
      const r = foldEvent(this.status, e as never);
      if (r.event) {
        this.events.push({ topic: this.t.events, payload: JSON.stringify(r.event), retain: false });
        while (this.events.length > this.limit) {
          this.events.shift();
          this.counters.dropped++;
        }
      }
      if (r.publish) {
        this.statusDirty = true;
        // the generation line follows the apply line of the same run: publish both as one status
        if (!this.timer) this.timer = setTimeout(() => {
          this.timer = null;
          this.flush();
        }, 100);
      }
    } catch {
      /* reporting never breaks the loop */
    }
  }

  private send(p: Pending): void {
    this.client!.publish(p.topic, p.payload, { qos: 1, retain: p.retain }, (err) => {
      if (!err) this.counters.published++;
    });
  }

  private flush(): void {
    const c = this.client;
    if (!c || !c.connected) return;
    while (this.events.length) this.send(this.events.shift()!);
    if (this.statusDirty) {
      this.statusDirty = false;
      this.send({ topic: this.t.status, payload: JSON.stringify(this.status), retain: true });
    }
  }

  metricsText(): string {
    const m = (name: string, type: string, help: string, v: number) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${v}\n`;
    return (
      m('pmoves_fleet_report_published_total', 'counter', 'Status and event messages the broker acknowledged.', this.counters.published) +
      m('pmoves_fleet_report_dropped_total', 'counter', 'Apply events dropped because the queue was full while the broker was away.', this.counters.dropped) +
      m('pmoves_fleet_report_queued', 'gauge', 'Apply events waiting for the broker.', this.events.length) +
      m('pmoves_fleet_broker_connected', 'gauge', '1 while connected to the broker.', this.client?.connected ? 1 : 0)
    );
  }

  /** Stop: publish the last status and `offline` when connected (at most `ms`), then disconnect. */
  async close(ms = 3_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const c = this.client;
    if (!c) return;
    if (c.connected) {
      this.flush();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        c.publish(this.t.online, 'offline', { qos: 1, retain: true }, () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      c.end(!c.connected, {}, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
