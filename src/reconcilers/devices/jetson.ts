// devices.<name> with type jetson: this machine's Argus camera service, its CSI cameras (checked, not
// changed) and Docker's default runtime in daemon.json.
import type { PlanContext, RunContext, Target } from '../../core/kind.js';
import { isOwned, ownedAfter } from '../../core/ownership.js';
import type { ApplyResult, Diagnostic, PlanResult } from '../../core/types.js';
import type { JetsonReading } from '../../providers/edge/jetson.js';
import type { JetsonSpec } from './spec.js';

export type JetsonActual = { type: 'jetson'; error: string | null } & Partial<JetsonReading>;

export interface JetsonState {
  type: 'jetson';
  daemon_json: string;
  /** default-runtime before this tool set it (null: the key was absent: the key is then this tool's, see `owned`). */
  previous_runtime: string | null;
  /** What this tool set, and whether it added runtimes.nvidia. */
  set_runtime: string | null;
  added_runtime: boolean;
}

export async function readJetsonDevice(ctx: RunContext, t: Target<JetsonSpec>): Promise<JetsonActual> {
  const { probeFromEnv } = await import('../../providers/hardware/probe.js');
  const { readJetson, daemonJsonPath } = await import('../../providers/edge/jetson.js');
  const p = await probeFromEnv(ctx.env);
  const prior = t.prior?.data as JetsonState | undefined;
  const file = t.desired ? daemonJsonPath(p, t.desired.spec.daemon_json) : (prior?.daemon_json ?? daemonJsonPath(p, null));
  try {
    return { type: 'jetson', error: null, ...(await readJetson(p, file)) };
  } catch (err) {
    return { type: 'jetson', error: (err as Error).message };
  }
}

function view(a: JetsonActual) {
  return {
    'nvargus-daemon': `${a.nvargus?.enabled}, ${a.nvargus?.active}`,
    cameras: (a.cameras ?? []).filter((c) => c.csi).map((c) => `${c.device} (${c.name})`),
    'default-runtime': a.daemon?.defaultRuntime ?? null,
  };
}

interface Needs {
  nvargus: boolean;
  runtime: boolean;
}

function needs(spec: JetsonSpec, a: JetsonActual): Needs {
  const running = a.nvargus?.enabled === 'enabled' && a.nvargus.active === 'active';
  const stopped = a.nvargus?.enabled !== 'enabled' && a.nvargus?.active !== 'active';
  return {
    nvargus: spec.nvargus === 'running' ? !running : !stopped,
    runtime: spec.docker_runtime !== null && (a.daemon?.defaultRuntime !== spec.docker_runtime || (spec.docker_runtime === 'nvidia' && !a.daemon?.hasRuntime)),
  };
}

export function planJetson(t: Target<JetsonSpec>, a: JetsonActual, _ctx: PlanContext): PlanResult {
  const spec = t.desired?.spec;
  if (!spec) return planRemoval(t, a);
  const err = (summary: string, detail?: string): Diagnostic => ({ severity: 'error', address: t.address, summary, ...(detail ? { detail } : {}) });
  if (a.error) return { action: 'no-op', reason: 'cannot be read', before: null, after: null, diagnostics: [err(a.error)] };
  if (!a.jetson) return { action: 'no-op', reason: 'not a Jetson', before: null, after: null, diagnostics: [err('this machine is not a Jetson (no /proc/device-tree model, no /etc/nv_tegra_release)')] };
  const before = view(a);
  const diagnostics: Diagnostic[] = [];
  const csi = (a.cameras ?? []).filter((c) => c.csi);
  if (csi.length < spec.cameras.min) diagnostics.push(err(`needs ${spec.cameras.min} CSI camera${spec.cameras.min > 1 ? 's' : ''}, found ${csi.length}`, 'check the ribbon cable and the camera overlay (sudo /opt/nvidia/jetson-io/jetson-io.py), then reboot'));
  for (const s of spec.cameras.sensors) if (!csi.some((c) => c.name?.toLowerCase().includes(s.toLowerCase()))) diagnostics.push(err(`no CSI camera with sensor ${s} (found: ${csi.map((c) => c.name).join(', ') || 'none'})`));
  if (a.daemon?.problem && spec.docker_runtime !== null) diagnostics.push(err(`${a.daemon.problem}; not edited`, 'fix the file by hand, then plan again'));
  const n = needs(spec, a);
  const unknown = [a.nvargus!.enabled, a.nvargus!.active].find((w) => w.startsWith('unknown'));
  if (unknown && n.nvargus) {
    diagnostics.push(err(`nvargus-daemon: ${unknown}`, 'the camera service is managed with systemctl; run on the Jetson itself'));
    n.nvargus = false;
  }
  const words: string[] = [];
  const after = { ...before };
  if (n.nvargus) {
    words.push(`nvargus-daemon is ${a.nvargus!.enabled}/${a.nvargus!.active}: ${spec.nvargus === 'running' ? 'enable and start' : 'stop and disable'}`);
    after['nvargus-daemon'] = spec.nvargus === 'running' ? 'enabled, active' : 'disabled, inactive';
  }
  if (n.runtime && !a.daemon?.problem) {
    words.push(`${a.daemon!.path}: default-runtime ${a.daemon!.defaultRuntime ?? '(unset)'} -> ${spec.docker_runtime}${a.daemon!.hasRuntime || spec.docker_runtime !== 'nvidia' ? '' : ' (adds runtimes.nvidia)'}, then reload dockerd`);
    after['default-runtime'] = spec.docker_runtime;
  }
  if (!words.length) return { action: 'no-op', reason: `nvargus-daemon ${a.nvargus!.active}, ${csi.length} CSI camera(s), default-runtime ${a.daemon?.defaultRuntime ?? '(unset)'}`, before, after: before, diagnostics };
  return { action: 'update', reason: words.join('; '), before, after, diagnostics };
}

/**
 * No longer declared: as with agents' config files, what this tool created goes (the default-runtime
 * key it added to daemon.json, and runtimes.nvidia if it added that), what it changed stays; the
 * camera service is left running.
 */
function planRemoval(t: Target<JetsonSpec>, a: JetsonActual): PlanResult {
  const prior = t.prior?.data as JetsonState | undefined;
  const before = a.daemon ? { 'default-runtime': a.daemon.defaultRuntime } : null;
  const keep: PlanResult = { action: 'no-op', reason: 'not declared any more (the camera service and daemon.json are left as they are)', before, after: before };
  if (!prior?.set_runtime || !isOwned(t.prior) || !a.daemon || a.daemon.problem || a.daemon.defaultRuntime !== prior.set_runtime) return keep;
  return {
    action: 'delete',
    reason: `${a.daemon.path}: default-runtime ${prior.set_runtime} was added by this tool and is no longer declared: removed${prior.added_runtime ? ' with runtimes.nvidia' : ''}, then reload dockerd`,
    before,
    after: null,
    verb: 'removed from daemon.json',
  };
}

export async function applyJetson(ctx: RunContext, t: Target<JetsonSpec>, a: JetsonActual, planned: PlanResult): Promise<ApplyResult> {
  const spec = t.desired?.spec;
  const { probeFromEnv } = await import('../../providers/hardware/probe.js');
  const { systemctl, writeDaemonJson, editDaemonJson, uneditDaemonJson } = await import('../../providers/edge/jetson.js');
  const p = await probeFromEnv(ctx.env);
  const log = (l: string) => ctx.log(t.address, l);
  if (planned.action === 'delete') {
    const prior = t.prior!.data as JetsonState;
    await writeDaemonJson(a.daemon!.path, (text) => (text === null ? null : uneditDaemonJson(text, prior.added_runtime)));
    log(`${a.daemon!.path}: default-runtime removed`);
    await systemctl(p, ['reload', 'docker']);
    log('dockerd reloaded');
    return { outcome: 'deleted', state: null };
  }
  if (!spec || planned.action === 'no-op') return { outcome: 'unchanged', state: t.prior ?? null };
  const n = needs(spec, a);
  const prior = t.prior?.data as JetsonState | undefined;
  if (n.nvargus) {
    await systemctl(p, spec.nvargus === 'running' ? ['enable', '--now', 'nvargus-daemon'] : ['disable', '--now', 'nvargus-daemon']);
    log(spec.nvargus === 'running' ? 'nvargus-daemon enabled and started' : 'nvargus-daemon stopped and disabled');
  }
  const setsRuntime = n.runtime && !a.daemon!.problem;
  if (setsRuntime) {
    await writeDaemonJson(a.daemon!.path, (text) => editDaemonJson(text, spec.docker_runtime!));
    log(`${a.daemon!.path}: default-runtime = ${spec.docker_runtime}`);
    await systemctl(p, ['reload', 'docker']);
    log('dockerd reloaded');
  }
  const state: JetsonState = {
    type: 'jetson',
    daemon_json: a.daemon!.path,
    previous_runtime: prior ? prior.previous_runtime : a.daemon!.defaultRuntime,
    set_runtime: setsRuntime ? spec.docker_runtime : (prior?.set_runtime ?? null),
    added_runtime: (setsRuntime && !a.daemon!.hasRuntime && spec.docker_runtime === 'nvidia') || Boolean(prior?.added_runtime),
  };
  // the key is this tool's when it was absent before this tool set it (as an MCP entry it added)
  const created = setsRuntime && a.daemon!.defaultRuntime === null;
  return { outcome: 'updated', state: { section: 'devices', owned: ownedAfter(t.prior, created), digest: ctx.digest(JSON.stringify(spec)), data: state } };
}
