// Files that ship with the tool (schemas/, profiles/, examples/), found from the installed package root.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'schemas'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('pmoves mini: cannot find the package root (schemas/ next to package.json)');
    dir = up;
  }
}

export const packageRoot = findRoot();
export const schemasDir = path.join(packageRoot, 'schemas');
export const profilesDir = path.join(packageRoot, 'profiles');
