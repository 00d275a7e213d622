// The system prompt handed to an agent: a template with {{placeholders}} filled from the repository,
// the machine, the MCP toolkit and the task. Pure: the facts are gathered by context.ts.
// Override the built-in template with `--template FILE`, `tasks/prompt.template.md` beside the
// manifest, or `$PMOVES_HOME/tasks/prompt.template.md` (first found wins). docs/agents.md lists the
// placeholders.
import { createHash } from 'node:crypto';
import type { PermissionLevel, Task } from './tasks.js';

export interface AgentServer {
  name: string;
  transport: 'stdio' | 'http' | 'sse';
  command: string | null;
  args: string[];
  /** Plain environment (paths, switches) written into the agent's config. Never credentials. */
  env: Record<string, string>;
  url: string | null;
  headers: Record<string, string>;
  /** CHIT labels handed over by name: the agent's config refers to them, the value stays in the environment. */
  env_from_secrets: string[];
  headers_from_secrets: Record<string, string>;
  /** Tools the server offers, when known (the pmoves server's own list). */
  tools?: string[];
  description?: string;
}

export interface PromptFacts {
  repository: { file: string; highlights: string[] }[];
  profile: string[];
  machine: string[];
  servers: AgentServer[];
  task: Task;
  contextFiles: { file: string; text: string }[];
}

export const PERMISSION_RULES: Record<PermissionLevel, string> = {
  'read-only': 'read-only: you may read files and call read-only tools. Do not write, delete or change anything, anywhere.',
  workspace: 'workspace: you may change files inside the working folder only. Nothing outside it, no system changes.',
  privileged: 'privileged: a human confirmed this run. Commands may change the machine; run only the commands listed below, and explain each before running it.',
};

export const DEFAULT_TEMPLATE = `You are an operations agent working on a PMOVES.AI node managed by \`pmoves mini\`, a declarative
reconciler: the machine's desired state is one manifest; \`plan\` shows what would change; only a
human-approved plan is ever applied.

## Repository context
{{repository_context}}

## This machine
Active profile:
{{profile}}
Hardware:
{{machine}}

## Your MCP toolkit
{{mcp_toolkit}}

Credentials are referred to by their CHIT label only. Never print, guess or ask for their values.
To change the machine: call \`plan\`, report its \`plan_hash\`, and ask the human to run
\`pmoves mini approve <plan_hash>\`; \`apply\` refuses any plan a human has not approved.

## Your task: {{task_name}}
{{task_description}}

Permission level: {{permission_rules}}

Commands you may run:
{{commands}}

Constraints:
{{constraints}}

Expected output:
{{expected_output}}
{{context_files}}`;

export const PLACEHOLDERS = [
  'repository_context',
  'profile',
  'machine',
  'mcp_toolkit',
  'task_name',
  'task_description',
  'permission_level',
  'permission_rules',
  'commands',
  'constraints',
  'expected_output',
  'context_files',
] as const;

const bullets = (xs: string[], none = '- (none)') => (xs.length ? xs.map((x) => `- ${x}`).join('\n') : none);

export function toolkitSummary(servers: AgentServer[]): string {
  if (!servers.length) return '- (no MCP servers)';
  return servers
    .map((s) => {
      const how = s.url ? `${s.transport} ${s.url}` : `stdio: ${[s.command ?? '', ...s.args].join(' ')}`;
      const labels = [...s.env_from_secrets, ...Object.values(s.headers_from_secrets)];
      const lines = [`- ${s.name}${s.description ? ` (${s.description})` : ''} — ${how}`];
      if (s.tools?.length) lines.push(`  tools: ${s.tools.join(', ')}`);
      if (labels.length) lines.push(`  credentials (CHIT labels, values in the environment only): ${[...new Set(labels)].join(', ')}`);
      return lines.join('\n');
    })
    .join('\n');
}

export function promptValues(f: PromptFacts): Record<(typeof PLACEHOLDERS)[number], string> {
  const t = f.task;
  return {
    repository_context: f.repository.length
      ? f.repository.map((r) => `From ${r.file}:\n${r.highlights.map((h) => `  ${h}`).join('\n')}`).join('\n')
      : '- (no ROADMAP.md or NEXT_STEPS.md beside the manifest)',
    profile: bullets(f.profile),
    machine: bullets(f.machine),
    mcp_toolkit: toolkitSummary(f.servers),
    task_name: t.name,
    task_description: t.description,
    permission_level: t.permission_level,
    permission_rules: PERMISSION_RULES[t.permission_level],
    commands: bullets(t.commands),
    constraints: bullets(t.constraints),
    expected_output: t.expected_output ?? '(not stated: a short summary of what you did and found)',
    context_files: f.contextFiles.length ? '\n## Context files\n' + f.contextFiles.map((c) => `### ${c.file}\n\`\`\`\n${c.text}\n\`\`\``).join('\n') : '',
  };
}

/** Fill `{{name}}` placeholders; an unknown placeholder is left as written (the caller reports it). */
export function renderPrompt(template: string, values: Record<string, string>): { text: string; unknown: string[] } {
  const unknown: string[] = [];
  const text = template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (m, name: string) => {
    if (name in values) return values[name]!;
    unknown.push(name);
    return m;
  });
  return { text, unknown };
}

export function promptDigest(text: string): string {
  return 'sha256:' + createHash('sha256').update(text).digest('hex');
}

/** Lines worth showing from a ROADMAP/NEXT_STEPS file: headings and top-level items, capped. */
export function highlights(text: string, max = 25): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const l = line.trimEnd();
    if (/^#{1,3}\s/.test(l) || /^[-*]\s+\[[ xX]\]/.test(l) || /^[-*]\s+\S/.test(l) || /^\d+\.\s/.test(l)) out.push(l.length > 160 ? l.slice(0, 159) + '…' : l);
    if (out.length >= max) {
      out.push('…');
      break;
    }
  }
  return out;
}
