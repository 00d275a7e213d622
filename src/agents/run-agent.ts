// Runs an agent CLI: its own process group (Ctrl-C stops it and its children), the prompt on stdin,
// output streamed line by line. Resolves with the agent's exit code (128 + signal when killed).
import { spawn } from 'node:child_process';
import { writeFileAtomic } from '../core/fs.js';
import { OperationError } from '../core/errors.js';
import type { Invocation } from './invocation.js';

export interface RunAgentOptions {
  inv: Invocation;
  prompt: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  onLine: (line: string) => void;
  onStderr: (chunk: string) => void;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/**
 * Run the invocation's probe (a write into $PMOVES_HOME, then a listing of it, under the agent's own
 * sandbox) and say why the agent may not start: the sandbox let it write (exit 3) or read (exit 4), or
 * it did not run. Null: it held.
 */
export async function probeSandbox(inv: Invocation, cwd: string, env: NodeJS.ProcessEnv, home: string): Promise<string | null> {
  if (!inv.probe) return null;
  const { runChild } = await import('../core/child.js');
  const [cmd, ...args] = inv.probe;
  const p = await runChild(cmd!, args, { cwd, env: { ...env, ...inv.env }, timeoutMs: 60_000 });
  if (p.exitCode === 0) return null;
  if (p.exitCode === 3) return `its sandbox let a command write into $PMOVES_HOME (${home}), so the agent could approve its own plans. Fix: use a Codex whose sandbox works here (0.171 or later), or --tool claude`;
  if (p.exitCode === 4) return `its sandbox let a command read $PMOVES_HOME (${home}), where the key that signs approvals lives. Fix: use a Codex whose sandbox works here (0.171 or later), or --tool claude`;
  const why = String(p.stderr).split('\n').filter((l) => l.trim() && !/^WARNING: proceeding/.test(l))[0] ?? (p.killed === 'timeout' ? 'timed out' : p.spawnError ? (p.spawnError.code ?? p.spawnError.message) : `exit ${p.exitCode}`);
  return `its sandbox does not run on this machine (${cmd} sandbox: ${why.trim().slice(0, 200)}), so nothing would keep the agent out of $PMOVES_HOME. Fix: run Codex where its Linux sandbox works, or use --tool claude`;
}

export async function runAgent(o: RunAgentOptions): Promise<number> {
  for (const f of o.inv.files) await writeFileAtomic(f.path, f.text, { mode: f.mode });
  const [cmd, ...args] = o.inv.argv;
  const child = spawn(cmd!, args, { cwd: o.cwd, env: { ...o.env, ...o.inv.env }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const stopGroup = (sig: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, sig);
    } catch {
      /* already gone */
    }
  };
  let killTimer: NodeJS.Timeout | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`\nStopping the agent (${sig})…\n`);
    stopGroup('SIGTERM');
    killTimer ??= setTimeout(() => stopGroup('SIGKILL'), 5000);
  };
  const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of sigs) process.on(s, onSignal);
  const onExit = () => stopGroup('SIGKILL'); // pmoves ending for any other reason leaves no agent behind
  process.on('exit', onExit);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.on('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'ENOENT' ? new OperationError(`${cmd}: command not found (install it, or give its path with --bin)`) : err),
      );
      child.stdin.on('error', () => {});
      child.stdin.end(o.prompt);
      let buf = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          if (line) o.onLine(line);
        }
      });
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => o.onStderr(d));
      child.on('close', (code, signal) => {
        if (buf) o.onLine(buf);
        // The agent may leave children behind (MCP servers): stop what is left of its group.
        stopGroup('SIGTERM');
        resolve(code ?? 128 + (SIGNALS[signal ?? 'SIGTERM'] ?? 15));
      });
    });
  } finally {
    for (const s of sigs) process.off(s, onSignal);
    process.off('exit', onExit);
    if (killTimer) clearTimeout(killTimer);
  }
}
