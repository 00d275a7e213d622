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
