// Docker events as triggers: one Engine API event stream (GET /events) filtered to containers that carry
// a compose project label; events for the watched projects that mean "something may have drifted"
// call `onEvent`. Reconnects with backoff when the engine is down. Like the stacks provider, a unix
// socket or plain tcp DOCKER_HOST is spoken to over node:http (importing dockerode costs ~13 MB of RSS
// for the life of the daemon); TLS and ssh:// hosts go through dockerode, imported lazily.
import http from 'node:http';
import { backoffDelay } from './backoff.js';

async function openEventStream(env: NodeJS.ProcessEnv, filters: Record<string, string[]>, signal: AbortSignal): Promise<NodeJS.ReadableStream> {
  const { endpointOf, dockerClient } = await import('../providers/docker/engine.js');
  const ep = endpointOf(env);
  if (ep.needsDockerode) {
    const docker = await dockerClient(env);
    return (await docker.getEvents({ filters, abortSignal: signal } as object)) as NodeJS.ReadableStream;
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: ep.socketPath, host: ep.host, port: ep.port, path: `/events?filters=${encodeURIComponent(JSON.stringify(filters))}`, method: 'GET', headers: { Host: 'docker' }, signal },
      (res) => {
        if ((res.statusCode ?? 500) >= 400) {
          res.resume();
          reject(new Error(`HTTP ${res.statusCode} from ${ep.url}/events`));
        } else resolve(res);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

export const PROJECT_LABEL = 'com.docker.compose.project';
/** Container actions that can leave a stack out of its declared state. */
export const DRIFT_ACTIONS = new Set(['die', 'kill', 'oom', 'stop', 'destroy', 'pause', 'health_status: unhealthy']);

export interface DockerEvent {
  project: string;
  container: string;
  action: string;
}

export interface DockerEventsHandle {
  setProjects(projects: string[]): void;
  close(): void;
}

/** Compose project names of the stacks among `resources` (the stacks kind's normal form has `project`). */
export function composeProjects(resources: { section: string; name: string; spec: unknown }[]): string[] {
  const out = new Set<string>();
  for (const r of resources) {
    if (r.section !== 'stacks') continue;
    const s = (r.spec ?? {}) as Record<string, unknown>;
    const p = s.project ?? (s.compose as Record<string, unknown> | undefined)?.project;
    if (typeof p === 'string' && p) out.add(p);
  }
  return [...out].sort();
}

export function watchDockerEvents(onEvent: (e: DockerEvent) => void, onStatus: (line: string) => void, opts: { baseMs?: number; maxMs?: number; env?: NodeJS.ProcessEnv } = {}): DockerEventsHandle {
  const env = opts.env ?? process.env;
  let projects = new Set<string>();
  let closed = false;
  let ac: AbortController | undefined;
  let retry: NodeJS.Timeout | undefined;
  let failures = 0;
  let connected = false;

  const connect = async () => {
    if (closed || !projects.size || ac) return;
    ac = new AbortController();
    const mine = ac;
    try {
      const stream = await openEventStream(env, { type: ['container'], label: [PROJECT_LABEL] }, mine.signal);
      failures = 0;
      if (!connected) onStatus('subscribed to Docker events');
      connected = true;
      let buf = '';
      stream.on('data', (chunk: Buffer) => {
        buf += chunk.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          try {
            const ev = JSON.parse(line) as { Action?: string; status?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
            const action = ev.Action ?? ev.status ?? '';
            const attrs = ev.Actor?.Attributes ?? {};
            const project = attrs[PROJECT_LABEL];
            if (project && projects.has(project) && DRIFT_ACTIONS.has(action)) {
              onEvent({ project, container: attrs.name ?? ev.Actor?.ID?.slice(0, 12) ?? '?', action });
            }
          } catch {
            /* a partial line cannot happen after splitting on \n; ignore anything else */
          }
        }
      });
      const ended = () => {
        if (ac === mine) ac = undefined;
        if (!closed && !mine.signal.aborted) schedule('the Docker event stream ended');
      };
      stream.on('end', ended);
      stream.on('error', ended);
    } catch (err) {
      if (ac === mine) ac = undefined;
      if (!closed && !mine.signal.aborted) schedule(`cannot reach the Docker Engine (${(err as Error).message})`);
    }
  };

  const schedule = (why: string) => {
    failures++;
    connected = false;
    const delay = backoffDelay(failures, opts.baseMs ?? 5_000, opts.maxMs ?? 300_000);
    onStatus(`${why}; retrying in ${Math.round(delay / 1000)}s`);
    clearTimeout(retry);
    retry = setTimeout(() => void connect(), delay);
  };

  return {
    setProjects(p) {
      const next = new Set(p);
      const same = next.size === projects.size && [...next].every((x) => projects.has(x));
      projects = next;
      if (same) return;
      if (!projects.size) {
        ac?.abort();
        ac = undefined;
        connected = false;
        clearTimeout(retry);
      } else void connect();
    },
    close() {
      closed = true;
      clearTimeout(retry);
      ac?.abort();
      ac = undefined;
    },
  };
}
