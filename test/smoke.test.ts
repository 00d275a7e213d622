import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli } from './helpers.js';

test('--version prints the package version', async () => {
  const r = await cli(['--version']);
  assert.is(r.exitCode, 0);
  assert.match(String(r.stdout), /^\d+\.\d+\.\d+$/m);
});

test.run();
