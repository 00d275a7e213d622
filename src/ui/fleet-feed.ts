// The page's fleet: every device's retained status and online messages under a prefix, followed live
// (the same subscription and fold as `fleet status --watch`), pushed to the page as `devices` events.
import { randomBytes } from 'node:crypto';
import { messageOf } from '../core/errors.js';
import type { Broker } from '../fleet/broker.js';
import type { DeviceRow } from '../fleet/status.js';

export interface FleetFeed {
  rows(): { broker: string; devices: (DeviceRow & { labels?: Record<string, string> })[] };
  close(): Promise<void>;
}

export async function followFleet(broker: Broker, o: { staleMs: number; onChange: () => void; onError: (message: string) => void }): Promise<FleetFeed> {
  const { mqttConnect } = await import('../fleet/broker.js');
  const { FleetView } = await import('../fleet/status.js');
  const view = new FleetView(broker.prefix);
  const client = await mqttConnect(broker, { clientId: `pmoves-ui-${randomBytes(6).toString('hex')}`, clean: true, reconnectPeriod: 2_000, connectTimeout: 10_000 });
  let pending = false;
  client.on('message', (topic, payload) => {
    if (!view.add(topic, payload) || pending) return;
    pending = true; // a burst of retained messages becomes one event
    setImmediate(() => {
      pending = false;
      o.onChange();
    });
  });
  let lastError = '';
  client.on('error', (err) => {
    const m = `broker ${broker.url}: ${messageOf(err)}`;
    if (m !== lastError) o.onError(m);
    lastError = m;
  });
  client.on('connect', () => {
    lastError = '';
    client.subscribe([`${broker.prefix}/+/status`, `${broker.prefix}/+/online`], { qos: 0 });
  });
  return {
    rows: () => ({
      broker: `${broker.url}/${broker.prefix}`,
      devices: view.rows({ staleMs: o.staleMs }).map((r) => {
        const labels = (view.status.get(r.device) as { labels?: unknown } | undefined)?.labels;
        return labels && typeof labels === 'object' ? { ...r, labels: labels as Record<string, string> } : r;
      }),
    }),
    close: () => new Promise<void>((r) => client.end(true, {}, () => r())),
  };
}
