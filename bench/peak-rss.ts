// Preloaded into benchmarked processes: prints the process's peak RSS (VmHWM) to stderr on exit.
import { readFileSync } from 'node:fs';

process.on('exit', () => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) process.stderr.write(`PEAK_RSS_KB=${m[1]}\n`);
  } catch {
    /* not Linux: no figure */
  }
});
