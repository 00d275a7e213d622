// Readiness from a runtime's own API. OpenAI-compatible servers (vLLM, llama.cpp server, TRT-LLM's
// OpenAI frontend) answer `GET /v1/models` with the ids they serve; whisper.cpp's server answers
// `GET /health` ({"status":"ok"} once the model is loaded, 503 while loading) and `POST /inference`.
// A runtime is ready only when it answers with the declared model (or, for whisper.cpp, transcribes).
import http from 'node:http';

export type Readiness = { state: 'ready' } | { state: 'starting'; reason: string } | { state: 'failed'; reason: string };

export function readinessWords(r: Readiness | null): string {
  if (!r) return 'down';
  return r.state === 'ready' ? 'ready' : r.state === 'starting' ? 'starting' : `failed: ${r.reason}`;
}

interface Answer {
  status: number;
  body: string;
}

function request(port: number, method: string, path: string, opts: { body?: Buffer; headers?: Record<string, string>; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: opts.headers, timeout: opts.timeoutMs ?? 3000, signal: opts.signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= 1 << 20) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 3s')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

function notAnswering(port: number, err: unknown): Readiness {
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ECONNRESET' || code === 'EPIPE' ? 'connection closed' : (err as Error).message;
  return { state: 'starting', reason: `not answering on 127.0.0.1:${port} (${why})` };
}

/** `GET path`: the answer when it is 200; else what it says about readiness (not answering, loading, an error). */
async function get(port: number, p: string, signal?: AbortSignal): Promise<Answer | Readiness> {
  let a: Answer;
  try {
    a = await request(port, 'GET', p, { signal });
  } catch (err) {
    return notAnswering(port, err);
  }
  if (a.status === 503) return { state: 'starting', reason: 'loading the model (HTTP 503)' };
  if (a.status !== 200) return { state: 'failed', reason: `GET ${p} answered HTTP ${a.status}` };
  return a;
}

/** `GET /v1/models`: ready when `data[].id` lists `served`. */
export async function openaiReadiness(port: number, served: string, signal?: AbortSignal): Promise<Readiness> {
  const a = await get(port, '/v1/models', signal);
  if ('state' in a) return a;
  let ids: string[];
  try {
    const j = JSON.parse(a.body) as { data?: { id?: unknown }[] };
    ids = (j.data ?? []).map((m) => String(m.id));
  } catch {
    return { state: 'failed', reason: 'GET /v1/models did not answer JSON' };
  }
  if (ids.includes(served)) return { state: 'ready' };
  return { state: 'failed', reason: `GET /v1/models lists ${ids.length ? ids.map((i) => JSON.stringify(i)).join(', ') : 'no models'}, not "${served}"` };
}

/** whisper.cpp server: `GET /health`. */
export async function whisperReadiness(port: number, signal?: AbortSignal): Promise<Readiness> {
  const a = await get(port, '/health', signal);
  if ('state' in a) return a;
  try {
    if ((JSON.parse(a.body) as { status?: unknown }).status === 'ok') return { state: 'ready' };
  } catch {
    /* below */
  }
  return { state: 'failed', reason: 'GET /health did not answer {"status":"ok"}' };
}

/** A 0.1 s silent 16 kHz mono WAV: what whisper.cpp's /inference is asked to transcribe. */
function silentWav(): Buffer {
  const samples = 1600;
  const b = Buffer.alloc(44 + samples * 2);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + samples * 2, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(16000, 24);
  b.writeUInt32LE(32000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(samples * 2, 40);
  return b;
}

/** whisper.cpp server: `POST /inference` of a short silent clip must answer JSON with a `text` field. */
export async function whisperTranscribes(port: number, signal?: AbortSignal): Promise<Readiness> {
  const boundary = `pmoves${Date.now().toString(36)}`;
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="silence.wav"\r\nContent-Type: audio/wav\r\n\r\n`;
  const fmt = `\r\n--${boundary}\r\nContent-Disposition: form-data; name="response_format"\r\n\r\njson\r\n--${boundary}--\r\n`;
  const body = Buffer.concat([Buffer.from(head), silentWav(), Buffer.from(fmt)]);
  let a: Answer;
  try {
    a = await request(port, 'POST', '/inference', { body, headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': String(body.length) }, timeoutMs: 60_000, signal });
  } catch (err) {
    return notAnswering(port, err);
  }
  if (a.status !== 200) return { state: 'failed', reason: `POST /inference answered HTTP ${a.status}` };
  try {
    if (typeof (JSON.parse(a.body) as { text?: unknown }).text === 'string') return { state: 'ready' };
  } catch {
    /* below */
  }
  return { state: 'failed', reason: 'POST /inference did not answer JSON with a "text" field' };
}
