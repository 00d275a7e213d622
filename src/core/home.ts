// Where the tool keeps its own files: $PMOVES_HOME (default ~/.pmoves).
import os from 'node:os';
import path from 'node:path';

export interface Home {
  root: string;
  state: string;
  lock: string;
  audit: string;
  key: string;
}

export function pmovesHome(env: NodeJS.ProcessEnv = process.env): Home {
  const root = path.resolve(env.PMOVES_HOME || path.join(os.homedir(), '.pmoves'));
  return {
    root,
    state: path.join(root, 'state.json'),
    lock: path.join(root, 'lock'),
    audit: path.join(root, 'audit.jsonl'),
    key: path.join(root, 'state.key'),
  };
}
