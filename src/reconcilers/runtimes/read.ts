// Reading runtimes: the generated compose file is (re)written first (the tool's own file, a pure
// function of the manifest), then the stacks machinery reads the project (one Engine snapshot, compose's
// own answer or its cache); then the model file as it is now, and the API's answer when a container runs.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { RunContext, Target } from '../../core/kind.js';
import { readFileOrNull, writeFileAtomic } from '../../core/fs.js';
import { readStacks } from '../stacks/read.js';
import { composeText } from './compose.js';
import { stackTarget, type FileIdentity, type RuntimeActual, type RuntimeData, type RuntimeSpec } from './spec.js';

/** Writes the runtime's compose file when its text differs (never touches a file it does not own). */
export async function writeCompose(s: RuntimeSpec): Promise<void> {
  const text = composeText(s);
  if ((await readFileOrNull(s.compose_file)) === text) return;
  await fsp.mkdir(path.dirname(s.compose_file), { recursive: true });
  await writeFileAtomic(s.compose_file, text);
}

/** Removes a runtime's generated compose folder, and runtimes/ when it was the last one. */
export async function removeCompose(file: string): Promise<void> {
  const dir = path.dirname(file);
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.rmdir(path.dirname(dir)).catch(() => undefined);
}

export async function fileIdentity(file: string): Promise<FileIdentity | null> {
  try {
    const st = await fsp.stat(file);
    return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
  } catch {
    return null;
  }
}

export async function readiness(ctx: RunContext, s: { runtime: RuntimeSpec['runtime']; port: number; served_name: string }) {
  const { runtimeDef } = await import('../../providers/models/runtime-table.js');
  const api = await import('../../providers/models/runtime-api.js');
  return runtimeDef(s.runtime).api === 'whisper' ? api.whisperReadiness(s.port, ctx.signal) : api.openaiReadiness(s.port, s.served_name, ctx.signal);
}

export async function readRuntimes(ctx: RunContext, targets: Target<RuntimeSpec>[]): Promise<Map<string, RuntimeActual | Error>> {
  const out = new Map<string, RuntimeActual | Error>();
  const ready: Target<RuntimeSpec>[] = [];
  for (const t of targets) {
    try {
      if (t.desired && t.desired.spec.state === 'up' && t.desired.spec.image) await writeCompose(t.desired.spec);
      ready.push(t);
    } catch (err) {
      out.set(t.address, err as Error);
    }
  }
  const stacks = await readStacks(ctx, ready.map(stackTarget));
  // A runtime never applied keeps no generated file after its plan: apply writes it again.
  for (const t of ready) if (!t.prior && t.desired) await removeCompose(t.desired.spec.compose_file);
  await Promise.all(
    ready.map(async (t) => {
      const stack = stacks.get(t.address);
      if (!stack || stack instanceof Error) return out.set(t.address, stack ?? new Error('no result'));
      const prior = t.prior?.data as RuntimeData | undefined;
      const s = t.desired?.spec ?? (prior ? { runtime: prior.runtime, port: prior.port, served_name: prior.served_name } : null);
      const file = t.desired?.spec.file ?? null;
      const running = stack.containers.some((c) => c.state === 'running');
      out.set(t.address, {
        stack,
        file: file ? await fileIdentity(file) : null,
        volatile: { readiness: running && s ? await readiness(ctx, s) : null },
      });
    }),
  );
  return out;
}
