// `mcp serve`: pmoves as an MCP server for agents (src/agents/mcp-server.ts). Registered on the `mcp`
// command that mcp.ts declares (this module runs after it in commands/index.ts).
import type { Command } from 'commander';
import { globals, homeOf, parseIntOption } from './common.js';

export function registerMcpServe(mini: Command): void {
  const mcp = mini.commands.find((c) => c.name() === 'mcp') ?? mini.command('mcp').description('MCP servers for local agents');
  mcp
    .command('serve')
    .description('serve pmoves itself over MCP (stdio; --http: streamable HTTP on 127.0.0.1 with a bearer token); apply needs a human-approved plan')
    .option('--http', 'streamable HTTP on 127.0.0.1 instead of stdio')
    .option('--port <n>', 'HTTP port (0: any free one)', parseIntOption('--port', 0), 7788)
    .option('--token-label <LABEL>', 'CHIT label (environment variable) holding the bearer token (default: a generated $PMOVES_HOME/mcp/serve.token, 0600)')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const home = await homeOf(g);
      const base = { manifestPath: g.manifest, home, env: process.env, profile: g.profile };
      if (o.http) {
        const { serveHttp } = await import('../agents/mcp-server.js');
        await serveHttp({
          ...base,
          port: o.port as number,
          tokenLabel: o.tokenLabel as string | undefined,
          onListening: (url, source) => process.stderr.write(`pmoves MCP server listening on ${url} (bearer token: ${source})\n`),
        });
      } else {
        const { serveStdio } = await import('../agents/mcp-server.js');
        await serveStdio(base);
      }
    });
}
