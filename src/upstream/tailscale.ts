// Tailnet auth keys: Tailnet Lock signing through the `tailscale` CLI (upstream's detection rules),
// and the env-file update. Never returns text that holds the key.
import { runChild } from '../core/child.js';
import { whichSync } from '../providers/mcp/probe.js';

export function lockEnabledFrom(output: string): boolean {
  try {
    const d = JSON.parse(output) as Record<string, unknown>;
    const sub = (k: string, f: string) => (d[k] && typeof d[k] === 'object' ? (d[k] as Record<string, unknown>)[f] : undefined);
    return Boolean(d.enabled || d.Enabled || d.lockEnabled || d.lock_state === 'enabled' || d.state === 'enabled' || d.state === 'ENABLED' || sub('Status', 'Enabled') || sub('status', 'enabled'));
  } catch {
    const l = output.toLowerCase();
    return (l.includes('enabled') && !l.includes('disabled')) || l.includes('tailnet lock: enabled');
  }
}

/** Sign `key` when Tailnet Lock is on. Messages never contain a key. */
export async function signAuthKey(key: string, env: NodeJS.ProcessEnv): Promise<{ signed: string | null; messages: string[] }> {
  const messages: string[] = [];
  const ts = whichSync('tailscale', env);
  if (!ts) return { signed: null, messages: ['tailscale CLI not found; skipping Tailnet Lock signing (install it from https://tailscale.com/download to sign keys).'] };
  let enabled = false;
  for (const args of [['lock', 'status', '--json'], ['lock', 'status']]) {
    const r = await runChild(ts, args, { env: { ...process.env, ...env }, timeoutMs: 30_000 });
    const stderr = String(r.stderr ?? '').toLowerCase();
    if (r.exitCode !== 0 && args.includes('--json') && /flag provided but not defined|unknown flag|unrecognized option|no such flag/.test(stderr)) continue;
    const out = (r.exitCode === 0 ? String(r.stdout ?? '') : String(r.stdout || r.stderr || '')).trim();
    if (out) enabled = lockEnabledFrom(out);
    break;
  }
  if (!enabled) return { signed: null, messages: ['Tailnet Lock not detected; stored key remains unsigned.'] };
  messages.push("Tailnet Lock detected; attempting to sign auth key via 'tailscale lock sign'.");
  const r = await runChild(ts, ['lock', 'sign', key], { env: { ...process.env, ...env }, timeoutMs: 60_000 });
  if (r.exitCode !== 0) {
    const err = String(r.stderr ?? '').split(key).join('(auth key)').trim();
    messages.push(err ? `Failed to sign auth key: ${err}` : 'Failed to sign auth key: tailscale lock sign returned a non-zero exit code.', 'Continuing with the original auth key.');
    return { signed: null, messages };
  }
  const matches = String(r.stdout ?? '').match(/tskey-[A-Za-z0-9_-]+/g) ?? [];
  const signed = matches[matches.length - 1];
  if (!signed) return { signed: null, messages: [...messages, 'tailscale lock sign succeeded but no signed auth key was detected in the output; continuing with the original key.'] };
  if (signed === key) return { signed: null, messages: [...messages, 'tailscale lock sign returned the same auth key; keeping existing value.'] };
  return { signed, messages: [...messages, 'Signed auth key captured.'] };
}

/** Set `key=value` in env text as upstream's _update_env_value: replace the line, or append one. */
export function setEnvLine(text: string | null, key: string, value: string): string {
  const lines = text === null ? [] : text.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  let done = false;
  const out = lines.map((l) => (l.startsWith(`${key}=`) ? ((done = true), `${key}=${value}`) : l));
  if (!done) {
    if (out.length && out[out.length - 1] !== '') out.push('');
    out.push(`${key}=${value}`);
  }
  return out.join('\n') + '\n';
}

export function envValue(text: string | null, key: string): string | null {
  if (text === null) return null;
  for (const l of text.split(/\r?\n/)) if (l.startsWith(`${key}=`)) return l.slice(key.length + 1);
  return null;
}

/** Env files as upstream's with-env.sh reads them (KEY=value lines, key trimmed, leading spaces of the
 *  value dropped, the rest literal), later lines winning. */
function parseWithEnv(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (!line || /^\s*#/.test(line)) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*\s*=/.test(line)) continue;
    const i = line.indexOf('=');
    out.set(line.slice(0, i).trim(), line.slice(i + 1).replace(/^\s+/, ''));
  }
  return out;
}

interface JoinOptions {
  /** The repository root (an upstream checkout, or where the CLI runs). */
  root: string;
  /** Extra env file given with -e (read last); upstream's own join ignores it. */
  envFile?: string;
  /** Key file given with -s (else $TAILSCALE_AUTHKEY_FILE, else upstream's default). */
  secretFile?: string;
  forceReauth: boolean;
  env: NodeJS.ProcessEnv;
  home: string;
  out: (s: string) => void;
  err: (s: string) => void;
}

const truthy = (v: string | undefined, dflt: boolean) => (v === undefined || v === '' ? dflt : v === 'true');

/**
 * Upstream's `tailscale join`: pmoves/scripts/tailscale_brand_init.sh and tailscale_brand_up.sh, step by
 * step (the env files with-env.sh loads, env-first key precedence, refusal without a key, join-time
 * Tailnet Lock signing, the sentinel, tailscaled started through systemd, `tailscale up` with --ssh
 * --accept-routes and the TAILSCALE_* variables). Differences: the key reaches `tailscale up` as
 * `--auth-key=file:PATH` (a 0600 temporary file, removed afterwards), never on a command line or in
 * output; no part of a key is printed. Returns the exit code.
 */
export async function tailscaleJoin(o: JoinOptions): Promise<number> {
  const { existsSync, promises: fsp } = await import('node:fs');
  const path = (await import('node:path')).default;
  const { writeFileAtomic } = await import('../core/fs.js');
  const log = (m: string) => o.out(`[tailscale-init] ${m}\n`);
  const warn = (m: string) => o.err(`[tailscale-init][warn] ${m}\n`);
  const fatal = (m: string) => (o.err(`[tailscale-init][error] ${m}\n`), 1);
  const env: NodeJS.ProcessEnv = { ...o.env };
  const files = ['env.shared.generated', 'env.shared', '.env.generated', '.env.local'].map((f) => path.join(o.root, 'pmoves', f));
  if (o.envFile && !files.includes(path.resolve(o.envFile))) files.push(path.resolve(o.envFile));
  for (const f of files) {
    const text = await fsp.readFile(f, 'utf8').catch(() => null);
    if (text !== null) for (const [k, v] of parseWithEnv(text)) env[k] = v;
  }
  if (o.forceReauth) env.TAILSCALE_FORCE_REAUTH = 'true';
  const ts = whichSync('tailscale', env);
  if (!ts) return fatal('tailscale CLI not found; install tailscale before running this helper (https://tailscale.com/download).');

  const keyFile = o.secretFile ? path.resolve(o.secretFile) : env.TAILSCALE_AUTHKEY_FILE || path.join(o.root, 'CATACLYSM_STUDIOS_INC', 'PMOVES-PROVISIONS', 'tailscale', 'tailscale_authkey.txt');
  const original = env.TAILSCALE_AUTHKEY ?? '';
  let key = original;
  if (!key && keyFile && existsSync(keyFile)) {
    key = (await fsp.readFile(keyFile, 'utf8').catch(() => '')).replace(/[\r\n ]/g, '');
    if (key) log(`Loaded auth key from ${keyFile}`);
  }
  if (!key) return fatal(`TAILSCALE_AUTHKEY not provided and no readable key found at ${keyFile}. Run 'pmoves mini tailscale authkey --sign' on a signing node first.`);
  const loaded = key;

  const signMode = env.TAILSCALE_SIGN_AUTHKEY || 'auto';
  if (!['false', 'never', '0'].includes(signMode)) {
    log(`Attempting Tailnet Lock signing for the auth key (mode=${signMode}).`);
    const r = await runChild(ts, ['lock', 'sign', key], { env, timeoutMs: 60_000 });
    if (r.exitCode === 0) {
      const found = `${r.stdout}\n${r.stderr}`.match(/tskey-[A-Za-z0-9_-]+/g) ?? [];
      const next = found[found.length - 1];
      if (next && next !== key) {
        key = next;
        log('Signed auth key detected; using the signed key.');
      } else log('tailscale lock sign succeeded but did not emit a new key; continuing with existing key.');
    } else {
      warn(`tailscale lock sign failed (exit ${r.exitCode ?? 1}). Check 'tailscale lock status' and signing node configuration.`);
      warn('Continuing with the original auth key.');
    }
  }
  if (key !== loaded && keyFile) {
    await writeFileAtomic(keyFile, key + '\n', { mode: 0o600 });
    log(`Updated signed auth key on disk at ${keyFile}`);
  }

  const sentinel = env.TAILSCALE_INIT_SENTINEL || path.join(o.home, '.config', 'pmoves', 'tailnet-initialized');
  const force = ['true', '1'].includes(env.TAILSCALE_FORCE_REAUTH ?? '');
  if (existsSync(sentinel) && !force) {
    log(`Sentinel ${sentinel} detected; tailscale already initialized. Export TAILSCALE_FORCE_REAUTH=true to force re-join.`);
    return 0;
  }

  const systemctl = whichSync('systemctl', env);
  if (systemctl) {
    const run = (cmd: string, args: string[]) => runChild(cmd, args, { env, timeoutMs: 60_000 });
    if ((await run(systemctl, ['list-unit-files', 'tailscaled.service'])).exitCode === 0 && (await run(systemctl, ['is-active', '--quiet', 'tailscaled'])).exitCode !== 0) {
      log('tailscaled service not active; attempting to start.');
      const sudo = whichSync('sudo', env);
      const r = sudo ? await run(sudo, ['systemctl', 'start', 'tailscaled']) : await run(systemctl, ['start', 'tailscaled']);
      if (r.exitCode !== 0) warn(`Failed to start tailscaled via ${sudo ? 'sudo ' : ''}systemctl; ensure the service is running before continuing.`);
    }
  }

  // tailscale_brand_up.sh's arguments, in its order
  const args = ['up'];
  if (truthy(env.TAILSCALE_SSH, true)) args.push('--ssh');
  if (truthy(env.TAILSCALE_ACCEPT_ROUTES, true)) args.push('--accept-routes');
  if (env.TAILSCALE_TAGS) args.push('--advertise-tags', env.TAILSCALE_TAGS);
  if (env.TAILSCALE_ADVERTISE_ROUTES) args.push('--advertise-routes', env.TAILSCALE_ADVERTISE_ROUTES);
  if (env.TAILSCALE_HOSTNAME) args.push('--hostname', env.TAILSCALE_HOSTNAME);
  if (env.TAILSCALE_LOGIN_SERVER) args.push('--login-server', env.TAILSCALE_LOGIN_SERVER);
  if (env.TAILSCALE_FORCE_REAUTH === 'true') args.push('--force-reauth');
  const os = await import('node:os');
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'pmoves-ts-'));
  const cleanup = () => void fsp.rm(dir, { recursive: true, force: true });
  process.once('exit', cleanup);
  let rc: number;
  try {
    const file = path.join(dir, 'authkey');
    await writeFileAtomic(file, key + '\n', { mode: 0o600 });
    // The key goes as file:PATH, so it never shows in the process list or in this output.
    args.push(`--auth-key=file:${file}`);
    const extra = (env.TAILSCALE_EXTRA_ARGS ?? '').split(/\s+/).filter(Boolean);
    args.push(...extra);
    log('Invoking tailscale up');
    o.out(`Executing: tailscale ${args.map((a) => (a.startsWith('--auth-key=file:') ? '--auth-key=file:(temporary file)' : a)).join(' ')}\n`);
    // `tailscale up` may ask to log in: it keeps the terminal (not a bounded child)
    const { execa } = await import('execa');
    rc = (await execa(ts, args, { reject: false, env, stdio: 'inherit' })).exitCode ?? 1;
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
    process.removeListener('exit', cleanup);
  }
  if (rc !== 0) return fatal(`tailscale up reported an error (exit ${rc}).`);
  const stamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  await fsp.mkdir(path.dirname(sentinel), { recursive: true });
  await writeFileAtomic(sentinel, stamp + '\n', { mode: 0o600 });
  log(`tailscale up completed successfully. Sentinel recorded at ${sentinel}`);
  const st = await runChild(ts, ['status', '--json'], { env, timeoutMs: 30_000 });
  if (st.exitCode === 0) {
    try {
      const state = (JSON.parse(String(st.stdout)) as { BackendState?: unknown }).BackendState;
      log(`tailscale backend state: ${state === undefined ? 'None' : String(state)}`);
    } catch {
      // upstream's python one-liner prints nothing when the JSON does not parse
    }
  } else warn('tailscale status --json unavailable; skipping post-flight summary.');
  log('Done.');
  return 0;
}
