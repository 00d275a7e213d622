// `pmoves mini secrets encode|decode|diff|rotate|sign|verify`: CHIT CGP bundles, byte-compatible with
// upstream's tools (chit_encode_secrets.py, chit_decode_secrets.py, chit_security.py). No command prints
// or logs a value. The bodies live in secrets-run.ts and load only when a command runs.
import type { Command } from 'commander';
import { UserError } from '../core/errors.js';
import { globals } from './common.js';
import { FILE_MODE_HELP, fileModeOption } from '../upstream/file-mode.js';

export function registerSecrets(mini: Command): void {
  const secrets = mini.command('secrets').description('CHIT secrets bundles: encode, decode, diff, rotate, sign, verify');

  secrets
    .command('encode')
    .description('encode an env file into a CHIT CGP v0.1 bundle (as upstream chit_encode_secrets.py)')
    .option('-e, --env-file <file>', 'env file to encode (KEY=value lines, read as upstream does)', 'pmoves/env.shared')
    .option('-o, --out <bundle>', 'bundle to write (JSON)', 'pmoves/pmoves/data/chit/env.cgp.json')
    .option('--no-cleartext', 'store values base64-encoded in text_b64 (encoding, not encryption)')
    .option('--namespace <ns>', 'namespace stored in the bundle', 'pmoves.secrets')
    .option('--description <text>', 'description stored in the bundle', 'PMOVES shared secrets')
    .option('--keys <key...>', 'only these keys (space-separated, or repeat the flag)')
    .option('--sign', 'add an HMAC-SHA256 signature (passphrase from CHIT_PASSPHRASE or a prompt)')
    .option('--mode <octal>', FILE_MODE_HELP, fileModeOption)
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const { encodeCommand } = await import('./secrets-run.js');
      await encodeCommand(globals(cmd), o);
    });

  secrets
    .command('decode')
    .description('write a bundle out as an env file (KEY=value sorted, as upstream chit_decode_secrets.py)')
    .option('--bundle <bundle>', "CHIT CGP bundle to read (default: upstream's pmoves/pmoves/data/chit/env.cgp.json)")
    .option('-c, --cgp <bundle>', "the same as --bundle (upstream's spelling)")
    .option('-o, --out <file>', "env file to write (mode 0600; default upstream's pmoves/pmoves/data/chit/env.decoded)", 'pmoves/pmoves/data/chit/env.decoded')
    .option('--keys <key...>', 'only these keys (space-separated, or repeat the flag)')
    .option('--allow-multiline', 'write values that contain a newline (upstream does; the file is then broken)')
    .option('--verify', 'refuse unless the bundle carries a valid signature')
    .option('--mode <octal>', FILE_MODE_HELP, fileModeOption)
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const { decodeCommand } = await import('./secrets-run.js');
      if (o.bundle && o.cgp && o.bundle !== o.cgp) throw new UserError('secrets decode: give the bundle once (--bundle or --cgp/-c), not two different files');
      await decodeCommand(globals(cmd), { ...o, bundle: o.bundle ?? o.cgp ?? 'pmoves/pmoves/data/chit/env.cgp.json' });
    });

  secrets
    .command('diff')
    .description('labels added, removed and changed between two bundles, or a bundle and an env file (values never shown)')
    .requiredOption('--bundle <bundle>', 'the bundle to compare (the "after" side)')
    .option('--against <file>', 'a bundle or env file (the "before" side); default: the bundle the manifest uses')
    .option('--detailed-exitcode', 'exit 0 when equal, 2 when they differ, 1 on errors')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const { diffCommand } = await import('./secrets-run.js');
      await diffCommand(globals(cmd), o);
    });

  secrets
    .command('rotate')
    .description("give a label a new value: rewrite the bundle (with a backup), regenerate the env files made from it, audit it")
    .requiredOption('--label <label>', 'the label to rotate')
    .option('--bundle <bundle>', 'the bundle (default: the one the manifest uses)')
    .option('--value-from-stdin', 'read the new value from stdin (one trailing newline is dropped) instead of prompting')
    .option('--allow-multiline', 'accept a value with a newline (env files cannot hold it)')
    .option('--no-apply', 'only rewrite the bundle; do not regenerate env files')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const { rotateCommand } = await import('./secrets-run.js');
      await rotateCommand(globals(cmd), o);
    });

  secrets
    .command('sign')
    .description("sign a bundle with HMAC-SHA256 as upstream chit_security.sign_cgp (passphrase from CHIT_PASSPHRASE or a prompt)")
    .requiredOption('--bundle <bundle>', 'bundle to sign')
    .option('--out <file>', 'write the signed bundle here (default: in place)')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const { signCommand } = await import('./secrets-run.js');
      await signCommand(globals(cmd), o);
    });

  secrets
    .command('verify')
    .description("check a bundle's HMAC-SHA256 signature (passphrase from CHIT_PASSPHRASE or a prompt)")
    .requiredOption('--bundle <bundle>', 'bundle to check')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const { verifyCommand } = await import('./secrets-run.js');
      await verifyCommand(globals(cmd), o);
    });
}
