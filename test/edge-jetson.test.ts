// devices.<name> type jetson against the recorded Jetson Orin Nano (JetPack 6.1, L4T R36.4.0, one IMX219
// CSI camera): a writable copy of its sysroot holds daemon.json, and systemctl answers are recorded
// (PMOVES_RECORDED_COMMANDS) as the machine gave them before and after the change.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, repoRoot, tempDir } from './helpers.js';

const MACHINE = path.join(repoRoot, 'test', 'fixtures', 'machines', 'jetson-orin-nano');

const USER_DAEMON_JSON = `{
  // the user's own settings, comments included
  "data-root": "/mnt/nvme/docker",
  "log-driver": "json-file",
  "log-opts": { "max-size": "10m" }
}
`;

interface Ctx {
  t: ReturnType<typeof tempDir>;
  root: string;
  daemonJson: string;
  before: string;
  after: string;
}

const J = suite<Ctx>('jetson');

/** The recording of this machine plus the systemctl answers of one moment. */
function recording(file: string, enabled: 'enabled' | 'disabled', active: 'active' | 'inactive'): string {
  const base = JSON.parse(readFileSync(path.join(MACHINE, 'commands.json'), 'utf8')) as { commands: { argv: string[] }[] };
  const commands = base.commands.filter((c) => c.argv[0] !== 'systemctl');
  commands.push(
    { argv: ['systemctl', 'is-enabled', 'nvargus-daemon'], stdout: `${enabled}\n`, ...(enabled === 'enabled' ? {} : { exit: 1 }) } as never,
    { argv: ['systemctl', 'is-active', 'nvargus-daemon'], stdout: `${active}\n`, ...(active === 'active' ? {} : { exit: 3 }) } as never,
    { argv: ['systemctl', 'enable', '--now', 'nvargus-daemon'], stdout: '', stderr: 'Created symlink /etc/systemd/system/multi-user.target.wants/nvargus-daemon.service.\n' } as never,
    { argv: ['systemctl', 'reload', 'docker'], stdout: '' } as never,
  );
  writeFileSync(file, JSON.stringify({ commands }, null, 2));
  return file;
}

J.before((c) => {
  c.t = tempDir('pmoves-jetson-');
  c.root = path.join(c.t.dir, 'root');
  cpSync(path.join(MACHINE, 'root'), c.root, { recursive: true });
  mkdirSync(path.join(c.root, 'etc', 'docker'), { recursive: true });
  c.daemonJson = path.join(c.root, 'etc', 'docker', 'daemon.json');
  writeFileSync(c.daemonJson, USER_DAEMON_JSON);
  c.before = recording(path.join(c.t.dir, 'before.json'), 'disabled', 'inactive');
  c.after = recording(path.join(c.t.dir, 'after.json'), 'enabled', 'active');
});

J.after((c) => c.t.cleanup());

function manifest(c: Ctx, o: { l4t?: string; sensor?: string; extra?: string } = {}): string {
  const m = path.join(c.t.dir, 'pmoves.mini.yaml');
  const lines = ['apiVersion: pmoves.ai/mini/v1', 'devices:', '  nano:', '    type: jetson', `    requires: {l4t: "${o.l4t ?? '>=36'}"}`, `    cameras: {min: 1, sensors: [${o.sensor ?? 'imx219'}]}`];
  if (o.extra) lines.push(o.extra);
  writeFileSync(m, lines.join('\n') + '\n');
  return m;
}

function run(c: Ctx, args: string[], recorded: string, m = manifest(c)) {
  return cli(['mini', ...args, '-m', m], { cwd: c.t.dir, home: path.join(c.t.dir, 'home'), env: { PMOVES_SYSROOT: c.root, PMOVES_RECORDED_COMMANDS: recorded } });
}

J('plan: nvargus-daemon to enable and start, default-runtime to set, cameras checked', async (c) => {
  const r = await run(c, ['plan', '--detailed-exitcode'], c.before);
  assert.is(r.exitCode, 2, String(r.stdout) + String(r.stderr));
  const out = String(r.stdout);
  assert.match(out, '# devices.nano will be updated in-place (because nvargus-daemon is disabled/inactive: enable and start;');
  assert.match(out, `${c.daemonJson}: default-runtime (unset) -> nvidia (adds runtimes.nvidia), then reload dockerd)`);
  assert.match(out, /~ default-runtime\s+= null -> "nvidia"/);
  assert.is(readFileSync(c.daemonJson, 'utf8'), USER_DAEMON_JSON, 'plan changes nothing');
});

J('status shows L4T, the camera service, the cameras and the runtime', async (c) => {
  const r = await run(c, ['status'], c.before);
  assert.match(String(r.stdout), /devices\.nano\s+drifted .*L4T R36\.4\.0; nvargus-daemon disabled\/inactive; cameras: \/dev\/video0 vi-output, imx219 9-0010; default-runtime \(unset\)/);
});

J('apply: systemctl enable --now, daemon.json edited keeping the user\'s keys and comments, dockerd reloaded', async (c) => {
  const r = await run(c, ['apply', '--auto-approve'], c.before);
  assert.is(r.exitCode, 0, String(r.stdout) + String(r.stderr));
  assert.match(String(r.stdout), 'devices.nano: nvargus-daemon enabled and started');
  assert.match(String(r.stdout), `devices.nano: ${c.daemonJson}: default-runtime = nvidia`);
  assert.match(String(r.stdout), 'devices.nano: dockerd reloaded');
  const text = readFileSync(c.daemonJson, 'utf8');
  assert.ok(text.startsWith('{\n  // the user\'s own settings, comments included\n  "data-root": "/mnt/nvme/docker",'), text);
  const { parse } = await import('jsonc-parser');
  assert.equal(parse(text), {
    'data-root': '/mnt/nvme/docker',
    'log-driver': 'json-file',
    'log-opts': { 'max-size': '10m' },
    runtimes: { nvidia: { path: 'nvidia-container-runtime', runtimeArgs: [] } },
    'default-runtime': 'nvidia',
  });
});

J('after: the machine as recorded once the service runs: no changes', async (c) => {
  const r = await run(c, ['plan', '--detailed-exitcode'], c.after);
  assert.is(r.exitCode, 0, String(r.stdout) + String(r.stderr));
  assert.match(String(r.stdout), /No changes\./);
});

J('no longer declared: the default-runtime key this tool added is taken back, the file is as the user wrote it', async (c) => {
  const m = path.join(c.t.dir, 'pmoves.mini.yaml');
  writeFileSync(m, 'apiVersion: pmoves.ai/mini/v1\n');
  const plan = await run(c, ['plan'], c.after, m);
  assert.is(plan.exitCode, 0, String(plan.stdout) + String(plan.stderr));
  assert.match(String(plan.stdout), `# devices.nano will be removed from daemon.json (because ${c.daemonJson}: default-runtime nvidia was added by this tool and is no longer declared: removed with runtimes.nvidia, then reload dockerd)`);
  const r = await run(c, ['apply', '--auto-approve'], c.after, m);
  assert.is(r.exitCode, 0, String(r.stdout) + String(r.stderr));
  assert.match(String(r.stdout), 'devices.nano: dockerd reloaded');
  assert.is(readFileSync(c.daemonJson, 'utf8'), USER_DAEMON_JSON);
  const again = await run(c, ['plan', '--detailed-exitcode'], c.after, m);
  assert.is(again.exitCode, 0);
});

J('requires l4t, a missing sensor, a broken daemon.json: plan errors, nothing changed', async (c) => {
  const newer = await run(c, ['plan'], c.after, manifest(c, { l4t: '>=37' }));
  assert.is(newer.exitCode, 1);
  assert.match(String(newer.stdout) + String(newer.stderr), /needs L4T >=37, found R36\.4\.0/);

  const missing = await run(c, ['plan'], c.after, manifest(c, { sensor: 'imx477' }));
  assert.is(missing.exitCode, 1);
  assert.match(String(missing.stdout) + String(missing.stderr), /no CSI camera with sensor imx477 \(found: vi-output, imx219 9-0010\)/);

  const broken = '{ "data-root": "/mnt/nvme/docker", ';
  writeFileSync(c.daemonJson, broken);
  const bad = await run(c, ['apply', '--auto-approve'], c.after, manifest(c, { extra: '    docker_runtime: runc' }));
  assert.is(bad.exitCode, 1);
  assert.match(String(bad.stdout) + String(bad.stderr), /daemon\.json: .*; not edited/);
  assert.is(readFileSync(c.daemonJson, 'utf8'), broken);
});

J.run();
