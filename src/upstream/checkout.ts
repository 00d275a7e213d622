// An upstream PMOVES.AI checkout, found by its layout (not by `.git`: a tarball or a zip has none, and a
// checkout inside another repository must not borrow the outer one). Inside one, upstream's own files
// (profiles, the MCP catalog, the secrets manifest, the provisioning bundle's sources) are read from it,
// as upstream's CLI reads them from beside its module; outside one, this package's copies are used.
import { existsSync } from 'node:fs';
import path from 'node:path';

/** The file that makes a folder an upstream checkout: upstream's CLI module itself. */
const CHECKOUT_MARKER = path.join('pmoves', 'tools', 'mini_cli.py');

/** The nearest folder at or above `cwd` laid out as an upstream checkout, or null. */
export function upstreamCheckout(cwd: string = process.cwd()): string | null {
  let dir = path.resolve(cwd);
  for (;;) {
    if (existsSync(path.join(dir, CHECKOUT_MARKER))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}
