// `watch --print-systemd-unit`: a unit that runs this watcher with the same options. Hardening that
// keeps Node's JIT (no MemoryDenyWriteExecute), serial ports and GPUs (no PrivateDevices, no
// DevicePolicy, and no ProtectClock, which implies a DeviceAllow= allow-list) and the Docker socket (no RestrictAddressFamilies without AF_UNIX) working.
import os from 'node:os';
import { UserError } from '../core/errors.js';

export interface UnitOptions {
  node: string;
  cli: string;
  /** Arguments after `pmoves mini watch` (absolute paths already). */
  args: string[];
  home: string;
  workingDirectory: string;
  user?: string;
  env?: Record<string, string>;
}

// Escaping, as systemd reads unit files (systemd.syntax(7), systemd.service(5) "Command lines",
// systemd.exec(5) Environment=, systemd.unit(5) "Specifiers"):
// - `%` starts a specifier everywhere specifiers are expanded (ExecStart, WorkingDirectory,
//   Environment), quoted or not: a literal % is `%%`;
// - ExecStart= splits on whitespace unless a word is in double quotes; inside quotes C escapes are
//   honoured (so `\` and `"` are escaped); `$VAR`/`${VAR}` are expanded in arguments (a literal $ is
//   `$$`), not in the executable (systemd-analyze verify looks for `$$` literally there); a lone
//   `;` separates commands (`\;`). Control characters are written as C escapes inside quotes;
// - WorkingDirectory= is one path, taken as it is after specifiers: no quotes (a quoted path is not
//   absolute and the unit fails to load), spaces kept;
// - Environment= takes quoted "KEY=value" words with C escapes; it does not expand $.
const SAFE_WORD = /^[A-Za-z0-9_@+=:,./-]+$/;
const cEscape = (s: string) =>
  s.replace(/[\\"\x00-\x1f\x7f]/g, (c) => ({ '\\': '\\\\', '"': '\\"', '\n': '\\n', '\t': '\\t', '\r': '\\r' })[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
const specifiers = (s: string) => s.replace(/%/g, '%%');

/** One ExecStart= argument. The executable (the first) is never variable-expanded: its $ stays as is. */
export function execArg(s: string, executable = false): string {
  if (s === ';') return '\\;';
  const v = executable ? specifiers(s) : specifiers(s).replace(/\$/g, '$$$$');
  return SAFE_WORD.test(s) ? v : `"${cEscape(v)}"`;
}

/** A WorkingDirectory= (or other single path) value. */
export function unitPath(p: string): string {
  if (!p.startsWith('/')) throw new UserError(`systemd unit: expected an absolute path, got "${p}"`);
  if (/[\x00-\x1f\x7f]/.test(p) || /\s$/.test(p)) throw new UserError(`systemd unit: the path "${JSON.stringify(p).slice(1, -1)}" cannot be written in a unit (control characters or trailing space)`);
  return specifiers(p);
}

/** One Environment= assignment. */
export function envAssignment(key: string, value: string): string {
  const kv = specifiers(`${key}=${value}`);
  return SAFE_WORD.test(`${key}=${value}`) ? kv : `"${cEscape(kv)}"`;
}

export function renderUnit(o: UnitOptions): string {
  const user = o.user ?? safeUser();
  // A small young generation keeps an idle daemon's RSS down (~12 MB less) at the cost of more
  // frequent, shorter scavenges during a run.
  const exec = [o.node, '--max-semi-space-size=1', o.cli, 'mini', 'watch', ...o.args].map((a, i) => execArg(a, i === 0)).join(' ');
  const lines = [
    '# pmoves-mini-watch.service: keeps this machine converged to its manifest.',
    '# Install:  pmoves mini watch ... --print-systemd-unit | sudo tee /etc/systemd/system/pmoves-mini-watch.service',
    '#           sudo systemctl daemon-reload && sudo systemctl enable --now pmoves-mini-watch',
    '# Logs:     journalctl -u pmoves-mini-watch -f      Reload now: sudo systemctl reload pmoves-mini-watch',
    '[Unit]',
    'Description=pmoves mini watch (declarative reconciler)',
    'Documentation=https://github.com/POWERFULMOVES/PMOVES.AI',
    'Wants=network-online.target',
    'After=network-online.target docker.service',
    '',
    '[Service]',
    'Type=exec',
    ...(user ? [`User=${user}`] : []),
    `WorkingDirectory=${unitPath(o.workingDirectory)}`,
    `Environment=${envAssignment('PMOVES_HOME', o.home)}`,
    'Environment=NO_COLOR=1',
    ...Object.entries(o.env ?? {}).map(([k, v]) => `Environment=${envAssignment(k, v)}`),
    `ExecStart=${exec}`,
    'ExecReload=/bin/kill -HUP $MAINPID',
    'Restart=on-failure',
    'RestartSec=5s',
    '# SIGTERM finishes or cancels the apply in flight, releases the lock and exits 0.',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=120s',
    '# Hardening that does not break Node (JIT), serial/GPU devices or the Docker socket.',
    'NoNewPrivileges=yes',
    'ProtectSystem=full',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'RestrictSUIDSGID=yes',
    'RestrictRealtime=yes',
    'LockPersonality=yes',
    'RestrictNamespaces=yes',
    'SystemCallArchitectures=native',
    'UMask=0077',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ];
  return lines.join('\n') + '\n';
}

function safeUser(): string | undefined {
  try {
    const u = os.userInfo().username;
    return u === 'root' ? undefined : u;
  } catch {
    return undefined;
  }
}
