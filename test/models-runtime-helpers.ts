// For test/models-runtime*.test.ts: stand-in runtime images built from the test image (no registry),
// a file server on 127.0.0.1 for the model files, HTTP on loopback, free ports.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { repoRoot } from './helpers.js';

export { freePort } from './helpers.js';

const peerDir = path.join(repoRoot, 'test', 'fixtures', 'runtime-peer');

/**
 * Two stand-in images tagged `tag`: rt-openai runs /app/llama-server as llama.cpp's server image does
 * (and takes vLLM's and trtllm-serve's arguments too); rt-whisper runs its command through `sh -c` as
 * whisper.cpp's images do (`bash -c`), with whisper-server on PATH. Inside both, busybox nc serves the
 * runtime's API (test/fixtures/runtime-peer/rt-peer).
 */
export async function buildStandIns(tag: string): Promise<{ openai: string; whisper: string }> {
  const openai = `pmoves-test/rt-openai:${tag}`;
  const whisper = `pmoves-test/rt-whisper:${tag}`;
  await execa('docker', ['build', '-q', '-t', openai, peerDir]);
  await execa('docker', ['build', '-q', '-t', whisper, '-'], { input: `FROM ${openai}\nENTRYPOINT ["sh", "-c"]\n` });
  return { openai, whisper };
}

export async function removeImages(...refs: string[]): Promise<void> {
  await execa('docker', ['rmi', '-f', ...refs], { reject: false });
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Serves the files of `dir` over HTTP on 127.0.0.1 (the model URLs). */
export async function fileServer(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    try {
      const body = readFileSync(path.join(dir, path.basename(req.url ?? '')));
      res.writeHead(200, { 'Content-Length': body.length });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

export function request(port: number, method: string, p: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers: body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {} }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Containers (any state) and networks of a compose project. */
export async function projectLeftovers(project: string): Promise<string[]> {
  const cs = await execa('docker', ['ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Names}}']);
  const ns = await execa('docker', ['network', 'ls', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Name}}']);
  return [...cs.stdout.split('\n'), ...ns.stdout.split('\n')].filter(Boolean);
}
