// `tailscale authkey|join|rejoin`: capture a Tailnet auth key (a CHIT label, files 0600, never printed)
// and join the tailnet with it through the real `tailscale` CLI.
import type { Command } from 'commander';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { globals } from './common.js';
import { FILE_MODE_HELP, fileModeOption } from '../upstream/file-mode.js';

const LABEL = 'TAILSCALE_AUTHKEY';
const DEFAULT_SECRET = path.join('CATACLYSM_STUDIOS_INC', 'PMOVES-PROVISIONS', 'tailscale', 'tailscale_authkey.txt');

async function readKey(o: { fromStdin?: boolean }, nonInteractive: boolean): Promise<string> {
  if (o.fromStdin) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8').trim();
  }
  const { canPrompt, promptHidden } = await import('./prompt-hidden.js');
  if (!canPrompt(nonInteractive)) throw new UserError('tailscale authkey: no terminal to ask on; pipe the key in with --from-stdin');
  return (await promptHidden('Paste tailnet auth key (leave blank to cancel): ')).trim();
}

/** Set the label in a CHIT bundle (created when missing), keeping the rest of the bundle as it is. */
async function setBundleLabel(file: string, value: string): Promise<void> {
  const { readFileOrNull, writeFileAtomic } = await import('../core/fs.js');
  const codec = await import('../providers/chit/codec.js');
  const { decodeBundle, parseBundleText } = await import('../providers/chit/bundle.js');
  const text = await readFileOrNull(file);
  let out: string;
  if (text === null) {
    out = codec.serializeBundle(codec.encodeSecretMap(new Map([[LABEL, value]]), { namespace: 'pmoves.secrets', description: 'PMOVES shared secrets', includeCleartext: false }));
  } else {
    const doc = codec.parseBundleDoc(text, file);
    if (codec.setLabelValue(doc, LABEL, value) > 0) out = codec.serializeBundle(doc);
    else {
      const map = decodeBundle(parseBundleText(text, file), file);
      map.set(LABEL, value);
      out = codec.serializeBundle(codec.encodeSecretMap(map, { namespace: 'pmoves.secrets', description: 'PMOVES shared secrets', includeCleartext: !text.includes('"text_b64"') }));
    }
  }
  await writeFileAtomic(file, out, { mode: 0o600 });
}

export function registerTailscale(mini: Command): void {
  const t = mini.command('tailscale').description('Tailscale helpers: capture an auth key, join the tailnet');

  t.command('authkey')
    .description('Capture a Tailnet auth key and persist it for automation (CHIT label TAILSCALE_AUTHKEY; files 0600; never printed)')
    .option('-e, --env-file <file>', 'env file that should carry TAILSCALE_AUTHKEY', 'pmoves/env.shared')
    .option('-s, --secret-file <file>', 'provisioning secret file for the key', DEFAULT_SECRET)
    .option('--bundle <file>', 'also set the CHIT label TAILSCALE_AUTHKEY in this bundle')
    // upstream's on/off pairs: --write-env/--no-write-env, --write-secret/--no-write-secret, --sign/--no-sign
    .option('--write-env', 'update the env file (the default)', true)
    .option('--no-write-env', 'do not update the env file')
    .option('--write-secret', 'write the secret file (the default)', true)
    .option('--no-write-secret', 'do not write the secret file')
    .option('--sign', "try 'tailscale lock sign' when Tailnet Lock is on (the default)", true)
    .option('--no-sign', "do not try 'tailscale lock sign'")
    .option('--from-stdin', 'read the key from stdin instead of prompting')
    .option('--mode <octal>', `${FILE_MODE_HELP}; the env file only (the secret file is 0600, as upstream)`, fileModeOption)
    .action(async (o: { envFile: string; secretFile: string; bundle?: string; writeEnv: boolean; writeSecret: boolean; sign: boolean; fromStdin?: boolean; mode?: number }, cmd: Command) => {
      const g = globals(cmd);
      const { readFileOrNull, writeFileAtomic } = await import('../core/fs.js');
      const ts = await import('../upstream/tailscale.js');
      const envFile = path.resolve(o.envFile);
      const secretFile = path.resolve(o.secretFile);
      process.stdout.write('Generate a reusable auth key from your Tailnet admin (e.g. headscale preauthkeys create).\n');
      const envText = o.writeEnv ? await readFileOrNull(envFile) : null;
      if (o.writeEnv && ts.envValue(envText, LABEL)) process.stdout.write('Existing env value: (set) (will be replaced once you confirm).\n');
      if (o.writeSecret && (await readFileOrNull(secretFile))?.trim()) process.stdout.write('Secret file currently stores: (a key) (will be replaced).\n');
      let key = await readKey(o, g.nonInteractive);
      if (!key) {
        process.stdout.write('No auth key provided; aborting without changes.\n');
        process.exitCode = 1;
        return;
      }
      if (/[\r\n]/.test(key)) throw new UserError('tailscale authkey: the key holds a line break; expected one line (nothing was written)');
      if (o.sign) {
        const s = await ts.signAuthKey(key, process.env);
        for (const m of s.messages) process.stdout.write(m + '\n');
        if (s.signed) key = s.signed;
      }
      if (o.writeEnv) {
        await writeFileAtomic(envFile, ts.setEnvLine(envText, LABEL, key), { mode: o.mode ?? 0o600 });
        process.stdout.write(`Updated ${LABEL} in ${o.envFile}\n`);
      }
      if (o.writeSecret) {
        await writeFileAtomic(secretFile, key + '\n', { mode: 0o600 });
        process.stdout.write(`Wrote auth key to ${secretFile}\n`);
      }
      if (o.bundle) {
        await setBundleLabel(path.resolve(o.bundle), key);
        process.stdout.write(`Set CHIT label ${LABEL} in ${o.bundle}\n`);
      }
      process.stdout.write('Auth key captured. Keep it out of version control.\n');
    });

  const join = async (o: { envFile?: string; secretFile?: string; forceReauth?: boolean }) => {
    const { tailscaleJoin } = await import('../upstream/tailscale.js');
    const { repoRoot } = await import('../upstream/provisioning.js');
    const os = await import('node:os');
    process.exitCode = await tailscaleJoin({
      root: repoRoot(),
      envFile: o.envFile,
      secretFile: o.secretFile,
      forceReauth: Boolean(o.forceReauth),
      env: process.env,
      home: os.homedir(),
      out: (s) => void process.stdout.write(s),
      err: (s) => void process.stderr.write(s),
    });
  };
  const envOpt = (c: Command) =>
    c
      .option('-e, --env-file <file>', "one more env file to read TAILSCALE_* from, after upstream's pmoves/env.shared.generated, env.shared, .env.generated, .env.local")
      .option('-s, --secret-file <file>', 'auth key file (default: $TAILSCALE_AUTHKEY_FILE, else CATACLYSM_STUDIOS_INC/PMOVES-PROVISIONS/tailscale/tailscale_authkey.txt); TAILSCALE_AUTHKEY from the environment or env files is used first');
  envOpt(t.command('join').description("Join the tailnet as upstream's tailscale_brand_init.sh does (tailscale up --ssh --accept-routes …; a sentinel makes a second join a no-op)"))
    .option('--force-reauth', 'force re-authentication (join again despite the sentinel)')
    .action(async (o: { envFile?: string; secretFile?: string; forceReauth?: boolean }) => join(o));
  envOpt(t.command('rejoin').description('Force re-auth join to the tailnet')).action(async (o: { envFile?: string; secretFile?: string }) => join({ ...o, forceReauth: true }));
}
