// Child processes, bounded: every program the tool starts (compose, git, agent CLIs, ssh …) runs in a
// process group of its own, and that whole group is killed when its deadline passes, when its output
// passes a size limit, when the caller cancels, and when this process is interrupted (SIGINT, SIGTERM,
// SIGHUP) or exits. A `plan` that is stopped leaves no compose behind growing to gigabytes.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ChildOptions {
  cwd?: string;
  /** The whole environment of the child (nothing is added from this process's). */
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed (default: stdin is /dev/null). */
  input?: string;
  /** Kill the group after this long (default: no deadline; interruption and exit still kill it). */
  timeoutMs?: number;
  /** Kill the group once stdout or stderr passes this many bytes (default 64 MiB). */
  maxOutput?: number;
  signal?: AbortSignal;
  /** Each line of stdout and stderr as it comes (the output is still collected). */
  onLine?: (line: string) => void;
}

export interface ChildResult {
  stdout: string;
  stderr: string;
  /** The exit code; 1 when the child was killed or could not start (see the other fields). */
  exitCode: number;
  /** Why the group was killed, when it was. */
  killed: 'timeout' | 'output' | 'cancelled' | null;
  /** The program could not be started (ENOENT: not found, EACCES …). */
  spawnError?: NodeJS.ErrnoException;
}

const MiB = 1024 * 1024;
/** Groups still running: killed when this process exits or is interrupted. */
const live = new Set<ChildProcess>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let hooked = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal); // the negative id: the whole process group
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

function onSignal(sig: NodeJS.Signals): void {
  for (const c of live) killGroup(c, 'SIGKILL');
  // Only ours listens: do what the signal would have done without us (terminate), as the shell expects.
  if (process.listenerCount(sig) <= 1) {
    unhook();
    process.kill(process.pid, sig);
  }
}
const handlers = new Map(SIGNALS.map((s) => [s, () => onSignal(s)] as const));
function onExit(): void {
  for (const c of live) killGroup(c, 'SIGKILL');
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  for (const [s, h] of handlers) process.on(s, h);
  process.on('exit', onExit);
}

function unhook(): void {
  if (!hooked) return;
  hooked = false;
  for (const [s, h] of handlers) process.off(s, h);
  process.off('exit', onExit);
}

/**
 * A child started by a library (the MCP SDK's stdio transport): killed with the others when this process
 * is interrupted or exits, though its start was not ours to bound.
 */
export function trackChild(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  live.add(child);
  hook();
  child.once('exit', () => {
    live.delete(child);
    if (!live.size) unhook();
  });
}

/** Run a program (no shell) to its end, bounded as this file's header says. Never rejects. */
export function runChild(command: string, args: string[], o: ChildOptions = {}): Promise<ChildResult> {
  const maxOutput = o.maxOutput ?? 64 * MiB;
  return new Promise((resolve) => {
    if (o.signal?.aborted) return resolve({ stdout: '', stderr: '', exitCode: 1, killed: 'cancelled' });
    let child: ChildProcess;
    try {
      child = spawn(command, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: true });
    } catch (err) {
      return resolve({ stdout: '', stderr: '', exitCode: 1, killed: null, spawnError: err as NodeJS.ErrnoException });
    }
    live.add(child);
    hook();
    let killed: ChildResult['killed'] = null;
    let hard: NodeJS.Timeout | undefined;
    const stop = (why: NonNullable<ChildResult['killed']>) => {
      if (killed) return;
      killed = why;
      killGroup(child, 'SIGTERM');
      hard = setTimeout(() => killGroup(child, 'SIGKILL'), 2000);
      hard.unref();
    };
    const timer = o.timeoutMs ? setTimeout(() => stop('timeout'), o.timeoutMs) : undefined;
    const onAbort = () => stop('cancelled');
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const collect = (stream: NodeJS.ReadableStream | null) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let partial = '';
      stream?.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxOutput) return stop('output');
        chunks.push(c);
        if (o.onLine) {
          const parts = (partial + c.toString('utf8')).split(/\r?\n|\r/);
          partial = parts.pop()!;
          for (const p of parts) if (p.trim()) o.onLine(p.trimEnd());
        }
      });
      stream?.on('end', () => {
        if (o.onLine && partial.trim()) o.onLine(partial.trimEnd());
      });
      return () => Buffer.concat(chunks).toString('utf8');
    };
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    if (o.input !== undefined) {
      child.stdin?.on('error', () => {}); // a child that does not read its input
      child.stdin?.end(o.input);
    }
    let spawnError: NodeJS.ErrnoException | undefined;
    child.on('error', (err) => (spawnError = err));
    // The leader exited but something it started still holds its output open: that runs away; end it.
    let closed = false;
    child.on('exit', () => setTimeout(() => closed || killGroup(child, 'SIGKILL'), 5000).unref());
    child.on('close', (code) => {
      closed = true;
      live.delete(child);
      if (!live.size) unhook();
      if (timer) clearTimeout(timer);
      if (hard && !killed) clearTimeout(hard);
      o.signal?.removeEventListener('abort', onAbort);
      // the leader is gone; anything it left in its group goes too
      if (killed || code !== 0) killGroup(child, 'SIGKILL');
      resolve({ stdout: stdout(), stderr: stderr(), exitCode: code ?? 1, killed, ...(spawnError ? { spawnError } : {}) });
    });
  });
}
