// A child process that lays out one DOT graph (standard input) as SVG (standard output) and exits: a
// long-running daemon (watch --ui) renders its graph here, so Graphviz's WebAssembly memory (~18 MB,
// which a worker thread's exit does not give back to the system) never stays in the daemon. `graph`
// renders in its own short-lived process.
const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const { instance } = await import('@viz-js/viz');
process.stdout.write((await instance()).renderString(Buffer.concat(chunks).toString('utf8'), { format: 'svg', engine: 'dot' }));
