// Planning a runtime (pure): the stacks plan of its compose project, plus what only a runtime knows:
// the hardware it cannot run on, the model file replaced under a running server (restart), and the
// API's answer (`starting`, `ready`, `failed: <reason>`), shown in the reason.
import type { PlanContext, Target } from '../../core/kind.js';
import type { Change, Diagnostic, PlanResult } from '../../core/types.js';
import { readinessWords } from '../../providers/models/runtime-api.js';
import { planStack } from '../stacks/plan.js';
import { SERVICE, stackTarget, type FileIdentity, type RuntimeActual, type RuntimeData, type RuntimeSpec } from './spec.js';

function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

export function display(s: RuntimeSpec) {
  return {
    runtime: s.runtime,
    image: s.image,
    serves: s.served_name,
    port: `127.0.0.1:${s.port}`,
    hardware: s.hardware,
    gpus: s.gpu ? s.gpus : 0,
  };
}

export function planRuntime(t: Target<RuntimeSpec>, a: RuntimeActual, ctx: PlanContext): PlanResult {
  const spec = t.desired?.spec;
  const diagnostics: Diagnostic[] = [];
  if (spec && spec.state === 'up') {
    if (spec.gpu_problem) diagnostics.push({ severity: 'error', address: t.address, summary: spec.gpu_problem });
    else if (!spec.image) diagnostics.push({ severity: 'error', address: t.address, summary: `no ${spec.hardware} image is known for ${spec.runtime}: set image: on ${spec.model} (docs/models.md lists the images per hardware)` });
    if (diagnostics.length) return { action: a.stack.containers.length ? 'update' : 'create', reason: 'it cannot run on this machine (see the error below)', before: null, after: display(spec), diagnostics };
  }
  const sp = planStack(stackTarget(t), a.stack, ctx);
  const parts = (sp.parts ?? []).map((p) => ({ ...p, section: 'runtimes' }));
  const words = readinessWords(a.volatile.readiness);
  const prior = t.prior?.data as RuntimeData | undefined;
  if (!spec || spec.state === 'down' || sp.action !== 'no-op') {
    const after = sp.action === 'create' && spec ? display(spec) : sp.after;
    // A runtime has no volumes: the stacks warning about kept volumes does not apply.
    const warnings = (sp.warnings ?? []).filter((w) => !w.includes('volumes'));
    return { ...sp, after, parts, warnings, ...(sp.action === 'no-op' || sp.action === 'delete' ? {} : { reason: `${sp.reason}; then waits until its API answers with ${spec!.served_name}` }) };
  }
  if (prior?.file && a.file && !sameFile(prior.file, a.file)) {
    const restart: Change = {
      address: `${t.address}.${SERVICE}`,
      section: 'runtimes',
      name: `${t.name}.${SERVICE}`,
      action: 'update',
      cause: 'model-changed',
      reason: `the model file ${spec.file} changed since the server started`,
      before: { size: prior.file.size, mtime: new Date(prior.file.mtimeMs).toISOString() },
      after: { size: a.file.size, mtime: new Date(a.file.mtimeMs).toISOString() },
      verb: 'restarted',
    };
    return { action: 'update', reason: `the model file changed since the server started: ${SERVICE} to be restarted`, before: null, after: null, parts: [restart] };
  }
  const r = a.volatile.readiness;
  return {
    ...sp,
    reason: `${sp.reason}, ${words}`,
    parts,
    ...(r?.state === 'failed' ? { diagnostics: [{ severity: 'warning', address: t.address, summary: `${t.address} is running but not serving ${spec.served_name}: ${r.reason}` }] } : {}),
  };
}
