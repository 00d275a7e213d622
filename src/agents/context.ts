// Gathers what the prompt says about the world: repository highlights, the active profile, the
// machine, the MCP toolkit (with CHIT labels, never values), the task's context files. Reads only.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../core/errors.js';
import type { Home } from '../core/home.js';
import type { Diagnostic, Resource } from '../core/types.js';
import { displayPath } from '../manifest/yaml-source.js';
import { DEFAULT_TEMPLATE, highlights, promptValues, renderPrompt, type AgentServer, type PromptFacts } from './prompt.js';
import type { Task } from './tasks.js';

/** The built CLI (dist/src/cli.js): the pmoves MCP server is this same program. */
export const cliEntry = fileURLToPath(new URL('../cli.js', import.meta.url));

export const PMOVES_TOOLS = ['validate', 'plan', 'status', 'profile_detect', 'apply'];

/** The pmoves server itself, as handed to agents: `pmoves mini mcp serve` on stdio. */
export function pmovesServer(manifestPath: string, home: Home): AgentServer {
  return {
    name: 'pmoves',
    transport: 'stdio',
    command: process.execPath,
    args: [cliEntry, 'mini', 'mcp', 'serve', '-m', path.resolve(manifestPath)],
    env: { PMOVES_HOME: home.root },
    url: null,
    headers: {},
    env_from_secrets: [],
    headers_from_secrets: {},
    tools: PMOVES_TOOLS,
    description: 'pmoves mini itself; apply needs a human-approved plan hash',
  };
}

export interface AgentContext {
  facts: PromptFacts;
  prompt: string;
  templateFile: string | null;
  diagnostics: Diagnostic[];
  /** CHIT labels the manifest's secrets and servers use (names only). */
  labels: string[];
}

export interface ContextOptions {
  manifestPath: string;
  home: Home;
  env: NodeJS.ProcessEnv;
  task: Task;
  template?: string;
  profileOverride?: string;
}

export async function buildContext(o: ContextOptions): Promise<AgentContext> {
  const diagnostics: Diagnostic[] = [];
  const dir = path.dirname(path.resolve(o.manifestPath));
  const { loadManifest } = await import('../manifest/load.js');
  const { kinds, expanders } = await import('../reconcilers/index.js');
  const loaded = await loadManifest(o.manifestPath, { env: o.env, home: o.home, kinds, expanders, overrides: o.profileOverride ? { profile: o.profileOverride } : undefined });
  const resources: Resource[] = loaded.manifest?.resources ?? [];
  const profile: string[] = [];
  if (!loaded.manifest) {
    profile.push(`the manifest ${displayPath(path.resolve(o.manifestPath))} does not load: ${loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => d.summary).slice(0, 3).join('; ')}`);
  } else {
    profile.push(...loaded.manifest.notes);
    if (!loaded.manifest.notes.length) profile.push('no hardware profile is active');
    profile.push(`manifest ${displayPath(loaded.manifest.path)}: ${resources.length} resource(s): ${resources.map((r) => r.address).join(', ') || 'none'}`);
  }

  // The MCP servers handed over: pmoves itself, then the task's picks from the manifest.
  const servers: AgentServer[] = [pmovesServer(o.manifestPath, o.home)];
  const mcpByName = new Map(resources.filter((r) => r.section === 'mcp').map((r) => [r.name, r] as const));
  for (const [i, name] of o.task.mcp.entries()) {
    const r = mcpByName.get(name);
    if (!r) {
      diagnostics.push({ severity: 'error', summary: `mcp[${i}]: the manifest has no mcp server "${name}" (declared: ${[...mcpByName.keys()].join(', ') || 'none'})`, location: o.task.locate(['mcp', i]) });
      continue;
    }
    if (name === 'pmoves') continue;
    const s = r.spec as Record<string, unknown>;
    servers.push({
      name,
      transport: (s.transport as AgentServer['transport']) ?? 'stdio',
      command: (s.command as string | null) ?? null,
      args: (s.args as string[]) ?? [],
      env: (s.env as Record<string, string>) ?? {},
      url: (s.url as string | null) ?? null,
      headers: (s.headers as Record<string, string>) ?? {},
      env_from_secrets: (s.env_from_secrets as string[]) ?? [],
      headers_from_secrets: (s.headers_from_secrets as Record<string, string>) ?? {},
      description: typeof s.name === 'string' && s.name !== name ? s.name : undefined,
    });
  }
  if (diagnostics.some((d) => d.severity === 'error')) throw new UserError(`task ${o.task.name} is not valid`, diagnostics);

  const labels = new Set<string>();
  for (const s of servers) for (const l of [...s.env_from_secrets, ...Object.values(s.headers_from_secrets)]) labels.add(l);
  for (const r of resources.filter((x) => x.section === 'secrets')) {
    const s = r.spec as { bundle?: string; required?: string[] };
    for (const l of s.required ?? []) labels.add(l);
    if (s.bundle) for (const l of await bundleLabels(s.bundle)) labels.add(l);
  }
  if (labels.size) profile.push(`CHIT labels available to services (names only): ${[...labels].sort().join(', ')}`);

  const repository: PromptFacts['repository'] = [];
  for (const f of ['ROADMAP.md', 'NEXT_STEPS.md']) {
    const text = await readOrNull(path.join(dir, f));
    if (text !== null) repository.push({ file: f, highlights: highlights(text) });
  }
  const contextFiles: PromptFacts['contextFiles'] = [];
  for (const c of o.task.context) {
    const text = (await readOrNull(c)) ?? '';
    contextFiles.push({ file: displayPath(c), text: text.length > 20_000 ? text.slice(0, 20_000) + '\n… (cut at 20000 characters)' : text });
  }

  const facts: PromptFacts = { repository, profile, machine: await machineLines(o.env), servers, task: o.task, contextFiles };
  const { text: template, file: templateFile } = await findTemplate(o.template, dir, o.home);
  const rendered = renderPrompt(template, promptValues(facts));
  for (const u of rendered.unknown) diagnostics.push({ severity: 'warning', summary: `prompt template ${templateFile ?? '(built in)'}: unknown placeholder {{${u}}} left as written` });
  return { facts, prompt: rendered.text, templateFile, diagnostics, labels: [...labels].sort() };
}

async function findTemplate(given: string | undefined, manifestDir: string, home: Home): Promise<{ text: string; file: string | null }> {
  if (given) {
    const text = await readOrNull(given);
    if (text === null) throw new UserError(`--template ${given}: no such file (expected a prompt template, see docs/agents.md)`);
    return { text, file: displayPath(path.resolve(given)) };
  }
  for (const f of [path.join(manifestDir, 'tasks', 'prompt.template.md'), path.join(home.root, 'tasks', 'prompt.template.md')]) {
    const text = await readOrNull(f);
    if (text !== null) return { text, file: displayPath(f) };
  }
  return { text: DEFAULT_TEMPLATE, file: null };
}

async function machineLines(env: NodeJS.ProcessEnv): Promise<string[]> {
  try {
    const { detectFromEnv } = await import('../providers/hardware/detect.js');
    const m = await detectFromEnv(env);
    const gpu = m.gpu.devices.length ? m.gpu.devices.map((d) => `${d.name}${d.vramGb ? ` ${d.vramGb} GB` : ''}`).join(', ') : `none (${m.gpu.type})`;
    return [
      `CPU: ${m.cpu.brand ?? 'unknown'} (${m.cpu.threads ?? '?'} threads), RAM: ${m.ramGb === null ? "?" : Math.round(m.ramGb * 10) / 10} GB, arch: ${m.arch ?? m.archRaw ?? 'unknown'}`,
      `GPU: ${gpu}`,
      `Docker: ${m.docker.running ? `running ${m.docker.version ?? ''}`.trim() : m.docker.installed ? 'installed, not running' : 'not installed'}`,
      `tags: ${m.tags.join(', ') || 'none'}`,
    ];
  } catch (err) {
    return [`hardware detection failed: ${(err as Error).message}`];
  }
}

/** Labels of a CHIT bundle (constellation labels): names only, values are never read. */
async function bundleLabels(file: string): Promise<string[]> {
  const text = await readOrNull(file);
  if (text === null) return [];
  try {
    const b = JSON.parse(text) as { super_nodes?: { constellations?: { label?: string }[] }[] };
    return (b.super_nodes ?? []).flatMap((s) => (s.constellations ?? []).map((c) => c.label)).filter((l): l is string => typeof l === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(l));
  } catch {
    return [];
  }
}

async function readOrNull(f: string): Promise<string | null> {
  try {
    return await fsp.readFile(f, 'utf8');
  } catch {
    return null;
  }
}
