// The Docker Engine API, as the stacks kind needs it. Reads (one containers call and one images call
// per refresh, for every stack at once) go over node:http straight to the socket: importing dockerode
// costs ~120 ms, half the budget of a no-op plan. Everything else (health waits, removal of what an
// undeclared stack left, TLS and ssh:// hosts) goes through dockerode, imported lazily.
import http from 'node:http';
import { OperationError } from '../../core/errors.js';

export const COMPOSE_PROJECT = 'com.docker.compose.project';
export const COMPOSE_SERVICE = 'com.docker.compose.service';
export const COMPOSE_HASH = 'com.docker.compose.config-hash';
export const COMPOSE_NUMBER = 'com.docker.compose.container-number';
export const COMPOSE_ONEOFF = 'com.docker.compose.oneoff';

/** Where the engine listens, from DOCKER_HOST (as the docker CLI reads it). */
export interface Endpoint {
  /** What to print: `unix:///var/run/docker.sock`. */
  url: string;
  /** Where it came from, for messages. */
  from: 'DOCKER_HOST' | 'the default socket';
  socketPath?: string;
  host?: string;
  port?: number;
  /** TLS or ssh: only dockerode speaks these. */
  needsDockerode: boolean;
}

export function endpointOf(env: NodeJS.ProcessEnv): Endpoint {
  const raw = env.DOCKER_HOST?.trim();
  if (!raw) return { url: 'unix:///var/run/docker.sock', from: 'the default socket', socketPath: '/var/run/docker.sock', needsDockerode: false };
  if (raw.startsWith('unix://')) return { url: raw, from: 'DOCKER_HOST', socketPath: raw.slice('unix://'.length), needsDockerode: false };
  if (raw.startsWith('/')) return { url: `unix://${raw}`, from: 'DOCKER_HOST', socketPath: raw, needsDockerode: false };
  const m = /^(?:tcp|http|https):\/\/\[?([^\]/]+?)\]?(?::(\d+))?\/?$/.exec(raw);
  const tls = Boolean(env.DOCKER_TLS_VERIFY && env.DOCKER_TLS_VERIFY !== '0') || raw.startsWith('https://');
  if (m) return { url: raw, from: 'DOCKER_HOST', host: m[1], port: Number(m[2] ?? (tls ? 2376 : 2375)), needsDockerode: tls };
  return { url: raw, from: 'DOCKER_HOST', needsDockerode: true };
}

/** The message every stack gets when the engine does not answer. */
export function unreachableMessage(ep: Endpoint, cause: string): string {
  const where = ep.from === 'DOCKER_HOST' ? `${ep.url} (from DOCKER_HOST)` : `${ep.url} (the default socket; DOCKER_HOST is not set)`;
  return (
    `cannot reach the Docker Engine at ${where}: ${cause}. ` +
    'Start it (`sudo systemctl start docker`, or `bash ../shared/scripts/docker-engine.sh` in a development checkout) ' +
    'or point DOCKER_HOST at a running engine.'
  );
}

export class EngineUnreachable extends OperationError {
  override name = 'EngineUnreachable';
}

/** GET a JSON document from the engine. Throws EngineUnreachable when the engine does not answer. */
export async function engineGet<T>(env: NodeJS.ProcessEnv, pathAndQuery: string, timeoutMs = 15_000): Promise<T> {
  const ep = endpointOf(env);
  if (ep.needsDockerode) return dockerodeGet<T>(env, pathAndQuery);
  return engineRequest<T>(env, 'GET', pathAndQuery, timeoutMs);
}

/** One Engine API request (plain HTTP over the socket or tcp://): JSON answer, or null for an empty body. */
async function engineRequest<T>(env: NodeJS.ProcessEnv, method: 'GET' | 'POST' | 'DELETE', pathAndQuery: string, timeoutMs = 15_000): Promise<T> {
  const ep = endpointOf(env);
  return new Promise<T>((resolve, reject) => {
    const req = http.request(
      { socketPath: ep.socketPath, host: ep.host, port: ep.port, path: pathAndQuery, method, headers: { Host: 'docker' }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 500) >= 400) {
            let msg = text.trim();
            try {
              msg = (JSON.parse(text) as { message?: string }).message ?? msg;
            } catch {
              /* not JSON */
            }
            reject(new OperationError(`Docker Engine: ${pathAndQuery.split('?')[0]}: HTTP ${res.statusCode}: ${msg}`));
            return;
          }
          if (method !== 'GET' && !text.trim()) return resolve(null as T);
          try {
            resolve(JSON.parse(text) as T);
          } catch {
            reject(new OperationError(`Docker Engine at ${ep.url} answered with something that is not JSON`));
          }
        });
        res.on('error', (e) => reject(new EngineUnreachable(unreachableMessage(ep, e.message))));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${Math.round(timeoutMs / 1000)}s`)));
    req.on('error', (e) => reject(new EngineUnreachable(unreachableMessage(ep, e.message))));
    req.end();
  });
}

async function dockerodeGet<T>(env: NodeJS.ProcessEnv, pathAndQuery: string): Promise<T> {
  const docker = await dockerClient(env);
  const [p, q] = pathAndQuery.split('?');
  const options = Object.fromEntries(new URLSearchParams(q ?? ''));
  try {
    return await new Promise<T>((resolve, reject) =>
      (docker as unknown as { modem: { dial(o: unknown, cb: (e: Error | null, d: T) => void): void } }).modem.dial(
        { path: `${p}?`, method: 'GET', options, statusCodes: { 200: true, 500: 'server error' } },
        (e, d) => (e ? reject(e) : resolve(d)),
      ),
    );
  } catch (err) {
    throw new EngineUnreachable(unreachableMessage(endpointOf(env), (err as Error).message));
  }
}

/** A dockerode client for DOCKER_HOST (lazily imported). */
export async function dockerClient(env: NodeJS.ProcessEnv) {
  const { default: Docker } = await import('dockerode');
  const ep = endpointOf(env);
  if (ep.socketPath) return new Docker({ socketPath: ep.socketPath });
  if (ep.host && !ep.needsDockerode) return new Docker({ host: ep.host, port: ep.port, protocol: 'http' });
  // TLS / ssh: dockerode's own DOCKER_HOST / DOCKER_CERT_PATH handling.
  // DOCKER_CERT_PATH defaults to ~/.docker as the docker CLI's does (an unset variable assigned to
  // process.env would become the text "undefined").
  const saved = { ...process.env };
  const home = env.HOME || (await import('node:os')).homedir();
  const wanted: Record<string, string | undefined> = { DOCKER_HOST: env.DOCKER_HOST, DOCKER_TLS_VERIFY: env.DOCKER_TLS_VERIFY, DOCKER_CERT_PATH: env.DOCKER_CERT_PATH || (env.DOCKER_TLS_VERIFY ? `${home}/.docker` : undefined) };
  for (const [k, v] of Object.entries(wanted)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
  try {
    return new Docker();
  } finally {
    for (const k of ['DOCKER_HOST', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH']) if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
}

// ---- what the stacks kind reads ------------------------------------------------------------------

export type Health = 'healthy' | 'unhealthy' | 'starting' | null;

/** One compose-made container, as the list endpoint shows it. Deterministic (no "Up 3 minutes"). */
export interface ContainerInfo {
  id: string;
  name: string;
  project: string;
  service: string;
  number: number;
  /** created | running | paused | restarting | removing | exited | dead */
  state: string;
  health: Health;
  exit_code: number | null;
  image: string;
  image_id: string;
  config_hash: string;
}

interface ApiContainer {
  Id: string;
  Names?: string[];
  Image: string;
  ImageID: string;
  State: string;
  Status: string;
  Labels?: Record<string, string>;
}

interface ApiImage {
  Id: string;
  RepoTags?: string[] | null;
}

export function healthOf(status: string): Health {
  if (/\(healthy\)/.test(status)) return 'healthy';
  if (/\(unhealthy\)/.test(status)) return 'unhealthy';
  if (/\(health: starting\)/.test(status)) return 'starting';
  return null;
}

function toInfo(c: ApiContainer): ContainerInfo {
  const l = c.Labels ?? {};
  const exit = /^Exited \((-?\d+)\)/.exec(c.Status);
  return {
    id: c.Id,
    name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, ''),
    project: l[COMPOSE_PROJECT] ?? '',
    service: l[COMPOSE_SERVICE] ?? '',
    number: Number(l[COMPOSE_NUMBER] ?? 1),
    state: c.State,
    health: healthOf(c.Status),
    exit_code: exit ? Number(exit[1]) : null,
    image: c.Image,
    image_id: c.ImageID,
    config_hash: l[COMPOSE_HASH] ?? '',
  };
}

/** Image references as compose and the engine spell them: `busybox` → `busybox:latest`. */
export function normalizeRef(ref: string): string {
  let r = ref.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '').replace(/^index\.docker\.io\/library\//, '');
  if (!r.includes('@') && !/:[^/]+$/.test(r)) r += ':latest';
  return r;
}

export interface EngineSnapshot {
  /** Compose containers (not one-off runs), by project. */
  byProject: Map<string, ContainerInfo[]>;
  /** Image reference (normalised) → image ID. */
  images: Map<string, string>;
  /** `docker ps`-style status text ("Up 3 minutes (healthy)") by container id; only when asked. */
  statusText: Map<string, string>;
}

/**
 * One refresh for every stack: the containers that carry a compose project label (one call) and the
 * local images (one call, concurrently: compose's config hash depends on the image a tag points to).
 */
export async function snapshot(env: NodeJS.ProcessEnv): Promise<EngineSnapshot> {
  const filters = encodeURIComponent(JSON.stringify({ label: [COMPOSE_PROJECT] }));
  const [containers, images] = await Promise.all([
    engineGet<ApiContainer[]>(env, `/containers/json?all=1&filters=${filters}`),
    engineGet<ApiImage[]>(env, '/images/json'),
  ]);
  const byProject = new Map<string, ContainerInfo[]>();
  const statusText = new Map<string, string>();
  for (const c of containers) {
    if (c.Labels?.[COMPOSE_ONEOFF] === 'True') continue;
    const info = toInfo(c);
    byProject.set(info.project, [...(byProject.get(info.project) ?? []), info]);
    statusText.set(info.id, c.Status);
  }
  for (const list of byProject.values()) list.sort((a, b) => (a.service === b.service ? a.number - b.number : a.service < b.service ? -1 : 1));
  const imageMap = new Map<string, string>();
  for (const i of images) for (const t of i.RepoTags ?? []) if (t !== '<none>:<none>') imageMap.set(normalizeRef(t), i.Id);
  return { byProject, images: imageMap, statusText };
}

/** Containers of one project (for waits after `up`). */
export async function projectContainers(env: NodeJS.ProcessEnv, project: string): Promise<ContainerInfo[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`${COMPOSE_PROJECT}=${project}`] }));
  const list = await engineGet<ApiContainer[]>(env, `/containers/json?all=1&filters=${filters}`);
  return list.filter((c) => c.Labels?.[COMPOSE_ONEOFF] !== 'True').map(toInfo);
}

/**
 * Remove everything a compose project left (containers, then its networks) through the Engine API: used
 * when the stack is no longer declared and its compose files are gone. Volumes only when asked.
 */
/** Stop (10 s grace) and remove the given containers, by id (dockerode only for TLS/ssh endpoints). */
export async function removeContainers(env: NodeJS.ProcessEnv, containers: { id: string; name: string }[], log: (line: string) => void): Promise<void> {
  const viaDockerode = endpointOf(env).needsDockerode ? await dockerClient(env) : null;
  await Promise.all(
    containers.map(async (c) => {
      log(`removing container ${c.name}`);
      if (viaDockerode) {
        await viaDockerode.getContainer(c.id).stop({ t: 10 }).catch(() => undefined);
        await viaDockerode.getContainer(c.id).remove({ force: true, v: false });
        return;
      }
      await engineRequest(env, 'POST', `/containers/${encodeURIComponent(c.id)}/stop?t=10`, 30_000).catch(() => undefined);
      await engineRequest(env, 'DELETE', `/containers/${encodeURIComponent(c.id)}?force=true`, 30_000);
    }),
  );
}

export async function removeProject(env: NodeJS.ProcessEnv, project: string, opts: { volumes: boolean; log(line: string): void }): Promise<void> {
  if (!endpointOf(env).needsDockerode) {
    // Plain HTTP (the bundled dockerode cannot load its ssh transport outside node_modules).
    const filters = encodeURIComponent(JSON.stringify({ label: [`${COMPOSE_PROJECT}=${project}`] }));
    const cs = await engineGet<{ Id: string; Names?: string[] }[]>(env, `/containers/json?all=1&filters=${filters}`);
    await removeContainers(env, cs.map((c) => ({ id: c.Id, name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, '') })), opts.log);
    for (const n of await engineGet<{ Id: string; Name: string }[]>(env, `/networks?filters=${filters}`)) {
      opts.log(`removing network ${n.Name}`);
      // (in use by another project's containers: kept, as compose keeps it, and said)
      await engineRequest(env, 'DELETE', `/networks/${encodeURIComponent(n.Id)}`).catch((e: Error) => opts.log(`network ${n.Name} kept: ${e.message.replace(/^Docker Engine: \S+: /, '')}`));
    }
    if (opts.volumes) {
      for (const v of (await engineGet<{ Volumes: { Name: string }[] | null }>(env, `/volumes?filters=${filters}`)).Volumes ?? []) {
        opts.log(`removing volume ${v.Name}`);
        await engineRequest(env, 'DELETE', `/volumes/${encodeURIComponent(v.Name)}`);
      }
    }
    return;
  }
  const docker = await dockerClient(env);
  const label = { label: [`${COMPOSE_PROJECT}=${project}`] };
  const containers = await docker.listContainers({ all: true, filters: label });
  await Promise.all(
    containers.map(async (c) => {
      const name = (c.Names?.[0] ?? c.Id).replace(/^\//, '');
      opts.log(`removing container ${name}`);
      await docker.getContainer(c.Id).remove({ force: true, v: false });
    }),
  );
  const networks = await docker.listNetworks({ filters: label });
  for (const n of networks) {
    opts.log(`removing network ${n.Name}`);
    await docker.getNetwork(n.Id).remove();
  }
  if (opts.volumes) {
    const vols = (await docker.listVolumes({ filters: label })).Volumes ?? [];
    for (const v of vols) {
      opts.log(`removing volume ${v.Name}`);
      await docker.getVolume(v.Name).remove();
    }
  }
}
