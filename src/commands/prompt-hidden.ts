// Reading a secret from the terminal without echo (like Python's getpass): the prompt goes to stderr,
// keystrokes are not shown, Ctrl-C aborts, Backspace edits.
import { OperationError, UserError } from '../core/errors.js';

export function canPrompt(nonInteractive: boolean): boolean {
  return Boolean(process.stdin.isTTY) && !nonInteractive;
}

export function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return Promise.reject(new UserError('cannot prompt: stdin is not a terminal'));
  return new Promise((resolve, reject) => {
    let value = '';
    // echo off before the prompt shows: what is typed after seeing it is never echoed
    stdin.setRawMode(true);
    process.stderr.write(prompt);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new OperationError('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ' || ch === '\t') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** The CHIT passphrase: $CHIT_PASSPHRASE, else a prompt on a terminal. */
export async function chitPassphrase(nonInteractive: boolean, why: string): Promise<string> {
  const env = process.env.CHIT_PASSPHRASE;
  if (env) return env;
  if (!canPrompt(nonInteractive)) throw new UserError(`${why}: set CHIT_PASSPHRASE (no terminal to ask for the passphrase)`);
  const p = await promptHidden('CHIT passphrase: ');
  if (!p) throw new UserError(`${why}: the passphrase is empty`);
  return p;
}
