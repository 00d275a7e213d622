// audit.jsonl: one line per applied change. Never a value: callers pass addresses, actions, outcomes.
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import type { Home } from '../core/home.js';

export interface AuditRecord {
  address: string;
  action: string;
  outcome: string;
  manifest_digest?: string;
  error?: string;
  [k: string]: unknown;
}

export async function audit(home: Home, rec: AuditRecord): Promise<void> {
  const line = JSON.stringify({ time: new Date().toISOString(), user: userName(), pid: process.pid, ...rec }) + '\n';
  await fsp.mkdir(home.root, { recursive: true, mode: 0o700 });
  // O_APPEND writes of one line are atomic for lines this short; the file is never rewritten.
  await fsp.appendFile(home.audit, line, { mode: 0o600 });
}

function userName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}
