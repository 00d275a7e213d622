// The model runtimes pmoves mini serves as compose services, and the one table of which image runs each
// on which hardware: CUDA builds on NVIDIA desktops, Jetson (L4T) builds on Jetsons, CPU builds
// elsewhere. A model's `image:` overrides the table. docs/models.md lists the same table for people.

export type RuntimeId = 'whisper.cpp' | 'llama.cpp' | 'vllm' | 'trt-llm';

/** The hardware class an image is built for: from the detected GPU. */
export type HardwareClass = 'cuda' | 'jetson' | 'cpu';

export interface ServeOptions {
  /** The model file inside the container (mounted read-only). */
  file: string;
  /** The name the API must list (OpenAI `/v1/models` ids). */
  served: string;
  /** The port the server listens on inside the container. */
  port: number;
  context_size: number | null;
  quantization: string | null;
  gpus: number;
}

export interface RuntimeDef {
  id: RuntimeId;
  /** Image per hardware class; null: none known (the runtime does not run there, or set `image:`). */
  images: Record<HardwareClass, string | null>;
  /** Approximate compressed download size of each table image in bytes (for the plan's budget). */
  imageBytes: Record<HardwareClass, number | null>;
  /** The port the server listens on inside the container. */
  containerPort: number;
  /** How readiness is asked: OpenAI-compatible `GET /v1/models`, or whisper.cpp server's own endpoints. */
  api: 'openai' | 'whisper';
  /**
   * The container's command (the image's own entrypoint stays). whisper.cpp's images have
   * `ENTRYPOINT ["bash", "-c"]`: their command is one shell line.
   */
  command(o: ServeOptions): string[];
  /** VRAM a running server needs beyond the model file (KV cache, CUDA context), in GB. */
  vramOverheadGb: number;
}

const GB = 1e9;

function flag(name: string, v: string | number | null): string[] {
  return v === null ? [] : [name, String(v)];
}

const TABLE: RuntimeDef[] = [
  {
    id: 'whisper.cpp',
    images: { cuda: 'ghcr.io/ggml-org/whisper.cpp:main-cuda', jetson: null, cpu: 'ghcr.io/ggml-org/whisper.cpp:main' },
    imageBytes: { cuda: 2.6 * GB, jetson: null, cpu: 0.15 * GB },
    containerPort: 8080,
    api: 'whisper',
    command: (o) => [['whisper-server', '--host', '0.0.0.0', '--port', String(o.port), '-m', o.file, ...(o.gpus === 0 ? ['--no-gpu'] : [])].join(' ')],
    vramOverheadGb: 0.5,
  },
  {
    id: 'llama.cpp',
    images: { cuda: 'ghcr.io/ggml-org/llama.cpp:server-cuda', jetson: 'dustynv/llama_cpp:r36.4.0', cpu: 'ghcr.io/ggml-org/llama.cpp:server' },
    imageBytes: { cuda: 2.4 * GB, jetson: 4.5 * GB, cpu: 0.1 * GB },
    containerPort: 8080,
    api: 'openai',
    command: (o) => ['-m', o.file, '--alias', o.served, '--host', '0.0.0.0', '--port', String(o.port), ...flag('-c', o.context_size), ...(o.gpus > 0 ? ['-ngl', '999'] : [])],
    vramOverheadGb: 1,
  },
  {
    id: 'vllm',
    images: { cuda: 'vllm/vllm-openai:latest', jetson: 'dustynv/vllm:r36.4.0', cpu: 'public.ecr.aws/q9t5s3a7/vllm-cpu-release-repo:latest' },
    imageBytes: { cuda: 10 * GB, jetson: 8 * GB, cpu: 3 * GB },
    containerPort: 8000,
    api: 'openai',
    command: (o) => [
      '--model', o.file,
      '--served-model-name', o.served,
      '--host', '0.0.0.0',
      '--port', String(o.port),
      ...flag('--max-model-len', o.context_size),
      ...flag('--quantization', o.quantization),
      ...(o.gpus > 1 ? ['--tensor-parallel-size', String(o.gpus)] : []),
    ],
    vramOverheadGb: 2,
  },
  {
    id: 'trt-llm',
    // TensorRT-LLM needs an NVIDIA GPU: no CPU build exists.
    images: { cuda: 'nvcr.io/nvidia/tensorrt-llm/release:latest', jetson: 'dustynv/tensorrt_llm:0.12-r36.4.0', cpu: null },
    imageBytes: { cuda: 18 * GB, jetson: 9 * GB, cpu: null },
    containerPort: 8000,
    api: 'openai',
    command: (o) => ['trtllm-serve', o.file, '--host', '0.0.0.0', '--port', String(o.port), ...(o.gpus > 1 ? ['--tp_size', String(o.gpus)] : [])],
    vramOverheadGb: 2,
  },
];

export function runtimeDef(id: RuntimeId): RuntimeDef {
  return TABLE.find((d) => d.id === id)!;
}

/** Runtimes that have no CPU build: on a machine without an NVIDIA GPU they are a plan error. */
export function gpuOnly(id: RuntimeId): boolean {
  return runtimeDef(id).images.cpu === null;
}

/** The hardware class of a machine, from what detection found. */
export function hardwareClass(gpu: { type: string }, jetson: unknown): HardwareClass {
  if (jetson || gpu.type === 'nvidia-tegra') return 'jetson';
  if (gpu.type === 'nvidia') return 'cuda';
  return 'cpu';
}
