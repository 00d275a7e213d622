// GitOps source end to end: a local bare repository as --git, real git, real ssh and GnuPG signatures.
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempDir } from './helpers.js';
import { isApply, startWatch, writeBundle, type WatchProc } from './watch-helpers.js';

const VALUES = { SUPABASE_URL: 'http://127.0.0.1:54321', SUPABASE_KEY: 'test-key-1', MEILI_MASTER_KEY: 'test-meili' };

function manifest(labels: string[]): string {
  return [
    'apiVersion: pmoves.ai/mini/v1',
    'secrets:',
    '  env:',
    '    bundle: env.cgp.json',
    '    env_file: ${EDGE_OUT}/env.shared',
    `    include_labels: [${labels.map((l) => JSON.stringify(l)).join(', ')}]`,
    '',
  ].join('\n');
}

/** A bare "remote", a work clone to commit from, and an env isolating git from the user's config. */
async function repo() {
  const t = tempDir('pmoves-watch-git-');
  const gitconfig = path.join(t.dir, 'gitconfig');
  writeFileSync(gitconfig, '[user]\n\tname = Edge Test\n\temail = edge@example.invalid\n[init]\n\tdefaultBranch = main\n');
  const env = { GIT_CONFIG_GLOBAL: gitconfig, GIT_CONFIG_NOSYSTEM: '1', EDGE_OUT: path.join(t.dir, 'out') };
  const remote = path.join(t.dir, 'remote.git');
  const work = path.join(t.dir, 'work');
  const git = (args: string[], extra: Record<string, string> = {}) => execa('git', args, { cwd: work, env: { ...env, ...extra } });
  await execa('git', ['init', '-q', '--bare', '-b', 'main', remote], { env });
  await execa('git', ['clone', '-q', remote, work], { env });
  mkdirSync(path.join(work, 'edge'));
  writeBundle(path.join(work, 'edge', 'env.cgp.json'), VALUES);
  const commit = async (labels: string[], signArgs: string[] = [], extra: Record<string, string> = {}) => {
    writeFileSync(path.join(work, 'edge', 'pmoves.mini.yaml'), manifest(labels));
    await git(['add', '-A']);
    await git(['commit', '-q', ...signArgs, '-m', `labels ${labels.join(' ')}`], extra);
    await git(['push', '-q', 'origin', 'main']);
    return (await git(['rev-parse', 'HEAD'])).stdout.trim();
  };
  const home = path.join(t.dir, 'home');
  const keys = () => {
    const f = path.join(t.dir, 'out', 'env.shared');
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0]) : null;
  };
  return { ...t, env, remote, work, git, commit, home, keys, gitconfig };
}

test('a pushed commit converges the watcher; the commit is in state and the audit log; offline keeps the last commit', async () => {
  const r = await repo();
  let w: WatchProc | undefined;
  try {
    const c1 = await r.commit(['SUPABASE_*']);
    w = startWatch(['--git', r.remote, '--path', 'edge/pmoves.mini.yaml', '--interval', '300ms', '--min-backoff', '200ms', '--max-backoff', '1s'], { home: r.home, cwd: r.dir, env: r.env });
    const first = await w.next((e) => isApply(e) && e.result === 'ok', 'first apply');
    assert.is(first.commit, c1);
    assert.equal(r.keys(), ['SUPABASE_KEY', 'SUPABASE_URL']);

    let m = w.mark();
    const c2 = await r.commit(['SUPABASE_*', 'MEILI_*']);
    const ev = await w.next((e) => e.event === 'git' && e.action === 'new-commit', 'new commit', m);
    assert.is(ev.commit, c2);
    const applied = await w.next((e) => isApply(e) && e.commit === c2 && e.changed === 1, 'apply of the new commit', m);
    assert.is(applied.result, 'ok');
    assert.equal(r.keys(), ['MEILI_MASTER_KEY', 'SUPABASE_KEY', 'SUPABASE_URL']);
    await w.next((e) => e.event === 'generation' && e.commit === c2, 'generation with the commit', m);
    const state = JSON.parse(readFileSync(path.join(r.home, 'state.json'), 'utf8'));
    assert.is(state.source.commit, c2);
    assert.is(state.source.url, r.remote);
    const audit = readFileSync(path.join(r.home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(audit.some((a) => a.address === 'secrets.env' && a.outcome === 'updated' && a.commit === c2));
    assert.ok(existsSync(path.join(r.home, 'sources')));

    // offline: the remote disappears; the watcher keeps converging to c2 and retries the fetch
    renameSync(r.remote, r.remote + '.away');
    m = w.mark();
    const failed = await w.next((e) => e.event === 'git' && e.action === 'fetch-failed', 'fetch failure', m);
    assert.is(failed.commit, c2);
    writeFileSync(path.join(r.dir, 'out', 'env.shared'), 'SUPABASE_URL=tampered\n');
    const repaired = await w.next((e) => isApply(e) && e.changed === 1 && e.commit === c2, 'drift repaired while offline', m);
    assert.is(repaired.result, 'ok');
    assert.equal(r.keys(), ['MEILI_MASTER_KEY', 'SUPABASE_KEY', 'SUPABASE_URL']);
    const again = await w.next((e) => e.event === 'git' && e.action === 'fetch-failed' && e.retry_in_ms > failed.retry_in_ms, 'fetch retried with a longer backoff', w.events.indexOf(failed) + 1);
    assert.ok(again);

    // back online: the next commit lands
    renameSync(r.remote + '.away', r.remote);
    m = w.mark();
    const c3 = await r.commit(['SUPABASE_URL']);
    await w.next((e) => isApply(e) && e.commit === c3 && e.result === 'ok', 'apply after reconnecting', m);
    assert.equal(r.keys(), ['SUPABASE_URL']);
    assert.is(await w.term(), 0);
  } finally {
    await w?.stop();
    r.cleanup();
  }
});

test('--verify-signatures (ssh): a signed commit is applied, an unsigned one refused', async () => {
  const r = await repo();
  let w: WatchProc | undefined;
  try {
    const key = path.join(r.dir, 'signing_key');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'edge@example.invalid', '-f', key]);
    const pub = readFileSync(key + '.pub', 'utf8').trim().split(' ');
    const allowed = path.join(r.dir, 'allowed_signers');
    writeFileSync(allowed, `edge@example.invalid ${pub[0]} ${pub[1]}\n`);
    const sign = ['-S'];
    await r.git(['config', 'gpg.format', 'ssh']);
    await r.git(['config', 'user.signingkey', `${key}.pub`]);
    const c1 = await r.commit(['SUPABASE_*'], sign);
    w = startWatch(['--git', r.remote, '--path', 'edge/pmoves.mini.yaml', '--interval', '300ms', '--verify-signatures', '--allowed-signers', allowed], { home: r.home, cwd: r.dir, env: r.env });
    const first = await w.next((e) => isApply(e) && e.result === 'ok', 'signed commit applied');
    assert.is(first.commit, c1);

    let m = w.mark();
    const c2 = await r.commit(['SUPABASE_*', 'MEILI_*']); // unsigned
    const refused = await w.next((e) => e.event === 'git' && e.action === 'refused', 'unsigned commit refused', m);
    assert.is(refused.commit, c2);
    assert.match(refused.message, /refusing commit [0-9a-f]{12} on main: it is not signed/);
    assert.match(refused.message, /staying at [0-9a-f]{12}/);
    await w.next((e) => isApply(e) && e.event === 'apply', 'a later run', w.events.indexOf(refused));
    assert.equal(r.keys(), ['SUPABASE_KEY', 'SUPABASE_URL'], 'the refused commit was not applied');
    assert.is(w.events.filter((e) => e.event === 'git' && e.action === 'refused').length, 1, 'refused once, not on every fetch');

    m = w.mark();
    const c3 = await r.commit(['MEILI_*'], sign);
    await w.next((e) => isApply(e) && e.commit === c3 && e.result === 'ok', 'next signed commit applied', m);
    assert.equal(r.keys(), ['MEILI_MASTER_KEY']);
    assert.is(await w.term(), 0);
  } finally {
    await w?.stop();
    r.cleanup();
  }
});

test('--verify-signatures (GnuPG): a commit signed by a key outside the trusted keyring is refused', async () => {
  const r = await repo();
  let w: WatchProc | undefined;
  const trusted = path.join(r.dir, 'gnupg');
  const other = path.join(r.dir, 'gnupg-other');
  try {
    const fpr = async (home: string, uid: string) => {
      mkdirSync(home, { mode: 0o700 });
      await execa('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', 'never'], { env: { GNUPGHOME: home } });
      const out = (await execa('gpg', ['--list-secret-keys', '--with-colons'], { env: { GNUPGHOME: home } })).stdout;
      return /^fpr:+([0-9A-F]+):/m.exec(out)![1]!;
    };
    const k1 = await fpr(trusted, 'Edge Test <edge@example.invalid>');
    const k2 = await fpr(other, 'Someone Else <else@example.invalid>');
    const c1 = await r.commit(['SUPABASE_*'], [`-S${k1}`], { GNUPGHOME: trusted });
    w = startWatch(['--git', r.remote, '--path', 'edge/pmoves.mini.yaml', '--interval', '300ms', '--verify-signatures'], { home: r.home, cwd: r.dir, env: { ...r.env, GNUPGHOME: trusted } });
    const first = await w.next((e) => isApply(e) && e.result === 'ok', 'signed commit applied');
    assert.is(first.commit, c1);
    const m = w.mark();
    const c2 = await r.commit(['MEILI_*'], [`-S${k2}`], { GNUPGHOME: other });
    const refused = await w.next((e) => e.event === 'git' && e.action === 'refused', 'untrusted signature refused', m);
    assert.is(refused.commit, c2);
    assert.match(refused.reason, /cannot be checked/);
    assert.equal(r.keys(), ['SUPABASE_KEY', 'SUPABASE_URL']);
    assert.is(await w.term(), 0);
  } finally {
    await w?.stop();
    for (const h of [trusted, other]) await execa('gpgconf', ['--kill', 'all'], { env: { GNUPGHOME: h }, reject: false });
    r.cleanup();
  }
});

test.run();
