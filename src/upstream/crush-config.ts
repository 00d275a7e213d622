// Crush's config for PMOVES, as upstream's crush_configurator.build_config() makes it: providers for the
// API keys that are set (as `$VAR` references, never values), the TensorZero gateway and Ollama, the
// model picks, MCP servers, context paths, LSP. Pure: the environment and a `which` come in as values.

export interface CrushInputs {
  /** Process environment first, then env files (upstream's order): the first non-empty value wins. */
  lookup: (name: string) => string | undefined;
  which: (cmd: string) => boolean;
}

interface ModelSpec {
  id: string;
  name: string;
  context_window?: number;
  default_max_tokens?: number;
  can_reason?: boolean;
}

interface ProviderSpec {
  id: string;
  name: string;
  base_url: string;
  type: string;
  env_var: string | null;
  extra_headers?: Record<string, string>;
  models: ModelSpec[];
  large: string;
  small: string;
}

const OLLAMA: ProviderSpec = {
  id: 'ollama',
  name: 'Ollama',
  base_url: 'http://localhost:11434/v1',
  type: 'openai',
  env_var: null,
  models: [
    { id: 'qwen2.5:7b', name: 'Qwen 2.5 7B' },
    { id: 'llama3.1:70b', name: 'LLaMA 3.1 70B' },
  ],
  large: 'llama3.1:70b',
  small: 'qwen2.5:7b',
};

const KEYED: ProviderSpec[] = [
  {
    id: 'openai',
    name: 'OpenAI',
    base_url: 'https://api.openai.com/v1',
    type: 'openai',
    env_var: 'OPENAI_API_KEY',
    models: [
      { id: 'gpt-4o', name: 'GPT-4o', context_window: 128000 },
      { id: 'gpt-4o-mini', name: 'GPT-4o mini', context_window: 128000 },
    ],
    large: 'gpt-4o',
    small: 'gpt-4o-mini',
  },
  {
    id: 'anthropic',
    name: 'Anthropic',
    base_url: 'https://api.anthropic.com/v1',
    type: 'anthropic',
    env_var: 'ANTHROPIC_API_KEY',
    extra_headers: { 'anthropic-version': '2023-06-01' },
    models: [
      { id: 'claude-3.5-sonnet-20240620', name: 'Claude 3.5 Sonnet', context_window: 200000, default_max_tokens: 4000, can_reason: true },
      { id: 'claude-3-haiku-20240307', name: 'Claude 3 Haiku', context_window: 200000, default_max_tokens: 4000 },
    ],
    large: 'claude-3.5-sonnet-20240620',
    small: 'claude-3-haiku-20240307',
  },
  {
    id: 'gemini',
    name: 'Gemini',
    base_url: 'https://generativelanguage.googleapis.com/v1beta',
    type: 'gemini',
    env_var: 'GEMINI_API_KEY',
    models: [
      { id: 'gemini-2.0-pro-exp-02-05', name: 'Gemini 2.0 Pro Exp' },
      { id: 'gemini-2.0-flash-exp', name: 'Gemini 2.0 Flash' },
    ],
    large: 'gemini-2.0-pro-exp-02-05',
    small: 'gemini-2.0-flash-exp',
  },
  {
    id: 'deepseek',
    name: 'DeepSeek',
    base_url: 'https://api.deepseek.com/v1',
    type: 'openai',
    env_var: 'DEEPSEEK_API_KEY',
    models: [
      { id: 'deepseek-chat', name: 'DeepSeek Chat', context_window: 64000 },
      { id: 'deepseek-reasoner', name: 'DeepSeek Reasoner', context_window: 64000, can_reason: true },
    ],
    large: 'deepseek-chat',
    small: 'deepseek-reasoner',
  },
];

/** TensorZero's OpenAI-compatible endpoint: present when TENSORZERO_BASE_URL is set (the gateway's URL). */
function tensorzero(inp: CrushInputs): ProviderSpec | null {
  const base = inp.lookup('TENSORZERO_BASE_URL');
  if (!base) return null;
  const key = inp.lookup('TENSORZERO_API_KEY');
  // upstream's crush_configurator: the gateway's model names, else its defaults
  const large = inp.lookup('TENSORZERO_LARGE_MODEL') || 'openai::gpt-4o';
  const small = inp.lookup('TENSORZERO_SMALL_MODEL') || 'openai::gpt-4o-mini';
  return {
    id: 'tensorzero',
    name: 'TensorZero Gateway',
    base_url: `${base.replace(/\/+$/, '')}/openai/v1`,
    type: 'openai',
    env_var: key ? 'TENSORZERO_API_KEY' : null,
    ...(key ? { extra_headers: { Authorization: 'Bearer $TENSORZERO_API_KEY' } } : {}),
    models: [
      { id: large, name: large },
      { id: small, name: small },
    ],
    large,
    small,
  };
}

/** Who provides the default large/small models, first match wins (the gateway routes to the rest). */
const PRIORITY = ['tensorzero', 'openai', 'anthropic', 'deepseek', 'gemini', 'ollama'];

const MCP: { key: string; config: Record<string, unknown>; commands: string[]; env?: string }[] = [
  { key: 'pmoves-mini', config: { type: 'stdio', command: 'pmoves-mini', args: ['mcp', 'serve'], timeout: 120 }, commands: ['pmoves-mini'] },
  { key: 'docker', config: { type: 'stdio', command: 'mcp-docker', timeout: 60 }, commands: ['mcp-docker', 'docker'] },
  { key: 'n8n', config: { type: 'http', url: 'http://localhost:5678/mcp', headers: { 'x-api-key': '$N8N_API_KEY' }, timeout: 30 }, commands: [], env: 'N8N_API_KEY' },
];

export const CONTEXT_PATHS = [
  'CRUSH.md',
  'pmoves/docs/ROADMAP.md',
  'pmoves/docs/NEXT_STEPS.md',
  'pmoves/docs/SMOKETESTS.md',
  'pmoves/chit/secrets_manifest.yaml',
  'docs/PMOVES_MINI_CLI_SPEC.md',
];

function modelDict(m: ModelSpec): Record<string, unknown> {
  return {
    id: m.id,
    name: m.name,
    ...(m.context_window ? { context_window: m.context_window } : {}),
    ...(m.default_max_tokens ? { default_max_tokens: m.default_max_tokens } : {}),
    ...(m.can_reason ? { can_reason: true } : {}),
  };
}

export interface CrushConfig {
  config: Record<string, unknown>;
  /** Provider ids configured, in the file's order. */
  providers: string[];
}

export function buildCrushConfig(inp: CrushInputs): CrushConfig {
  // upstream's PROVIDER_SPECS order: openai, anthropic, gemini, tensorzero, deepseek, ollama
  const keyed = (id: string) => KEYED.find((k) => k.id === id)!;
  const specs = [keyed('openai'), keyed('anthropic'), keyed('gemini'), tensorzero(inp), keyed('deepseek'), OLLAMA].filter((s): s is ProviderSpec => s !== null);
  const providers: Record<string, unknown> = {};
  const available: ProviderSpec[] = [];
  for (const s of specs) {
    if (s.env_var && !inp.lookup(s.env_var)) continue;
    providers[s.id] = {
      name: s.name,
      base_url: s.base_url,
      type: s.type,
      models: s.models.map(modelDict),
      ...(s.env_var ? { api_key: `$${s.env_var}` } : {}),
      ...(s.extra_headers ? { extra_headers: s.extra_headers } : {}),
    };
    available.push(s);
  }
  const pick = PRIORITY.map((id) => available.find((s) => s.id === id)).find(Boolean)!;
  const models = { large: { provider: pick.id, model: pick.large }, small: { provider: pick.id, model: pick.small } };
  const mcp: Record<string, unknown> = {};
  for (const m of MCP) {
    const disabled = !m.commands.every((c) => inp.which(c)) || (m.env !== undefined && !inp.lookup(m.env));
    mcp[m.key] = disabled ? { ...m.config, disabled: true } : { ...m.config };
  }
  const config = {
    $schema: 'https://charm.land/crush.json',
    providers,
    models,
    mcp,
    options: { context_paths: CONTEXT_PATHS, tui: { compact_mode: true }, attribution: { generated_with: true, co_authored_by: false } },
    permissions: { allowed_tools: ['bash', 'ls', 'view'] },
    tools: { ls: { max_depth: 4, max_items: 400 } },
    lsp: {
      gopls: { command: 'gopls' },
      pyright: { command: 'pyright-langserver', args: ['--stdio'] },
      typescript: { command: 'typescript-language-server', args: ['--stdio'] },
    },
  };
  return { config, providers: Object.keys(providers) };
}

/** Upstream's file text: `json.dumps(config, indent=2)` (ASCII-escaped, no trailing newline). */
export function crushJsonText(config: unknown): string {
  return JSON.stringify(config, null, 2).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The entries pmoves owns in Crush's file, as (top-level map, name, value). `setup` edits exactly
 * these, one at a time, and never another key.
 */
export function crushEntries(config: Record<string, unknown>): { key: string; name: string; value: unknown }[] {
  const out: { key: string; name: string; value: unknown }[] = [];
  for (const [key, map] of Object.entries(config)) {
    if (key === '$schema' || !map || typeof map !== 'object') continue;
    for (const [name, value] of Object.entries(map as Record<string, unknown>)) out.push({ key, name, value });
  }
  return out;
}

/** Env files upstream reads after the process environment, relative to its `pmoves/` folder. */
export const ENV_FILES = ['.env.generated', 'env.shared.generated', '.env', 'env.shared'];

/** Upstream's reader: `KEY=value` lines, key and value trimmed, comments and lines without `=` skipped. */
export function parseEnvLoose(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.trim().startsWith('#') || !line.includes('=')) continue;
    const i = line.indexOf('=');
    out.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return out;
}
