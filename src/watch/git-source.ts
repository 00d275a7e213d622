// GitOps source: a bare clone under $PMOVES_HOME/sources/<name>-<hash>/repo.git, one detached worktree
// per accepted commit (trees/<commit>), so every generation's files stay as they were when it was
// applied. `sync` fetches the branch; a new head is accepted only if (with --verify-signatures) git
// verifies its signature against keys the user trusts. Git runs through execa, never a shell.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { exists, readFileOrNull, writeFileAtomic } from '../core/fs.js';
import type { Home } from '../core/home.js';

export interface GitSourceOptions {
  url: string;
  branch?: string;
  /** Manifest path inside the repository. */
  path: string;
  verifySignatures: boolean;
  /** ssh signatures: file in ssh's allowed_signers format (else git's gpg.ssh.allowedSignersFile). */
  allowedSigners?: string;
  home: Home;
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGTERM: a fetch in flight is cancelled. */
  signal?: AbortSignal;
}

export type SyncResult =
  | { kind: 'unchanged'; commit: string }
  | { kind: 'new-commit'; commit: string; previous: string | null }
  | { kind: 'refused'; commit: string; reason: string; repeated: boolean; current: string | null }
  | { kind: 'fetch-failed'; error: string; current: string | null };

/** What `%G?` says, in words (git-log(1) "PRETTY FORMATS"). */
const SIGNATURE_STATUS: Record<string, string> = {
  B: 'its signature is bad',
  U: 'it is signed by a key that is not trusted',
  X: 'its signature has expired',
  Y: 'it is signed by a key that has expired',
  R: 'it is signed by a revoked key',
  E: 'its signature cannot be checked (the key is not known: import it into GnuPG, or list it in the allowed-signers file)',
  N: 'it is not signed',
};

export function sourceSlug(url: string, branch: string | undefined): string {
  const base = url.replace(/\/+$/, '').split(/[/:]/).pop()!.replace(/\.git$/, '').replace(/[^A-Za-z0-9._-]/g, '_') || 'repo';
  return `${base}-${createHash('sha256').update(`${url}\n${branch ?? ''}`).digest('hex').slice(0, 10)}`;
}

export class GitSource {
  readonly root: string;
  readonly repo: string;
  branch: string | undefined;
  /** The accepted commit the watcher converges to (its worktree exists). */
  commit: string | null = null;
  private lastRefused: string | null = null;

  constructor(readonly o: GitSourceOptions) {
    this.root = path.join(o.home.root, 'sources', sourceSlug(o.url, o.branch));
    this.repo = path.join(this.root, 'repo.git');
    this.branch = o.branch;
  }

  treeOf(commit: string): string {
    return path.join(this.root, 'trees', commit);
  }

  /** The manifest of the accepted commit, or null before the first accepted commit. */
  manifestPath(): string | null {
    return this.commit ? path.join(this.treeOf(this.commit), this.o.path) : null;
  }

  private async git(args: string[], opts: { gitDir?: boolean } = {}): Promise<string> {
    const { runChild } = await import('../core/child.js');
    const pre = opts.gitDir === false ? [] : ['--git-dir', this.repo];
    const cfg = this.o.allowedSigners ? ['-c', `gpg.ssh.allowedSignersFile=${path.resolve(this.o.allowedSigners)}`] : [];
    // its own process group (ssh, gpg and git's helpers with it), killed on the deadline, cancel or exit
    const r = await runChild('git', [...cfg, ...pre, ...args], {
      env: { ...this.o.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' },
      timeoutMs: 300_000,
      ...(this.o.signal ? { signal: this.o.signal } : {}),
    });
    if (r.spawnError) throw new Error(`git: cannot start (${r.spawnError.code ?? r.spawnError.message})`);
    if (r.killed) throw new Error(`git ${args[0]} ${r.killed === 'timeout' ? 'did not finish within 300s and was stopped' : r.killed === 'output' ? 'wrote too much and was stopped' : 'was cancelled'}`);
    if (r.exitCode !== 0) {
      const msg = String(r.stderr || r.stdout).trim().split('\n').filter(Boolean).slice(-3).join('; ');
      throw new Error(`git ${args[0]} failed: ${msg || `exit ${r.exitCode}`}`);
    }
    return String(r.stdout).trim();
  }

  /** Pick up the commit accepted before a restart (re-verified), so an offline start still converges. */
  async restore(): Promise<string | null> {
    const saved = (await readFileOrNull(path.join(this.root, 'accepted')))?.trim();
    if (!saved || !(await exists(this.treeOf(saved))) || !(await exists(this.repo))) return null;
    if (this.o.verifySignatures && (await this.verify(saved))) return null;
    this.commit = saved;
    if (!this.branch) this.branch = await this.git(['symbolic-ref', '--short', 'HEAD']).catch(() => undefined);
    return saved;
  }

  /** Refusal reason, or null when git verifies the commit's signature with a trusted key. */
  async verify(commit: string): Promise<string | null> {
    const out = await this.git(['log', '-1', '--format=%G?%x1f%GK%x1f%GS', commit]);
    const [status = 'N', key = '', signer = ''] = out.split('\x1f');
    if (status === 'G') return null;
    const who = signer || key ? ` (${[signer, key && `key ${key}`].filter(Boolean).join(', ')})` : '';
    return `${SIGNATURE_STATUS[status] ?? `git reports signature status "${status}"`}${who}`;
  }

  async sync(): Promise<SyncResult> {
    let head: string;
    try {
      if (!(await exists(this.repo))) {
        await fsp.mkdir(this.root, { recursive: true, mode: 0o700 });
        const tmp = `${this.repo}.tmp-${process.pid}`;
        await fsp.rm(tmp, { recursive: true, force: true });
        await this.git(['clone', '--bare', '--quiet', '--single-branch', ...(this.branch ? ['--branch', this.branch] : []), '--', this.o.url, tmp], { gitDir: false });
        await fsp.rename(tmp, this.repo); // a clone cut short never looks like a clone
      }
      if (!this.branch) this.branch = await this.git(['symbolic-ref', '--short', 'HEAD']);
      await this.git(['fetch', '--quiet', '--no-tags', 'origin', `+refs/heads/${this.branch}:refs/heads/${this.branch}`]);
      head = await this.git(['rev-parse', '--verify', `refs/heads/${this.branch}^{commit}`]);
    } catch (err) {
      return { kind: 'fetch-failed', error: (err as Error).message, current: this.commit };
    }
    if (head === this.commit) return { kind: 'unchanged', commit: head };
    if (this.o.verifySignatures) {
      const reason = await this.verify(head);
      if (reason) {
        const repeated = this.lastRefused === head;
        this.lastRefused = head;
        return { kind: 'refused', commit: head, reason, repeated, current: this.commit };
      }
    }
    const tree = this.treeOf(head);
    if (!(await exists(tree))) {
      await fsp.mkdir(path.dirname(tree), { recursive: true });
      await this.git(['worktree', 'prune']);
      await this.git(['worktree', 'add', '--quiet', '--detach', '--force', tree, head]);
    }
    const previous = this.commit;
    this.commit = head;
    await writeFileAtomic(path.join(this.root, 'accepted'), head + '\n');
    return { kind: 'new-commit', commit: head, previous };
  }

  /** Remove worktrees of commits no generation refers to any more. */
  async prune(keep: Set<string>): Promise<void> {
    let names: string[] = [];
    try {
      names = await fsp.readdir(path.join(this.root, 'trees'));
    } catch {
      return;
    }
    for (const n of names) {
      if (keep.has(n) || n === this.commit) continue;
      await fsp.rm(this.treeOf(n), { recursive: true, force: true });
    }
    await this.git(['worktree', 'prune']).catch(() => {});
  }
}
