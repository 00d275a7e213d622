// Test helpers: temp folders, the built CLI spawned as a user would, fixture paths.
import { execa, type Result } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (tests run from dist/test). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cliPath = path.join(repoRoot, 'dist', 'src', 'cli.js');
/** ../shared/fixtures/pmoves beside the repository (override with PMOVES_FIXTURES). */
export const fixtures = process.env.PMOVES_FIXTURES ?? path.resolve(repoRoot, '..', 'shared', 'fixtures', 'pmoves');

export function tempDir(prefix = 'pmoves-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
  home?: string;
  timeout?: number;
}

/** Run `pmoves <args>` with the built CLI. Never throws on a non-zero exit. */
export function cli(args: string[], opts: CliOptions = {}): Promise<Result> {
  return execa(process.execPath, [cliPath, ...args], {
    cwd: opts.cwd,
    env: { NO_COLOR: '1', ...(opts.home ? { PMOVES_HOME: opts.home } : {}), ...opts.env },
    input: opts.input,
    reject: false,
    timeout: opts.timeout ?? 60_000,
    stdin: opts.input === undefined ? 'ignore' : undefined,
  }) as Promise<Result>;
}

/** Spawn the CLI without waiting (for kill -9 and lock tests). */
export function cliSpawn(args: string[], opts: CliOptions = {}) {
  return execa(process.execPath, [cliPath, ...args], {
    cwd: opts.cwd,
    env: { NO_COLOR: '1', ...(opts.home ? { PMOVES_HOME: opts.home } : {}), ...opts.env },
    reject: false,
    stdin: 'ignore',
  });
}

/** Poll until `fn` returns truthy (no timing assertions: the deadline only stops a hung test). */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `compose down -v --remove-orphans` for a test's project, with whichever compose generation is installed. */
export async function composeDown(project: string, files: string[], cwd: string): Promise<void> {
  const v2 = await execa('docker', ['compose', 'version'], { reject: false, stdin: 'ignore' });
  const argv = v2.exitCode === 0 ? ['docker', 'compose'] : ['docker-compose'];
  await execa(argv[0]!, [...argv.slice(1), '-p', project, ...files.flatMap((f) => ['-f', f]), 'down', '-v', '--remove-orphans'], { reject: false, cwd, stdin: 'ignore' });
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for a test's published ports). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}
