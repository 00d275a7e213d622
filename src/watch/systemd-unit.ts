// `watch --print-systemd-unit`: a unit that runs this watcher with the same options. Hardening that
// keeps Node's JIT (no MemoryDenyWriteExecute), serial ports and GPUs (no PrivateDevices, no
// DevicePolicy, and no ProtectClock, which implies a DeviceAllow= allow-list) and the Docker socket (no RestrictAddressFamilies without AF_UNIX) working.
import os from 'node:os';

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

const quote = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);

export function renderUnit(o: UnitOptions): string {
  const user = o.user ?? safeUser();
  // A small young generation keeps an idle daemon's RSS down (~12 MB less) at the cost of more
  // frequent, shorter scavenges during a run.
  const exec = [o.node, '--max-semi-space-size=1', o.cli, 'mini', 'watch', ...o.args].map(quote).join(' ');
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
    `WorkingDirectory=${quote(o.workingDirectory)}`,
    `Environment=PMOVES_HOME=${quote(o.home)}`,
    'Environment=NO_COLOR=1',
    ...Object.entries(o.env ?? {}).map(([k, v]) => `Environment=${quote(`${k}=${v}`)}`),
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
