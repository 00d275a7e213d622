// Upstream's deployment beyond the core stack, as upstream's Makefile combines the files (see
// ../shared/fixtures/pmoves/README.md), unmodified, under compose v2 on the real engine, through the built
// CLI, with stand-in images (test/deployment-harness.ts):
// - gpu: core + docker-compose.gpu.yml with --profile gpu: the GPU services are named on this CPU machine
//   and planned on the recorded RTX desktop; apply --skip-unsatisfiable → no changes → tear-down, nothing left;
// - monitoring: monitoring/docker-compose.monitoring.yml: its external network missing is a plan error;
//   with it, apply → no changes → drift (a stopped container) → apply → tear-down, nothing left;
// - agents: core + docker-compose.agents.images.yml + docker-compose.hardened.yml with --profile agents:
//   compose rejects the combination (upstream bugs: hardened.yml's services without an image, a network `pmoves` that
//   no file defines): a plan error with compose's words, nothing starts.
// - core + monitoring (monitoring depends_on core, whose network it uses as external): planned and applied
//   in one go on a fresh machine; tear-down core refuses, --with-dependents goes in reverse order.
// Fixed network names and host ports: must not run concurrently with another deployment run.
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { composeGeneration, coreFile, coreProfiles, deployment, gpuServices, prepareDeployment, rtxDesktop, type Deployment } from './deployment-harness.js';
import { cli, tempDir } from './helpers.js';

const gpuFile = path.join(deployment, 'docker-compose.gpu.yml');
const monitoringFile = path.join(deployment, 'monitoring', 'docker-compose.monitoring.yml');
const agentsFiles = [path.join(deployment, 'docker-compose.agents.images.yml'), path.join(deployment, 'docker-compose.hardened.yml')];
let v2 = true;

test.before(async () => {
  v2 = (await composeGeneration()) === 2;
});

interface Run {
  dir: string;
  home: string;
  manifest: string;
  outputs: string[];
  run(args: string[], env?: Record<string, string>): Promise<{ exitCode?: number; stdout: unknown; stderr: unknown }>;
}

function setup(prefix: string): Run & { cleanup(): void } {
  // As in upstream's checkout: the compose project folder is `pmoves/`, and some services read `../.env`.
  const t = tempDir(prefix);
  const dir = path.join(t.dir, 'pmoves');
  mkdirSync(dir);
  writeFileSync(path.join(t.dir, '.env'), '');
  const home = path.join(t.dir, 'home');
  const manifest = path.join(dir, 'pmoves.mini.yaml');
  const outputs: string[] = [];
  return {
    dir,
    home,
    manifest,
    outputs,
    cleanup: t.cleanup,
    async run(args, env = {}) {
      const r = await cli(['mini', ...args, '-m', manifest], { home, env, timeout: 300_000 });
      outputs.push(String(r.stdout), String(r.stderr));
      return r;
    },
  };
}

function stackManifest(file: string, project: string, files: string[], profiles: string[], envFiles: string[], extra = ''): void {
  writeFileSync(
    file,
    `apiVersion: pmoves.ai/mini/v1
stacks:
  s:
    project: ${project}
    files: ${JSON.stringify(files)}
    project_directory: .
    profiles: ${JSON.stringify(profiles)}
    env_files: ${JSON.stringify(envFiles)}
    wait_timeout: 120s
${extra}`,
  );
}

async function containers(project: string): Promise<Map<string, string>> {
  const r = await execa('docker', ['ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Label "com.docker.compose.service"}} {{.State}}']);
  return new Map(r.stdout.split('\n').filter(Boolean).map((l) => [l.split(' ')[0]!, l.split(' ')[1]!]));
}

async function leftBehind(project: string): Promise<string[]> {
  const out: string[] = [];
  for (const kind of ['container', 'volume', 'network']) {
    const args = kind === 'container' ? ['ps', '-aq'] : [kind, 'ls', '-q'];
    const r = await execa('docker', [...args, '--filter', `label=com.docker.compose.project=${project}`]);
    if (r.stdout.trim()) out.push(`${kind}s: ${r.stdout.trim().split('\n').length}`);
  }
  return out;
}

function planned(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of out.split('\n')) {
    const x = /^\s*# stacks\.s\.(\S+) will be (created|recreated|started|removed)/.exec(l);
    if (x) m.set(x[1]!, x[2]!);
  }
  return m;
}

function noCanary(r: Run, dep: Deployment | null): void {
  if (!dep) return;
  const written = ['state.json', 'audit.jsonl'].map((f) => path.join(r.home, f)).filter(existsSync).map((f) => readFileSync(f, 'utf8'));
  for (const c of dep.canaries) for (const o of [...r.outputs, ...written]) assert.not.ok(o.includes(c), `canary ${c} leaked`);
}

test('gpu overlay: GPU services named on this CPU machine, planned on the RTX desktop; the rest applied, no changes, torn down', async () => {
  if (!v2) return console.log("  (skipped: upstream's deployment needs compose v2)");
  const r = setup('pmoves-deploy-gpu-');
  const project = `pmg${process.pid}`;
  const files = [coreFile, gpuFile];
  const profiles = [...coreProfiles, 'gpu'];
  let dep: Deployment | null = null;
  try {
    dep = await prepareDeployment(r.dir, project, files, profiles);
    const [cbin, ...cargs] = await dep.composeArgs(['config', '--services']);
    const active = (await execa(cbin!, cargs, { stdin: 'ignore' })).stdout.split('\n').filter(Boolean);
    stackManifest(r.manifest, project, files, profiles, ['env.shared']);

    // The core file's external network `cataclysm-net` (upstream's legacy network) is needed once the
    // gpu overlay is in: a plan error naming it until the user creates it.
    await execa('docker', ['network', 'rm', 'cataclysm-net'], { reject: false });
    const noNet = await r.run(['plan']);
    assert.is(noNet.exitCode, 1, String(noNet.stdout) + String(noNet.stderr));
    assert.match(String(noNet.stdout) + String(noNet.stderr), /cataclysm-net/);
    assert.is((await containers(project)).size, 0, 'nothing started');
    await execa('docker', ['network', 'create', 'cataclysm-net']);

    const blocked = await r.run(['plan']);
    assert.is(blocked.exitCode, 1, String(blocked.stdout) + String(blocked.stderr));
    const named = [...String(blocked.stdout).matchAll(/! stacks\.s service (\S+) cannot run here/g)].map((m) => m[1]!);
    for (const s of gpuServices) assert.ok(named.includes(s), `${s} named: ${named.join(', ')}\n${blocked.stdout}${blocked.stderr}`);
    assert.ok(named.length > gpuServices.length, `the gpu profile adds GPU services of its own: ${named.join(', ')}`);

    const desk = await r.run(['plan', '--detailed-exitcode'], rtxDesktop);
    assert.is(desk.exitCode, 2, String(desk.stdout) + String(desk.stderr));
    const pd = planned(String(desk.stdout));
    for (const s of active) assert.is(pd.get(s), 'created', s);

    const a = await r.run(['apply', '--auto-approve', '--skip-unsatisfiable']);
    assert.is(a.exitCode, 0, String(a.stdout) + String(a.stderr));
    const up = await containers(project);
    assert.equal([...up.keys()].sort(), active.filter((s) => !named.includes(s)).sort(), 'the rest is up; nothing that cannot run was created');
    for (const [svc, st] of up) assert.is(st, 'running', svc);
    const again = await r.run(['plan', '--detailed-exitcode', '--skip-unsatisfiable']);
    assert.is(again.exitCode, 0, String(again.stdout));

    stackManifest(r.manifest, project, files, profiles, ['env.shared'], '    state: down\n    remove_volumes: true\n');
    const down = await r.run(['apply', '--auto-approve', '--skip-unsatisfiable']);
    assert.is(down.exitCode, 0, String(down.stdout) + String(down.stderr));
    assert.equal(await leftBehind(project), []);
    noCanary(r, dep);
  } finally {
    await dep?.cleanup();
    await execa('docker', ['network', 'rm', 'cataclysm-net'], { reject: false });
    r.cleanup();
  }
});

test('monitoring stack: its external network missing is a plan error; then apply, no changes, drift, tear-down, nothing left', async () => {
  if (!v2) return console.log("  (skipped: upstream's deployment needs compose v2)");
  const r = setup('pmoves-deploy-mon-');
  const project = `pmm${process.pid}`;
  const network = 'pmoves_monitoring'; // the file's external network (monitoring_tier, name: pmoves_monitoring)
  let dep: Deployment | null = null;
  // Host ports on loopback (the file reads them from the environment); the bind-mounted configs exist.
  writeFileSync(
    path.join(r.dir, 'env.monitoring'),
    ['PROMETHEUS_HOST_PORT=127.0.0.1:19090', 'GRAFANA_HOST_PORT=127.0.0.1:13002', 'LOKI_HOST_PORT=127.0.0.1:13100', 'BLACKBOX_HOST_PORT=127.0.0.1:19115', `GRAFANA_ADMIN_PASSWORD=canary-grafana-${project}`, ''].join('\n'),
  );
  for (const f of ['prometheus/prometheus.yml', 'loki/local-config.yaml', 'promtail/config.yml', 'blackbox/blackbox.yml']) {
    mkdirSync(path.join(r.dir, path.dirname(f)), { recursive: true });
    writeFileSync(path.join(r.dir, f), '# stand-in config\n');
  }
  for (const d of ['grafana/datasources', 'grafana/dashboards', 'grafana/provisioning']) mkdirSync(path.join(r.dir, d), { recursive: true });
  try {
    dep = await prepareDeployment(r.dir, project, [monitoringFile], []);
    dep.canaries.push(`canary-grafana-${project}`);
    await execa('docker', ['network', 'rm', network], { reject: false });
    stackManifest(r.manifest, project, [monitoringFile], [], ['env.monitoring']);

    const missing = await r.run(['plan']);
    assert.is(missing.exitCode, 1, String(missing.stdout) + String(missing.stderr));
    assert.match(String(missing.stdout) + String(missing.stderr), new RegExp(`external network.*${network}.*(does not exist|not found)|${network}.*external.*(does not exist|not found)`, 'i'), String(missing.stdout) + String(missing.stderr));
    assert.is((await containers(project)).size, 0, 'nothing started');

    await execa('docker', ['network', 'create', network]);
    const a = await r.run(['apply', '--auto-approve']);
    assert.is(a.exitCode, 0, String(a.stdout) + String(a.stderr));
    const up = await containers(project);
    assert.equal([...up.keys()].sort(), ['blackbox', 'grafana', 'loki', 'prometheus', 'promtail']);
    const again = await r.run(['plan', '--detailed-exitcode']);
    assert.is(again.exitCode, 0, String(again.stdout));

    await execa('docker', ['stop', '-t', '1', `${project}-grafana-1`]);
    const drift = await r.run(['plan', '--detailed-exitcode']);
    assert.is(drift.exitCode, 2, String(drift.stdout));
    assert.equal([...planned(String(drift.stdout))], [['grafana', 'started']]);
    const b = await r.run(['apply', '--auto-approve']);
    assert.is(b.exitCode, 0, String(b.stdout) + String(b.stderr));
    assert.is((await containers(project)).get('grafana'), 'running');

    stackManifest(r.manifest, project, [monitoringFile], [], ['env.monitoring'], '    state: down\n    remove_volumes: true\n');
    const down = await r.run(['apply', '--auto-approve']);
    assert.is(down.exitCode, 0, String(down.stdout) + String(down.stderr));
    assert.equal(await leftBehind(project), []);
    const ext = await execa('docker', ['network', 'inspect', network], { reject: false });
    assert.is(ext.exitCode, 0, 'the external network is not the stack\'s to remove');
    noCanary(r, dep);
  } finally {
    await dep?.cleanup();
    await execa('docker', ['network', 'rm', network], { reject: false });
    r.cleanup();
  }
});

test("agents overlay: upstream's files as its Makefile combines them are rejected by compose: a plan error with compose's words, nothing starts, no secret relayed", async () => {
  if (!v2) return console.log("  (skipped: upstream's deployment needs compose v2)");
  const r = setup('pmoves-deploy-agents-');
  const project = `pma${process.pid}`;
  let dep: Deployment | null = null;
  try {
    dep = await prepareDeployment(r.dir, project); // env files and canaries of the core stack
    const files = [coreFile, ...agentsFiles];
    stackManifest(r.manifest, project, files, ['agents'], ['env.shared']);
    const v = await r.run(['validate']);
    assert.is(v.exitCode, 0, String(v.stdout) + String(v.stderr));
    for (const args of [['plan'], ['apply', '--auto-approve']]) {
      const p = await r.run(args);
      assert.is(p.exitCode, 1, String(p.stdout) + String(p.stderr));
      const text = String(p.stdout) + String(p.stderr);
      assert.match(text, /stacks\.s/);
      // compose's own words: the first problem it meets in these files (hardened.yml's services have no
      // image without the core file's build; agents.images.yml's network `pmoves` is defined nowhere)
      assert.match(text, /compose rejected the stack's files[\s\S]*(service "[^"]+" has neither an image nor a build context|.*undefined network pmoves)/, text);
      assert.not.match(text, /internal error|\n\s+at /);
    }
    assert.is((await containers(project)).size, 0, 'nothing started');
    noCanary(r, dep);
  } finally {
    await dep?.cleanup();
    r.cleanup();
  }
});

test('core + monitoring in one go: the network core creates is not a plan error; tear-down core refuses, --with-dependents removes monitoring first, nothing left', async () => {
  if (!v2) return console.log("  (skipped: upstream's deployment needs compose v2)");
  const r = setup('pmoves-deploy-coremon-');
  const core = `pmcm${process.pid}`;
  const mon = `pmmn${process.pid}`;
  const network = 'pmoves_monitoring';
  const deps: Deployment[] = [];
  writeFileSync(path.join(r.dir, 'env.monitoring'), ['PROMETHEUS_HOST_PORT=127.0.0.1:19090', 'GRAFANA_HOST_PORT=127.0.0.1:13002', 'LOKI_HOST_PORT=127.0.0.1:13100', 'BLACKBOX_HOST_PORT=127.0.0.1:19115', ''].join('\n'));
  for (const f of ['prometheus/prometheus.yml', 'loki/local-config.yaml', 'promtail/config.yml', 'blackbox/blackbox.yml']) {
    mkdirSync(path.join(r.dir, path.dirname(f)), { recursive: true });
    writeFileSync(path.join(r.dir, f), '# stand-in config\n');
  }
  for (const d of ['grafana/datasources', 'grafana/dashboards', 'grafana/provisioning']) mkdirSync(path.join(r.dir, d), { recursive: true });
  try {
    deps.push(await prepareDeployment(r.dir, mon, [monitoringFile], []));
    deps.push(await prepareDeployment(r.dir, core, [coreFile], ['data']));
    await execa('docker', ['network', 'rm', network], { reject: false });
    writeFileSync(
      r.manifest,
      `apiVersion: pmoves.ai/mini/v1\nstacks:\n  core:\n    project: ${core}\n    files: ${JSON.stringify([coreFile])}\n    project_directory: .\n    profiles: [data]\n    env_files: [env.shared]\n    skip_unsatisfiable: true\n    wait_timeout: 180s\n  monitoring:\n    project: ${mon}\n    files: ${JSON.stringify([monitoringFile])}\n    project_directory: .\n    env_files: [env.monitoring]\n    depends_on: [stacks.core]\n    wait_timeout: 120s\n`,
    );
    const p = await r.run(['plan', '--detailed-exitcode']);
    assert.is(p.exitCode, 2, String(p.stdout) + String(p.stderr));
    assert.match(String(p.stdout), `external network ${network} does not exist yet: expected from stacks.core`);
    const a = await r.run(['apply', '--auto-approve']);
    assert.is(a.exitCode, 0, String(a.stdout) + String(a.stderr));
    assert.equal([...(await containers(mon)).keys()].sort(), ['blackbox', 'grafana', 'loki', 'prometheus', 'promtail']);
    assert.ok((await containers(core)).size > 0);
    const again = await r.run(['plan', '--detailed-exitcode']);
    assert.is(again.exitCode, 0, String(again.stdout));

    const refused = await r.run(['tear-down', 'core', '--auto-approve']);
    assert.is(refused.exitCode, 1, String(refused.stdout) + String(refused.stderr));
    assert.match(String(refused.stderr), 'stacks.monitoring depends on stacks.core');
    const t = await r.run(['tear-down', 'core', '--with-dependents', '--auto-approve']);
    assert.is(t.exitCode, 0, String(t.stdout) + String(t.stderr));
    const o = String(t.stdout);
    assert.ok(o.indexOf('stacks.monitoring: Destruction complete') < o.indexOf('stacks.core: Destruction complete'), o);
    assert.not.match(o, 'still in use');
    // (tear-down keeps volumes: remove_volumes is false)
    assert.equal((await leftBehind(mon)).filter((x) => !x.startsWith('volumes')), []);
    assert.equal((await leftBehind(core)).filter((x) => !x.startsWith('volumes')), []);
    assert.is((await execa('docker', ['network', 'inspect', network], { reject: false })).exitCode, 1, `${network} left behind`);
    for (const d of deps) noCanary(r, d);
  } finally {
    for (const d of deps) await d.cleanup();
    await execa('docker', ['network', 'rm', network], { reject: false });
    r.cleanup();
  }
});

test.run();
