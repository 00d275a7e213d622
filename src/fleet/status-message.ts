// The messages a device publishes, and the pure step that turns watch events into them. Every field
// is an address, a count, a commit, a time or a one-line reason from the engine: never a value.
export type DeviceResult = 'converged' | 'failed' | 'blocked' | 'unknown';

export interface DeviceStatus {
  v: 1;
  device: string;
  hostname: string;
  group: string | null;
  /** The device's labels (device.yaml: plain key: value pairs, published by design), for the page's filter. */
  labels?: Record<string, string>;
  profile: string | null;
  commit: string | null;
  generation: number | null;
  result: DeviceResult;
  /** Why, when failed or blocked (one line). */
  reason?: string;
  counts: { added: number; changed: number; destroyed: number; failed: number; excluded: number };
  /** Each resource not converged: its (last) error; `next_try` while it waits in retry backoff. */
  failing: { address: string; reason: string; next_try?: string }[];
  /** Last run that applied (or checked) the desired state. */
  last_apply: string | null;
  /** When this message was made. */
  time: string;
}

export interface ApplyEvent {
  v: 1;
  device: string;
  group: string | null;
  commit: string | null;
  result: string;
  added: number;
  changed: number;
  destroyed: number;
  failed: string[];
  ms: number;
  time: string;
}

export const topics = (prefix: string, device: string) => ({
  status: `${prefix}/${device}/status`,
  events: `${prefix}/${device}/events`,
  online: `${prefix}/${device}/online`,
});

/** One line, bounded: reasons from kinds are short already; this keeps a message small whatever happens. */
export const oneLine = (s: unknown) => String(s ?? '').split('\n')[0]!.slice(0, 240);

export function newStatus(device: string, hostname: string, profile: string | null): DeviceStatus {
  return { v: 1, device, hostname, group: null, profile, commit: null, generation: null, result: 'unknown', counts: { added: 0, changed: 0, destroyed: 0, failed: 0, excluded: 0 }, failing: [], last_apply: null, time: new Date().toISOString() };
}

type Ev = { event: string; message: string; [k: string]: any };

/**
 * Fold one watch event into the status. Returns what to publish: 'status' (the run ended: publish the
 * retained status), 'event' (also one apply event), or null (nothing yet).
 */
export function foldEvent(s: DeviceStatus, e: Ev, now = new Date()): { publish: 'status' | 'event' | null; event?: ApplyEvent } {
  const time = now.toISOString();
  switch (e.event) {
    case 'fleet':
      if (e.action === 'group') {
        s.group = e.group ?? null;
        return { publish: null };
      }
      // the run's end (run-finished) publishes the status, with the reason and the commit read
      s.group = e.action === 'invalid' ? (e.group ?? null) : null;
      return { publish: null };
    case 'run-finished':
      // a run that could apply nothing: say why (with file:line:column) and which commit it read
      if (e.result !== 'blocked' && e.result !== 'invalid-manifest' && e.result !== 'error') return { publish: null };
      if (e.commit) s.commit = e.commit;
      s.result = e.result === 'error' && !/lock held/.test(String(e.error)) ? 'failed' : 'blocked';
      s.reason = oneLine(e.error ?? e.result);
      s.time = time;
      return { publish: 'status' };
    case 'apply': {
      const failed = [...(e.failed ?? []), ...(e.skipped ?? [])] as { address: string; error: string; retry_in_ms?: number }[];
      s.commit = e.commit ?? s.commit;
      s.counts = { added: e.added ?? 0, changed: e.changed ?? 0, destroyed: e.destroyed ?? 0, failed: failed.length + (e.errors?.length ?? 0), excluded: e.excluded?.length ?? 0 };
      // a conflict (someone else's entry in the way) is not converged either
      const conflicts = (e.conflicts ?? []) as { address: string; conflicts: string[] }[];
      s.failing = [
        // failed in this run: its error, and when it is tried again (it waits in backoff from now)
        ...failed.map((f) => ({ address: f.address, reason: oneLine(f.error), ...(typeof f.retry_in_ms === 'number' ? { next_try: new Date(now.getTime() + f.retry_in_ms).toISOString() } : {}) })),
        ...conflicts.map((c) => ({ address: c.address, reason: oneLine(`in conflict: ${c.conflicts.join('; ')}`) })),
        ...(e.errors ?? []).map((x: string) => ({ address: '(plan)', reason: oneLine(x) })),
        // waiting in backoff: the last error and the next try, not just "in retry backoff"
        ...((e.waiting ?? (e.excluded ?? []).map((a: string) => ({ address: a }))) as { address: string; error?: string; next_try?: string | null }[])
          .filter((w) => !failed.some((f) => f.address === w.address))
          .map((w) => ({ address: w.address, reason: oneLine(w.error || 'in retry backoff'), ...(w.next_try ? { next_try: w.next_try } : {}) })),
      ];
      s.result = e.result === 'failed' || e.result === 'conflict' ? 'failed' : 'converged';
      if (s.result === 'converged') delete s.reason;
      else s.reason = `${s.failing.length} resource(s) not converged`;
      s.last_apply = time;
      s.time = time;
      const event: ApplyEvent = { v: 1, device: s.device, group: s.group, commit: s.commit, result: e.result, added: s.counts.added, changed: s.counts.changed, destroyed: s.counts.destroyed, failed: s.failing.map((f) => f.address), ms: e.ms ?? 0, time };
      return { publish: 'event', event };
    }
    case 'generation':
      s.generation = e.generation ?? s.generation;
      s.time = time;
      return { publish: 'status' };
    case 'busy':
      s.result = 'blocked';
      s.reason = oneLine(e.message);
      s.time = time;
      return { publish: 'status' };
    default:
      return { publish: null };
  }
}
