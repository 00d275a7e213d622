// runtimes.<name>: the server that serves models.<name> (`runtime:` on the model), as a compose project
// the tool owns. The spec is made by the expander (expand.ts) from the model and the detected hardware;
// a manifest never writes a runtimes section itself.
import type { Target } from '../../core/kind.js';
import type { StateEntry } from '../../core/types.js';
import type { HardwareClass, RuntimeId } from '../../providers/models/runtime-table.js';
import type { Readiness } from '../../providers/models/runtime-api.js';
import type { StackActual, StackData, StackSpec } from '../stacks/types.js';

export interface RuntimeSpec {
  /** The model it serves (`models.<name>`). */
  model: string;
  runtime: RuntimeId;
  image: string | null;
  /** `manifest` when the model's `image:` chose it, else the hardware table. */
  image_from: 'manifest' | 'table';
  /** Approximate download size of the image when the table knows it. */
  image_bytes: number | null;
  hardware: HardwareClass;
  /** GPU reservation: `devices` (compose device request, CUDA desktops), `runtime` (nvidia runtime, Jetson), none. */
  gpu: 'devices' | 'runtime' | null;
  gpus: number;
  /** The runtime needs a GPU this machine does not have (a plan error), or null. */
  gpu_problem: string | null;
  port: number;
  container_port: number;
  context_size: number | null;
  quantization: string | null;
  /** The id the API must list. */
  served_name: string;
  /** The verified model file on the host, and its sha256 (a label: a new file recreates the container). */
  file: string;
  sha256: string;
  file_bytes: number | null;
  /** VRAM the runtime needs (declared `vram:` or estimated from the file), GB; null on CPU. */
  vram_gb: number | null;
  /** GPU memory detected on this machine, GB (null: none or unknown). */
  vram_total_gb: number | null;
  state: 'up' | 'down';
  /** Seconds apply waits for the API to answer with the model. */
  ready_timeout: number;
  /** The compose project and its generated file ($PMOVES_HOME/runtimes/<name>/compose.yaml). */
  project: string;
  compose_file: string;
  compose_command: string[] | null;
}

export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

export interface RuntimeActual {
  stack: StackActual;
  /** The model file as it is now (null: missing). */
  file: FileIdentity | null;
  /** The API's answer; null when no container runs (volatile: a live reading). */
  volatile: { readiness: Readiness | null };
}

export interface RuntimeData {
  runtime: RuntimeId;
  image: string | null;
  port: number;
  served_name: string;
  stack: StackData;
  /** The model file the running container was started with. */
  file: FileIdentity | null;
}

/** The stacks machinery's view of this runtime: one generated compose file, one service. */
export function stackSpecOf(s: RuntimeSpec): StackSpec {
  const path = s.compose_file;
  return {
    project: s.project,
    files: [path],
    project_directory: path.slice(0, path.lastIndexOf('/')),
    profiles: [],
    env_files: [],
    services: null,
    state: s.state,
    wait: true,
    wait_timeout: s.ready_timeout,
    remove_orphans: true,
    remove_volumes: false,
    compose_command: s.compose_command,
  };
}

/** The target the stacks kind would see for this runtime (its prior state is the runtime's `stack`). */
export function stackTarget(t: Target<RuntimeSpec>): Target<StackSpec> {
  const prior = t.prior?.data as RuntimeData | undefined;
  const priorEntry: StateEntry | undefined = t.prior && prior ? { ...t.prior, section: 'stacks', data: prior.stack } : undefined;
  return {
    address: t.address,
    name: t.name,
    desired: t.desired ? { ...t.desired, section: 'stacks', spec: stackSpecOf(t.desired.spec) } : null,
    prior: priorEntry,
  };
}

export const SERVICE = 'server';
