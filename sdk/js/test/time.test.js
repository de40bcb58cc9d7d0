import assert from 'node:assert/strict';
import { test } from 'node:test';

import { time } from '../src/index.js';

test('RFC 3339 times in exact ns', () => {
  assert.equal(time.rfc3339Ns('1970-01-01T00:00:00Z'), 0n);
  assert.equal(time.rfc3339Ns('2024-03-01T12:00:00.5Z'), 1709294400500000000n);
  assert.equal(time.rfc3339Ns('2024-03-01T20:00:00+08:00'), 1709294400000000000n);
  assert.equal(time.rfc3339Ns('2024-03-01 20:00:00+0800'), 1709294400000000000n);
  assert.equal(time.rfc3339Ns('2024-03-01T12:00:00.123456789123Z'), 1709294400123456789n);
  assert.equal(time.rfc3339Ns('1969-12-31T23:59:59Z'), -1000000000n);
  assert.equal(time.rfc3339Ns('2024-02-29T00:00:00Z'), 1709164800000000000n);
  for (const bad of ['2023-02-29T00:00:00Z', '2024-03-01T12:00:00', '2024-13-01T00:00:00Z', '2024-03-01T24:00:00Z', 'x', '3000-01-01T00:00:00Z']) {
    assert.equal(time.rfc3339Ns(bad), undefined, bad);
  }
  assert.equal(time.msNs(1700000000123), 1700000000123000000n);
});
