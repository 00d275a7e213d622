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
    if (killTimer) clearTimeout(killTimer);
  }
}
