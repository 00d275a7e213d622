#!/usr/bin/env node
// `pmoves-mini …` is `pmoves mini …`: upstream's MCP host entry and Crush config run `pmoves-mini mcp serve`.
process.argv.splice(2, 0, 'mini');
await import('../dist/src/cli.js');
