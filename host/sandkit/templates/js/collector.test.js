// Tests of {{name}} on plain node: `npm test` (after `npm install`), or `node --test`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestHost, load } from '@sandkit/sdk/testing';

test('collects the load average', async () => {
  const host = new TestHost({ files: { '/proc/loadavg': '0.50 0.25 0.10 1/100 4242\n' } });
  const plugin = await load(new URL('./{{module}}', import.meta.url), { host });
  const points = plugin.collect();
  assert.deepEqual(points.map((p) => p.fieldValue('load1')), [0.5]);
});
