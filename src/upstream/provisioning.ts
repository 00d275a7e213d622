// The provisioning bundle upstream's `bootstrap` stages (README_APPLY.txt, the install wizards, …) and
// the lines upstream's `status` prints about it. Inside an upstream checkout the sources are upstream's
// own files; elsewhere they are this tool's `provisioning/` folder. Staging copies only what differs,
// so a second run changes nothing.
import { existsSync, promises as fsp, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { readJsonOrNull, writeFileAtomic } from '../core/fs.js';
import { packageRoot } from '../core/paths.js';
import { upstreamCheckout } from './checkout.js';

export const PROVISIONING_REL = path.join('CATACLYSM_STUDIOS_INC', 'PMOVES-PROVISIONS');
export const MANIFEST_FILE = 'provisioning-manifest.json';

/** The repository root as upstream means it: the upstream checkout this runs in (found by its layout,
 *  see checkout.ts), else the nearest folder up from `cwd` with `.git`, else `cwd`. */
export function repoRoot(cwd: string = process.cwd()): string {
  const checkout = upstreamCheckout(cwd);
  if (checkout) return checkout;
  let dir = path.resolve(cwd);
  for (;;) {
    if (existsSync(path.join(dir, '.git'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(cwd);
    dir = up;
  }
}

export function defaultProvisioningDest(root: string): string {
  return path.join(root, PROVISIONING_REL);
}

/** An upstream checkout: upstream's own wizard is there. */
export function isUpstreamCheckout(root: string): boolean {
  return existsSync(path.join(root, 'pmoves', 'scripts', 'install', 'wizard.sh'));
}

/** bundle-relative path → source file. */
export function bundleFiles(root: string): Map<string, string> {
  if (isUpstreamCheckout(root)) {
    return new Map([
      ['README_APPLY.txt', path.join(root, 'docs', 'provisioning', 'README_APPLY.txt')],
      ['docker-compose.gpu.yml', path.join(root, 'pmoves', 'docker-compose.gpu.yml')],
      ['scripts/install/wizard.sh', path.join(root, 'pmoves', 'scripts', 'install', 'wizard.sh')],
      ['scripts/install/wizard.ps1', path.join(root, 'pmoves', 'scripts', 'install', 'wizard.ps1')],
      ['scripts/proxmox/pmoves-bootstrap.sh', path.join(root, 'pmoves', 'scripts', 'proxmox', 'pmoves-bootstrap.sh')],
      ['tailscale/tailscale_brand_up.sh', path.join(root, 'pmoves', 'scripts', 'tailscale_brand_up.sh')],
    ]);
  }
  const own = path.join(packageRoot, 'provisioning');
  const out = new Map<string, string>();
  const walk = (dir: string, rel: string) => {
    for (const name of existsSync(dir) ? readdirSync(dir).sort() : []) {
      const full = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(full).isDirectory()) walk(full, r);
      else out.set(r, full);
    }
  };
  walk(own, '');
  return out;
}

export function glancerFiles(root: string): Map<string, string> | null {
  const src = path.join(root, 'pmoves', 'provisioning', 'glancer');
  if (!existsSync(src)) return null;
  return new Map(['README.md', 'docker-compose.glancer.yml', 'glancer.env.example'].map((f) => [`addons/glancer/${f}`, path.join(src, f)]));
}

/** Upstream's bundle folders, copied with its README.md whenever the bundle is staged somewhere other
 *  than the checkout's own CATACLYSM_STUDIOS_INC/PMOVES-PROVISIONS (only an upstream checkout has them). */
const BUNDLE_DIRS = ['backup', 'docker-stacks', 'docs', 'inventory', 'jetson', 'linux', 'proxmox', 'tailscale', 'ventoy', 'windows'];

/** bundle-relative path → source file of upstream's README.md and bundle folders for `dest`. Unlike
 *  upstream (which deletes each target folder first, and with it the staged tailscale_brand_up.sh),
 *  files are copied over what is there: nothing staged or added by the user is removed. */
function canonicalExtras(root: string, dest: string): Map<string, string> {
  const out = new Map<string, string>();
  const canonical = defaultProvisioningDest(root);
  if (!isUpstreamCheckout(root) || path.resolve(dest) === path.resolve(canonical)) return out;
  const readme = path.join(canonical, 'README.md');
  if (existsSync(readme)) out.set('README.md', readme);
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const r = `${rel}/${name}`;
      const st = statSync(full);
      if (st.isDirectory()) walk(full, r);
      else if (st.isFile()) out.set(r, full);
    }
  };
  for (const d of BUNDLE_DIRS) if (existsSync(path.join(canonical, d))) walk(path.join(canonical, d), d);
  return out;
}

export interface StageResult {
  destination: string;
  changed: string[];
  unchanged: number;
}

async function copyIfDifferent(src: string, dest: string, res: StageResult, rel: string): Promise<void> {
  const data = await fsp.readFile(src);
  const cur = await fsp.readFile(dest).catch(() => null);
  const mode = (await fsp.stat(src)).mode & 0o777;
  if (cur && cur.equals(data) && ((await fsp.stat(dest)).mode & 0o777) === mode) {
    res.unchanged++;
    return;
  }
  await writeFileAtomic(dest, data, { mode });
  res.changed.push(rel);
}

/** Stage the bundle into `dest`. Throws an Error naming the first missing source. */
export async function stageBundle(root: string, dest: string, withGlancer: boolean): Promise<StageResult> {
  const res: StageResult = { destination: dest, changed: [], unchanged: 0 };
  const files = bundleFiles(root);
  for (const [, src] of files) if (!existsSync(src)) throw new Error(`Provisioning source missing: ${src}`);
  const addons: Record<string, unknown> = {};
  let glancer: Map<string, string> | null = null;
  if (withGlancer) {
    glancer = glancerFiles(root);
    if (!glancer) throw new Error(`Glancer source missing: ${path.join(root, 'pmoves', 'provisioning', 'glancer')} (Glancer's assets come with an upstream PMOVES.AI checkout)`);
    for (const [, src] of glancer) if (!existsSync(src)) throw new Error(`Glancer source missing: ${src}`);
  }
  for (const [rel, src] of files) await copyIfDifferent(src, path.join(dest, rel), res, rel);
  for (const [rel, src] of canonicalExtras(root, dest)) await copyIfDifferent(src, path.join(dest, rel), res, rel);
  if (glancer) {
    for (const [rel, src] of glancer) await copyIfDifferent(src, path.join(dest, rel), res, rel);
    addons.glancer = { staged: true, assets: [...glancer.keys()], source: path.join(root, 'pmoves', 'provisioning', 'glancer') };
  }
  const source = isUpstreamCheckout(root) ? defaultProvisioningDest(root) : path.join(packageRoot, 'provisioning');
  const manifestPath = path.join(dest, MANIFEST_FILE);
  const prior = await readJsonOrNull<{ generated_at?: string; source?: string; addons?: unknown }>(manifestPath);
  if (!prior || prior.source !== source || JSON.stringify(prior.addons) !== JSON.stringify(addons)) {
    const manifest = { generated_at: new Date().toISOString().replace(/Z$/, '') + 'Z', source, addons };
    await writeFileAtomic(manifestPath, JSON.stringify(manifest, null, 2));
    res.changed.push(MANIFEST_FILE);
  } else res.unchanged++;
  return res;
}

export interface UpstreamStatus {
  active_profile: string | null;
  provisioning: { ready: boolean; wizard: string };
  glancer: string;
}

/** Upstream's `_glancer_status`, word for word. */
export async function glancerStatus(staging: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const manifest = await readJsonOrNull<{ addons?: { glancer?: { staged?: boolean } } }>(path.join(staging, MANIFEST_FILE));
  const compose = path.join(staging, 'addons', 'glancer', 'docker-compose.glancer.yml');
  const hasCompose = existsSync(compose);
  if (!(manifest?.addons?.glancer?.staged || hasCompose)) return 'not requested';
  if (!hasCompose) return 'requested but compose assets are missing';
  const { whichSync } = await import('../providers/mcp/probe.js');
  const docker = whichSync('docker', env);
  if (!docker) return 'staged (docker CLI unavailable for health check)';
  const { runChild } = await import('../core/child.js');
  const r = await runChild(docker, ['compose', '-f', compose, 'ps', '--format', 'json', 'glancer'], { env: { ...process.env, ...env }, timeoutMs: 30_000 });
  if (r.exitCode !== 0) return `compose not running (${String(r.stderr ?? '').trim() || 'glancer service is not running'})`;
  let services: Record<string, unknown>[] = [];
  const out = String(r.stdout ?? '').trim();
  try {
    const parsed = JSON.parse(out || '[]') as unknown;
    services = Array.isArray(parsed) ? (parsed as Record<string, unknown>[]) : [parsed as Record<string, unknown>];
  } catch {
    // compose v2 prints one JSON object per line
    services = out.split('\n').flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }
  if (!services.length) return 'staged (glancer container not started)';
  const s = services[0]!;
  const state = String(s.State ?? '').toLowerCase();
  const health = String(s.Health ?? s.HealthStatus ?? '').toLowerCase();
  return health ? `${state || 'unknown'} (${health})` : state || 'unknown';
}

export async function upstreamStatus(activeProfile: string | null, staging: string, env: NodeJS.ProcessEnv = process.env): Promise<UpstreamStatus> {
  const wizard = path.join(staging, 'scripts', 'install', 'wizard.sh');
  return { active_profile: activeProfile, provisioning: { ready: existsSync(wizard), wizard }, glancer: await glancerStatus(staging, env) };
}

/** Upstream's three lines. */
export function upstreamStatusLines(s: UpstreamStatus): string[] {
  return [
    `Active profile: ${s.active_profile ?? '(none)'}`,
    s.provisioning.ready ? `Provisioning bundle: ready (${s.provisioning.wizard})` : `Provisioning bundle: missing (expected ${s.provisioning.wizard})`,
    `Glancer: ${s.glancer}`,
  ];
}

