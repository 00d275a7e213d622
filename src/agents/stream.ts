// Turns an agent's JSON lines (Codex `exec --json`, Claude Code `stream-json`) into readable lines:
// tool calls, messages, the final answer. Pure, one line at a time; it also collects the tools called
// (for the audit log) and the final answer.
import type { AgentTool } from './invocation.js';

export interface StreamState {
  toolsCalled: string[];
  final?: string;
  /** An error the agent reported (turn.failed, result is_error). */
  error?: string;
}

export function newStreamState(): StreamState {
  return { toolsCalled: [] };
}

const oneLine = (s: string, max = 300) => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
};
const indent = (s: string) => s.split('\n').map((l) => `  ${l}`).join('\n');

/** Readable lines for one output line of the agent (none for events not worth showing). */
export function readable(tool: AgentTool, line: string, st: StreamState): string[] {
  if (tool === 'crush') return [line];
  let ev: Record<string, any>;
  try {
    ev = JSON.parse(line);
  } catch {
    return line.trim() ? [line] : [];
  }
  return tool === 'codex' ? codexEvent(ev, st) : claudeEvent(ev, st);
}

function codexEvent(ev: Record<string, any>, st: StreamState): string[] {
  const item = ev.item as Record<string, any> | undefined;
  switch (ev.type) {
    case 'thread.started':
      return [`[codex] session ${ev.thread_id ?? ''}`.trim()];
    case 'item.started':
      if (item?.type === 'mcp_tool_call') return [`→ tool ${item.server}.${item.tool} ${item.arguments ? oneLine(JSON.stringify(item.arguments), 200) : ''}`.trimEnd()];
      if (item?.type === 'command_execution') return [`$ ${item.command}`];
      return [];
    case 'item.completed': {
      if (!item) return [];
      switch (item.type) {
        case 'agent_message':
          st.final = String(item.text ?? '');
          return [`agent: ${indent(st.final).trimStart()}`];
        case 'reasoning':
          return [`(thinking) ${oneLine(String(item.text ?? ''))}`];
        case 'mcp_tool_call': {
          st.toolsCalled.push(`${item.server}.${item.tool}`);
          const failed = item.status === 'failed' || item.error;
          const text = resultText(item.result) ?? (item.error ? String(item.error.message ?? item.error) : '');
          return [`${failed ? '✗' : '✓'} tool ${item.server}.${item.tool}${text ? `: ${oneLine(text)}` : ''}`];
        }
        case 'command_execution':
          st.toolsCalled.push('shell');
          return [`$ ${item.command} (exit ${item.exit_code ?? '?'})`];
        case 'file_change':
          st.toolsCalled.push('file_change');
          return [`edited: ${(item.changes ?? []).map((c: any) => `${c.kind} ${c.path}`).join(', ')}`];
        case 'error':
          return [`warning: ${item.message}`];
        default:
          return [];
      }
    }
    case 'turn.failed':
      st.error = String(ev.error?.message ?? 'the turn failed');
      return [`error: ${st.error}`];
    case 'error':
      st.error = String(ev.message ?? 'error');
      return [`error: ${st.error}`];
    case 'turn.completed':
      return ev.usage ? [`[codex] turn done (${ev.usage.input_tokens ?? '?'} tokens in, ${ev.usage.output_tokens ?? '?'} out)`] : [];
    default:
      return [];
  }
}

function resultText(r: any): string | undefined {
  if (!r) return undefined;
  const content = r.content ?? r.Ok?.content;
  if (Array.isArray(content)) return content.map((c: any) => (c.type === 'text' ? c.text : `[${c.type}]`)).join(' ');
  if (r.Err) return String(r.Err);
  return undefined;
}

function claudeEvent(ev: Record<string, any>, st: StreamState): string[] {
  switch (ev.type) {
    case 'system':
      if (ev.subtype === 'init') {
        const servers = (ev.mcp_servers ?? []).map((s: any) => `${s.name} (${s.status})`).join(', ');
        return [`[claude] session ${ev.session_id ?? ''}, model ${ev.model ?? '?'}${servers ? `, MCP: ${servers}` : ''}`];
      }
      return [];
    case 'assistant': {
      const out: string[] = [];
      for (const c of ev.message?.content ?? []) {
        if (c.type === 'text' && c.text?.trim()) out.push(`agent: ${indent(c.text).trimStart()}`);
        if (c.type === 'tool_use') {
          const name = String(c.name).replace(/^mcp__([^_]+(?:_[^_]+)*)__/, '$1.');
          st.toolsCalled.push(name);
          out.push(`→ tool ${name} ${oneLine(JSON.stringify(c.input ?? {}), 200)}`);
        }
      }
      return out;
    }
    case 'user': {
      const out: string[] = [];
      for (const c of ev.message?.content ?? []) {
        if (c.type !== 'tool_result') continue;
        const text = typeof c.content === 'string' ? c.content : Array.isArray(c.content) ? c.content.map((x: any) => x.text ?? `[${x.type}]`).join(' ') : '';
        out.push(`${c.is_error ? '✗' : '✓'} result: ${oneLine(text)}`);
      }
      return out;
    }
    case 'result':
      if (typeof ev.result === 'string') st.final = ev.result;
      if (ev.is_error) st.error = String(ev.result ?? ev.subtype);
      return [`[claude] ${ev.is_error ? 'failed' : 'done'}: ${ev.num_turns ?? '?'} turn(s)`];
    default:
      return [];
  }
}
