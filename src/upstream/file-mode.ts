// `--mode OCTAL` on the commands that write secrets to files (init, secrets encode|decode, bootstrap,
// tailscale authkey): they write 0600, and upstream's scripts that need its 0644 (a container reading
// the env file as another user) get it a flag away. Never writable by others.
import { InvalidArgumentError } from 'commander';

export const FILE_MODE_HELP = "permission bits of the files written, octal (default 0600; upstream's are 0644)";

export function fileModeOption(v: string): number {
  if (!/^0?[0-7]{3}$/.test(v.trim())) throw new InvalidArgumentError(`expected octal permission bits such as 0600 or 0644, got "${v}"`);
  const mode = parseInt(v.trim(), 8);
  if (mode & 0o002) throw new InvalidArgumentError(`${v} lets every user change the file; use at most 0664`);
  if (!(mode & 0o600)) throw new InvalidArgumentError(`${v} leaves the owner unable to read or write the file`);
  return mode;
}
