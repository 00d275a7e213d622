// For the kill -9 tests (safety-kill, safety-crash): a temp box with its own HOME, PMOVES_HOME and
// manifest, and an apply killed with SIGKILL at a chosen point.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cli, cliSpawn, tempDir, waitFor } from './helpers.js';

export function killBox(prefix: string, env: Record<string, string | undefined> = {}) {
  const t = tempDir(prefix);
  const home = path.join(t.dir, 'home');
  const pm = path.join(t.dir, 'pm');
  mkdirSync(home, { recursive: true });
  const manifest = path.join(t.dir, 'pmoves.mini.yaml');
  const fullEnv = { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), CODEX_HOME: path.join(home, '.codex'), CRUSH_GLOBAL_CONFIG: undefined, CLAUDE_CONFIG_DIR: undefined, PMOVES_PROGRESS_INTERVAL_MS: '0', ...env };
  return {
    ...t,
    home,
    pm,
    write: (yaml: string) => writeFileSync(manifest, `apiVersion: pmoves.ai/mini/v1\n${yaml}`),
    run: (args: string[], extra: Record<string, string> = {}) => cli(['mini', ...args, '-m', manifest], { home: pm, cwd: t.dir, env: { ...fullEnv, ...extra } }),
    spawn: (args: string[]) => cliSpawn(['mini', ...args, '-m', manifest], { home: pm, cwd: t.dir, env: fullEnv }),
  };
}

export type KillBox = ReturnType<typeof killBox>;

/** Spawn `apply --auto-approve --no-probe ARGS…`, wait for `point` (polled; a throw counts as not yet), kill -9.
 *  Returns whether the apply had already ended by itself. */
export async function killApplyWhen(b: KillBox, args: string[], point: () => boolean, what: string): Promise<boolean> {
  const child = b.spawn(['apply', '--auto-approve', '--no-probe', ...args]);
  let ended = false;
  void child.on('exit', () => (ended = true));
  try {
    await waitFor(() => {
      try {
        return ended || point();
      } catch {
        return false;
      }
    }, what, 60_000);
  } finally {
    child.kill('SIGKILL');
    await child;
  }
  return ended;
}
