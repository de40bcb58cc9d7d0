// Tests of {{name}} on plain node: `npm test` (after `npm install`), or `node --test`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load } from '@sandkit/sdk/testing';

test('the first word is the level', async () => {
  const plugin = await load(new URL('./{{module}}', import.meta.url));
  const records = plugin.process(['WARN disk almost full', 'info ok']);
  assert.deepEqual(
    records.map((r) => r.items),
    [
      [['tag', 'level', 'warn'], ['text', 'msg', 'disk almost full']],
      [['tag', 'level', 'info'], ['text', 'msg', 'ok']],
    ],
  );
});
