// Tests of {{name}} on plain node: `npm test` (after `npm install`), or `node --test`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load } from '@sandkit/sdk/testing';

test('counts the bytes of a body', async () => {
  const plugin = await load(new URL('./{{module}}', import.meta.url));
  const points = plugin.handle('hello', 'text/plain');
  assert.deepEqual(points.map((p) => p.fieldValue('bytes')), [5n]);
});
