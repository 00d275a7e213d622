// The one-shot `pmoves mini fleet status …` without the full CLI: when the command line holds only
// this command's own options (and the global flags it ignores), the bundle's entry (scripts/bundle.mjs)
// runs it here, beside the connection early-status.ts opened, and never loads commander and every
// command module. Anything else on the line (another option, --help, --watch, global options before
// `fleet`) returns false and the full CLI runs, with its own parsing and messages.
import { handleError, parseDuration } from '../commands/common.js';

const VALUED = new Set(['--broker', '--ca', '--cert', '--key', '--auth', '--repo', '--branch', '--stale', '--wait']);
const FLAGS = new Set(['--json', '--no-color', '--debug', '--non-interactive']);

/** Run `fleet status` from argv; false when argv is not one this path takes (nothing was done). */
export async function fastStatus(argv: string[]): Promise<boolean> {
  const a = argv.slice(5);
  const o: Record<string, string | true> = {};
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const eq = x.indexOf('=');
    const k = x.startsWith('--') && eq > 0 ? x.slice(0, eq) : x;
    if (VALUED.has(k)) {
      const v = eq > 0 && x.startsWith('--') ? x.slice(eq + 1) : a[++i];
      if (v === undefined || k in o) return false;
      o[k] = v;
    } else if (FLAGS.has(x)) o[x] = true;
    else return false;
  }
  if (typeof o['--broker'] !== 'string') return false;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0); // `… | head -1`: the reader has enough
      handleError(err, Boolean(o['--debug']));
    });
  }
  const s = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
  try {
    const { parseBroker } = await import('./broker.js');
    const { runStatus } = await import('./status-command.js');
    const staleMs = s('--stale') === undefined ? 600_000 : parseDuration('--stale')(s('--stale')!);
    const waitMs = s('--wait') === undefined ? 10_000 : parseDuration('--wait')(s('--wait')!);
    const broker = parseBroker(s('--broker')!, '--broker', { ca: s('--ca'), cert: s('--cert'), key: s('--key'), auth: s('--auth') });
    await runStatus(broker, { json: Boolean(o['--json']), watch: false, staleMs, waitMs, repo: s('--repo'), branch: s('--branch') });
  } catch (err) {
    handleError(err, Boolean(o['--debug']));
  }
  return true;
}
