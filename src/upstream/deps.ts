// Host tools a PMOVES machine uses: what is checked, how it is found, which packages install it.
// Required ones decide `deps check`'s exit code; optional ones are reported only.
import { whichSync } from '../providers/mcp/probe.js';

export interface Dep {
  id: string;
  required: boolean;
  why: string;
  /** Commands, any one of which counts (esptool ships as esptool or esptool.py). */
  commands: string[];
  /** `docker compose` (v2) is a plugin: it answers `docker compose version`. */
  plugin?: [string, string[]];
  packages: Partial<Record<Manager, string[]>>;
}

export const MANAGERS = ['apt-get', 'apt', 'dnf', 'yum', 'pacman', 'brew', 'choco', 'winget'] as const;
export type Manager = (typeof MANAGERS)[number];

const same = (p: string): Partial<Record<Manager, string[]>> => ({ 'apt-get': [p], apt: [p], dnf: [p], yum: [p], pacman: [p], brew: [p], choco: [p] });

export const DEPS: Dep[] = [
  { id: 'docker', required: true, why: 'runs the stacks', commands: ['docker'], packages: { 'apt-get': ['docker.io'], apt: ['docker.io'], dnf: ['moby-engine'], pacman: ['docker'], brew: ['docker'], winget: ['Docker.DockerDesktop'] } },
  { id: 'docker-compose', required: true, why: 'compose v2, the `docker compose` plugin', commands: ['docker'], plugin: ['docker', ['compose', 'version']], packages: { 'apt-get': ['docker-compose-v2'], apt: ['docker-compose-v2'], dnf: ['docker-compose'], pacman: ['docker-compose'], brew: ['docker-compose'] } },
  { id: 'git', required: true, why: 'watch and upstream checkouts', commands: ['git'], packages: { ...same('git'), winget: ['Git.Git'] } },
  { id: 'node', required: true, why: 'runs this tool and npm MCP servers', commands: ['node'], packages: { 'apt-get': ['nodejs'], apt: ['nodejs'], dnf: ['nodejs'], yum: ['nodejs'], pacman: ['nodejs'], brew: ['node'], choco: ['nodejs'], winget: ['OpenJS.NodeJS.LTS'] } },
  { id: 'make', required: false, why: "upstream's Makefile targets", commands: ['make'], packages: { ...same('make'), winget: ['GnuWin32.Make'] } },
  { id: 'jq', required: false, why: 'scripts that read JSON', commands: ['jq'], packages: { ...same('jq'), winget: ['jqlang.jq'] } },
  { id: 'esptool', required: false, why: 'flashing ESP32 boards', commands: ['esptool', 'esptool.py'], packages: { 'apt-get': ['esptool'], apt: ['esptool'], pacman: ['esptool'], brew: ['esptool'] } },
  { id: 'nvidia-smi', required: false, why: 'NVIDIA GPUs (comes with the driver)', commands: ['nvidia-smi'], packages: {} },
  { id: 'nvidia-ctk', required: false, why: 'GPUs in containers (nvidia-container-toolkit, from NVIDIA\'s repository)', commands: ['nvidia-ctk'], packages: { 'apt-get': ['nvidia-container-toolkit'], apt: ['nvidia-container-toolkit'], dnf: ['nvidia-container-toolkit'], yum: ['nvidia-container-toolkit'] } },
];

export async function available(d: Dep, env: NodeJS.ProcessEnv): Promise<boolean> {
  const found = d.commands.map((c) => whichSync(c, env)).find(Boolean);
  if (!found) return false;
  if (!d.plugin) return true;
  const { runChild } = await import('../core/child.js');
  const r = await runChild(found, d.plugin[1], { env: { ...process.env, ...env }, timeoutMs: 20_000 });
  return r.exitCode === 0;
}

export function detectManager(env: NodeJS.ProcessEnv, preferred?: string): Manager | null {
  if (preferred) return (MANAGERS as readonly string[]).includes(preferred) && whichSync(preferred, env) ? (preferred as Manager) : null;
  return MANAGERS.find((m) => whichSync(m, env)) ?? null;
}

/** The commands that install `packages` with `manager` (sudo added by the caller when not root). */
export function installCommands(manager: Manager, packages: string[]): string[][] {
  switch (manager) {
    case 'apt-get':
    case 'apt':
      return [[manager, 'update'], [manager, 'install', '-y', ...packages]];
    case 'dnf':
      return [[manager, '-y', 'makecache'], [manager, '-y', 'install', ...packages]];
    case 'yum':
      return [[manager, '-y', 'install', ...packages]];
    case 'pacman':
      return [[manager, '-S', '--noconfirm', ...packages]];
    case 'brew':
      return [['brew', 'install', ...packages]];
    case 'choco':
      return [['choco', 'install', '-y', ...packages]];
    case 'winget':
      return packages.map((p) => ['winget', 'install', '--id', p, '-e', '--silent']);
  }
}
