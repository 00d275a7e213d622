// A model server on 127.0.0.1 for the real agent CLIs: OpenAI Responses streaming (Codex, through a
// `model_providers` entry) and Anthropic Messages streaming (Claude Code, through ANTHROPIC_BASE_URL).
// It answers with scripted steps: step k is chosen by how many tool results the conversation already
// holds, so a retried request gets the same answer. A step calls a pmoves tool, or (`builtin`) one of
// the agent's own tools by name (Write, Read, Grep, Bash, exec_command…) with any arguments, as a
// hostile model would; `times` makes it several calls in one answer. Requests that offer no tools
// (titles, quota checks) get a plain "ok".
import http from 'node:http';

export interface StepContext {
  /** Text of every tool result in the conversation so far, oldest first. */
  outputs: string[];
}

export type Step =
  | {
      /** A pmoves tool (matched by its last word), or with `builtin` the agent's own tool by exact name ("exec_command|shell": the first offered). */
      tool: string;
      builtin?: boolean;
      /** Call it this many times in one answer (parallel tool calls); each result counts. Default 1. */
      times?: number;
      args?: (c: StepContext) => Record<string, unknown>;
      before?: (c: StepContext) => Promise<void>;
    }
  | { say: string | ((c: StepContext) => string) };

export interface PeerRequest {
  api: 'responses' | 'messages' | 'other';
  path: string;
  main: boolean;
  step: number;
  toolNames: string[];
  /** The tools as offered (name and schema), for a test that needs to see them. */
  tools?: unknown[];
}

export interface ModelPeer {
  url: string;
  requests: PeerRequest[];
  close(): Promise<void>;
}

const sse = (res: http.ServerResponse, event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

const textOf = (v: unknown): string => {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(textOf).join('\n');
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.text === 'string') return o.text;
    if ('content' in o) return textOf(o.content);
    if ('output' in o) return textOf(o.output);
  }
  return v === undefined || v === null ? '' : JSON.stringify(v);
};

export async function startModelPeer(steps: Step[], toolServer = 'pmoves'): Promise<ModelPeer> {
  const requests: PeerRequest[] = [];
  const pick = (names: string[], tool: string) => names.find((n) => n.includes(toolServer) && new RegExp(`[^A-Za-z]${tool}$`).test(n));

  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      void (async () => {
        const url = req.url ?? '';
        let b: Record<string, any> = {};
        try {
          b = body ? JSON.parse(body) : {};
        } catch {
          /* not JSON */
        }
        if (req.method === 'POST' && url.startsWith('/v1/responses')) return responses(b, res);
        if (req.method === 'POST' && url.startsWith('/v1/messages/count_tokens')) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ input_tokens: 100 }));
        if (req.method === 'POST' && url.startsWith('/v1/messages')) return messages(b, res);
        requests.push({ api: 'other', path: url, main: false, step: -1, toolNames: [] });
        if (url.startsWith('/v1/models')) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [], models: [] }));
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no ${req.method} ${url} here` } }));
      })().catch((err) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
      });
    });
  });

  // MCP servers may still be starting when the first request goes out (Codex resolves tools per step,
  // Claude Code offers WaitForMcpServers): then call a harmless tool the agent does offer, and come back.
  const DISCOVERY = ['WaitForMcpServers', 'list_mcp_resources'];

  /** The step for a conversation holding n scripted results (a step of `times` calls takes that many). */
  const stepAt = (n: number) => {
    let taken = 0;
    for (let k = 0; k < steps.length; k++) {
      const s = steps[k]!;
      taken += 'tool' in s ? (s.times ?? 1) : 1;
      if (taken > n) return k;
    }
    return steps.length - 1;
  };

  type Call = { name: string; args: Record<string, unknown> };
  async function choose(api: 'responses' | 'messages', toolNames: string[], outputs: string[], others: number, path: string, tools: unknown[]): Promise<{ calls: Call[]; text: string; main: boolean }> {
    const main = toolNames.length > 0;
    const step = main ? stepAt(outputs.length) : -1;
    requests.push({ api, path, main, step, toolNames, tools });
    if (!main) return { calls: [], text: 'ok', main };
    const s = steps[step]!;
    const c = { outputs };
    if ('say' in s) return { calls: [], text: typeof s.say === 'string' ? s.say : s.say(c), main };
    const name = s.builtin ? s.tool.split('|').find((n) => toolNames.includes(n)) : pick(toolNames, s.tool);
    if (!name) {
      const wait = DISCOVERY.find((d) => toolNames.includes(d));
      if (wait && others < 10) return { calls: [{ name: wait, args: {} }], text: '', main };
      return { calls: [], text: `the ${s.tool} tool is not offered (tools: ${toolNames.join(', ')})`, main };
    }
    await s.before?.(c);
    const args = s.args?.(c) ?? {};
    return { calls: Array.from({ length: s.times ?? 1 }, () => ({ name, args })), text: '', main };
  }

  // ---- OpenAI Responses ------------------------------------------------------------------------
  async function responses(b: Record<string, any>, res: http.ServerResponse) {
    // Codex groups an MCP server's tools in a namespace tool ({type: namespace, name: mcp__pmoves,
    // tools: [...]}); a call names the tool and its namespace.
    const toolNames: string[] = [];
    const namespaceOf = new Map<string, { namespace: string; name: string }>();
    for (const t of b.tools ?? []) {
      if (typeof t?.name !== 'string') continue;
      if (Array.isArray(t.tools)) {
        for (const x of t.tools) {
          if (typeof x?.name !== 'string') continue;
          const full = `${t.name}__${x.name}`;
          toolNames.push(full);
          namespaceOf.set(full, { namespace: t.name, name: x.name });
        }
      } else toolNames.push(t.name);
    }
    const input: any[] = Array.isArray(b.input) ? b.input : [];
    const callName = new Map<string, string>(input.filter((i) => i?.type === 'function_call').map((i) => [String(i.call_id), i.namespace ? `${i.namespace}__${i.name}` : String(i.name)]));
    const results = input.filter((i) => i?.type === 'function_call_output' || i?.type === 'custom_tool_call_output');
    // A scripted call's result moves the script on; a discovery call's does not.
    const ours = results.filter((i) => !DISCOVERY.includes(callName.get(String(i.call_id)) ?? 'unknown'));
    const r = await choose('responses', toolNames, ours.map((i) => textOf(i.output)), results.length - ours.length, '/v1/responses', b.tools ?? []);
    const id = `resp_${requests.length}`;
    const model = b.model ?? 'test-model';
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const base = { id, object: 'response', created_at: Math.floor(Date.now() / 1000), model };
    sse(res, 'response.created', { type: 'response.created', response: { ...base, status: 'in_progress', output: [] } });
    const items: Record<string, unknown>[] = [];
    r.calls.forEach((call, k) => {
      const args = JSON.stringify(call.args);
      const ns = namespaceOf.get(call.name);
      const item = { id: `fc_${requests.length}_${k}`, type: 'function_call', status: 'completed', call_id: `call_${requests.length}_${k}`, name: ns ? ns.name : call.name, ...(ns ? { namespace: ns.namespace } : {}), arguments: args };
      sse(res, 'response.output_item.added', { type: 'response.output_item.added', output_index: k, item: { ...item, status: 'in_progress', arguments: '' } });
      sse(res, 'response.function_call_arguments.delta', { type: 'response.function_call_arguments.delta', item_id: item.id, output_index: k, delta: args });
      sse(res, 'response.function_call_arguments.done', { type: 'response.function_call_arguments.done', item_id: item.id, output_index: k, arguments: args });
      sse(res, 'response.output_item.done', { type: 'response.output_item.done', output_index: k, item });
      items.push(item);
    });
    if (!r.calls.length) {
      const msgId = `msg_${requests.length}`;
      const item = { id: msgId, type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: r.text, annotations: [] }] };
      sse(res, 'response.output_item.added', { type: 'response.output_item.added', output_index: 0, item: { ...item, status: 'in_progress', content: [] } });
      sse(res, 'response.content_part.added', { type: 'response.content_part.added', item_id: msgId, output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
      sse(res, 'response.output_text.delta', { type: 'response.output_text.delta', item_id: msgId, output_index: 0, content_index: 0, delta: r.text });
      sse(res, 'response.output_text.done', { type: 'response.output_text.done', item_id: msgId, output_index: 0, content_index: 0, text: r.text });
      sse(res, 'response.content_part.done', { type: 'response.content_part.done', item_id: msgId, output_index: 0, content_index: 0, part: { type: 'output_text', text: r.text, annotations: [] } });
      sse(res, 'response.output_item.done', { type: 'response.output_item.done', output_index: 0, item });
      items.push(item);
    }
    const usage = { input_tokens: 100, input_tokens_details: { cached_tokens: 0 }, output_tokens: 10, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 110 };
    sse(res, 'response.completed', { type: 'response.completed', response: { ...base, status: 'completed', output: items, usage } });
    res.end();
  }

  // ---- Anthropic Messages ----------------------------------------------------------------------
  async function messages(b: Record<string, any>, res: http.ServerResponse) {
    const toolNames: string[] = (b.tools ?? []).map((t: any) => t?.name).filter((n: unknown): n is string => typeof n === 'string');
    const outputs: string[] = [];
    const useName = new Map<string, string>();
    let others = 0;
    for (const m of b.messages ?? []) {
      for (const c of Array.isArray(m?.content) ? m.content : []) {
        if (c?.type === 'tool_use') useName.set(String(c.id), String(c.name));
        if (c?.type === 'tool_result') {
          if (!DISCOVERY.includes(useName.get(String(c.tool_use_id)) ?? 'unknown')) outputs.push(textOf(c.content));
          else others++;
        }
      }
    }
    const r = await choose('messages', toolNames, outputs, others, '/v1/messages', b.tools ?? []);
    const id = `msg_${requests.length}`;
    const model = b.model ?? 'test-model';
    const blocks: Record<string, unknown>[] = r.calls.length ? r.calls.map((call, k) => ({ type: 'tool_use', id: `toolu_${requests.length}_${k}`, name: call.name, input: call.args })) : [{ type: 'text', text: r.text }];
    const stop = r.calls.length ? 'tool_use' : 'end_turn';
    if (!b.stream) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id, type: 'message', role: 'assistant', model, content: blocks, stop_reason: stop, stop_sequence: null, usage: { input_tokens: 100, output_tokens: 10 } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    sse(res, 'message_start', { type: 'message_start', message: { id, type: 'message', role: 'assistant', content: [], model, stop_reason: null, stop_sequence: null, usage: { input_tokens: 100, output_tokens: 1 } } });
    blocks.forEach((block, k) => {
      if (block.type === 'tool_use') {
        sse(res, 'content_block_start', { type: 'content_block_start', index: k, content_block: { ...block, input: {} } });
        sse(res, 'content_block_delta', { type: 'content_block_delta', index: k, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } });
      } else {
        sse(res, 'content_block_start', { type: 'content_block_start', index: k, content_block: { type: 'text', text: '' } });
        sse(res, 'content_block_delta', { type: 'content_block_delta', index: k, delta: { type: 'text_delta', text: r.text } });
      }
      sse(res, 'content_block_stop', { type: 'content_block_stop', index: k });
    });
    sse(res, 'message_delta', { type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: 10 } });
    sse(res, 'message_stop', { type: 'message_stop' });
    res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
