// The runtimes expander: every file model with `runtime: whisper.cpp | llama.cpp | vllm | trt-llm`
// (in the manifest, a bundle or a profile's bundles) gets a runtimes.<name> resource that serves it,
// after it (depends_on models.<name>). The image, the GPU reservation and the VRAM budget come from the
// detected hardware here, so that plan stays a pure function of the spec.
import path from 'node:path';
import type { Diagnostic, Resource } from '../../core/types.js';
import type { Expander } from '../../manifest/load.js';
import { gpuOnly, hardwareClass, runtimeDef } from '../../providers/models/runtime-table.js';
import type { FileModelSpec, ModelSpec } from '../models/index.js';
import type { RuntimeSpec } from './spec.js';

const GB = 1e9;

export function projectOf(name: string): string {
  return `pmoves-runtime-${name.toLowerCase().replace(/[^a-z0-9_-]/g, '-')}`;
}

export const runtimesExpander: Expander = async (m, ctx) => {
  const served = m.resources.filter((r): r is Resource<FileModelSpec> => r.section === 'models' && (r.spec as ModelSpec).provider === 'file' && Boolean((r.spec as FileModelSpec).serve));
  if (!served.length) return [];
  const { detectFromEnv } = await import('../../providers/hardware/detect.js');
  const { gpuShortfall, gpuSupply } = await import('../../providers/docker/gpu.js');
  const machine = await detectFromEnv(ctx.env);
  const machineClass = hardwareClass(machine.gpu, machine.jetson);
  const supply = gpuSupply(machine);
  const command = (m.data.compose as { command?: string[] } | undefined)?.command ?? null;
  const declared = new Set(m.resources.map((r) => r.address));
  const diagnostics: Diagnostic[] = [];
  for (const model of served) {
    const address = `runtimes.${model.name}`;
    if (declared.has(address)) continue;
    const s = model.spec;
    const o = s.serve!;
    const def = runtimeDef(o.runtime);
    // The per-service GPU rule of stacks (src/providers/docker/gpu.ts): a runtime reserves GPUs only where
    // the machine can give them (an NVIDIA GPU, enough of them, the NVIDIA container runtime); else it
    // runs its CPU build, and a runtime without one cannot be served here (a plan error).
    const want = o.gpus ?? (gpuOnly(o.runtime) ? 1 : machineClass === 'cpu' ? 0 : 1);
    const short = want > 0 ? gpuShortfall({ count: want, why: `runtime ${o.runtime}`, runtime: machineClass === 'jetson' }, supply) : null;
    const onGpu = want > 0 && (!short || gpuOnly(o.runtime));
    const hardware = onGpu ? (machineClass === 'cpu' ? 'cuda' : machineClass) : 'cpu';
    const gpus = onGpu ? want : 0;
    const gpuProblem = short && gpuOnly(o.runtime) ? `${o.runtime} needs an NVIDIA GPU (it has no CPU build) and ${short}: models.${model.name} cannot be served here` : null;
    const file = `/models/${path.basename(s.path)}`;
    const vramBytes = gpus === 0 || gpuProblem ? null : (o.vram ?? (s.size === null ? null : s.size * 1.1 + def.vramOverheadGb * GB));
    const spec: RuntimeSpec = {
      model: model.address,
      runtime: o.runtime,
      image: o.image ?? def.images[hardware],
      image_from: o.image ? 'manifest' : 'table',
      image_bytes: o.image ? null : def.imageBytes[hardware],
      hardware,
      gpu: gpus === 0 ? null : hardware === 'jetson' ? 'runtime' : 'devices',
      gpus,
      gpu_problem: gpuProblem,
      port: o.port ?? def.containerPort,
      container_port: def.containerPort,
      context_size: o.context_size,
      quantization: o.quantization,
      served_name: o.served_name ?? (o.runtime === 'trt-llm' ? file : model.name),
      file: s.path,
      sha256: s.sha256,
      file_bytes: s.size,
      vram_gb: vramBytes === null ? null : Math.round((vramBytes / GB) * 10) / 10,
      vram_total_gb: hardware === 'jetson' ? (machine.gpu.vramGb ?? machine.ramGb) : machine.gpu.vramGb,
      state: s.state === 'absent' ? 'down' : 'up',
      ready_timeout: o.ready_timeout ?? 300,
      project: projectOf(model.name),
      compose_file: path.join(ctx.home.root, 'runtimes', model.name, 'compose.yaml'),
      compose_command: command,
    };
    m.resources.push({
      address,
      section: 'runtimes',
      name: model.name,
      spec,
      dependsOn: [model.address],
      origin: model.origin ? `${model.origin}, runtime of ${model.address}` : `runtime of ${model.address}`,
      ...(model.unsatisfied ? { unsatisfied: model.unsatisfied } : {}),
    });
  }
  return diagnostics;
};
