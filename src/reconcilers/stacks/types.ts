// The stacks kind's data: spec, what compose says (cached in state), what the engine shows.
import type { Target } from '../../core/kind.js';
import type { ContainerInfo } from '../../providers/docker/engine.js';
import type { DryAction, ProjectTop } from '../../providers/docker/compose.js';
import type { GpuNeed } from '../../providers/docker/gpu.js';

export interface StackSpec {
  project: string;
  files: string[];
  project_directory: string;
  profiles: string[];
  env_files: string[];
  services: string[] | null;
  state: 'up' | 'down';
  wait: boolean;
  /** Seconds. */
  wait_timeout: number;
  remove_orphans: boolean;
  remove_volumes: boolean;
  /** Leave out services this machine cannot run (as --skip-unsatisfiable does), declared on the stack. */
  skip_unsatisfiable?: boolean;
  /** The manifest's top-level `compose.command` (set by stacksExpander); null = find one. */
  compose_command: string[] | null;
}

/** A service's config as `compose config` prints it, with environment values and secret-looking keys masked. */
export type MaskedConfig = Record<string, unknown>;

export interface CachedService {
  hash: string;
  image: string | null;
  /** What `image` pointed to when the hash was computed (compose v1 hashes it in). */
  image_id: string | null;
}

/** What compose said a stack should be, and the key of everything it read to say it. */
export interface StackDesired {
  key: string;
  /** Compose generation that answered: 2 plans from its `--dry-run up -d`, 1 from config hashes. */
  generation?: 1 | 2;
  /** Per service: env files (base names) and the environment keys that come only from them (names, no values). */
  env_sources?: Record<string, { files: string[]; keys: string[] }>;
  /** v2: what `up` would do per service (absent: nothing). Never a value: service names and verbs. */
  actions?: Record<string, DryAction>;
  /** External networks/volumes compose expects to exist, and the project's own named volumes. */
  top?: ProjectTop;
  /** Services that reserve GPUs (gpus:, deploy.resources.reservations.devices, runtime: nvidia): what they ask. */
  gpu?: Record<string, GpuNeed>;
  /** Active services (under the profiles) → hash. */
  services: Record<string, CachedService>;
  /** Every service in the files (orphans are containers of services not in this list). */
  all: string[];
  configs: Record<string, MaskedConfig>;
}

/** state.json data of a stack. Never a secret value: masked configs hold keyed digests. */
export interface StackData {
  project: string;
  project_directory: string;
  files: string[];
  profiles: string[];
  env_files: string[];
  compose_command: string[] | null;
  cache?: StackDesired;
  /** Last applied per-service config, for attribute-level reasons. */
  applied?: Record<string, { hash: string; config: MaskedConfig }>;
}

export interface StackActual {
  project: string;
  containers: ContainerInfo[];
  /** null when compose was not asked (state: down, not declared) or failed. */
  desired: StackDesired | null;
  /** True when `desired` came from the state's cache (no compose process). */
  cached: boolean;
  compose_error?: string;
  /** When only compose's dry run failed: the project's networks and volumes from its `config`. */
  dry_run_top?: ProjectTop;
  tool_error?: string;
  /** Services this machine cannot run (a GPU it does not have, or a dependency on such a service) → why. */
  unsatisfiable?: Record<string, string>;
  /** External networks and volumes the files name that the engine does not have ("network X"). */
  missing_external?: string[];
  /** state: down with remove_volumes: the project's volumes the engine has (what `down --volumes` removes). */
  volumes?: string[];
  /** Env files compose needs that do not exist (yet): compose was not asked. */
  missing_inputs?: string[];
  /** Scrubs every env-file / interpolation / bundle value from a line compose printed (never stored). */
  scrub?: (line: string) => string;
  /** `docker ps` status text by container id (only for `status`). */
  status_text?: Record<string, string>;
}


export function seconds(v: unknown, dflt: number): number {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return dflt;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) return dflt;
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] ?? 's']!;
}

export function dataOf(t: Target<StackSpec>): StackData | null {
  if (t.desired) {
    const s = t.desired.spec;
    return { project: s.project, project_directory: s.project_directory, files: s.files, profiles: s.profiles, env_files: s.env_files, compose_command: s.compose_command };
  }
  return (t.prior?.data as StackData | undefined) ?? null;
}


/** The services `up` acts on: the subset (or every active service) and, under v2, what compose adds (dependencies). */
export function upServices(spec: StackSpec, desired: StackDesired): string[] {
  const v2 = desired.generation === 2;
  return Object.keys(desired.services).filter((s) => !spec.services || spec.services.includes(s) || (v2 && desired.actions?.[s] && desired.actions[s] !== 'remove'));
}
