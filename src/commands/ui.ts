import type { Command } from 'commander';
export function registerUi(_mini: Command): void {}
