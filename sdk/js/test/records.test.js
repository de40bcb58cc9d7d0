// The record writer's fast paths write what the general ones do, and batches are cut right.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Batch, Records, decode } from '../src/records.js';

test('safe integer numbers write the bytes their bigints do', () => {
  const values = [0, 1, -1, 255, -256, 4294967295, 4294967296, -4294967296, -4294967297, 2 ** 53 - 1, -(2 ** 53) + 1];
  for (const v of values) {
    const fast = new Records(Batch.ofLines(['x']));
    fast.record().int('i', v).uint('u', Math.abs(v)).float('f', v);
    const slow = new Records(Batch.ofLines(['x']));
    slow.record().field('i', BigInt(v)).field('u', BigInt(Math.abs(v)), 'uint').field('f', v);
    assert.deepEqual(fast.toBytes(), slow.toBytes(), String(v));
  }
  const out = new Records(Batch.ofLines(['x']));
  out.record().int('a', 1.5 === 1 ? 0 : 7).text('t', 'é'.repeat(40)).text('s', 'abc').tag('t2', 'ü');
  assert.deepEqual(decode(out.toBytes(), Batch.ofLines(['x']))[0].items, [
    ['int', 'a', 7n],
    ['text', 't', 'é'.repeat(40)],
    ['text', 's', 'abc'],
    ['tag', 't2', 'ü'],
  ]);
  assert.throws(() => new Records().record().int('n', 1.5), /field "n": 1.5 is not an integer/);
  assert.throws(() => new Records().record().uint('n', -1), /does not fit a 64-bit unsigned int/);
});

test('a batch is cut at UTF-8 byte ends, which must fall on characters', () => {
  const b = new Batch('s', 'aé🦀b', [1, 3, 7, 8]);
  assert.deepEqual(b.lines, ['a', 'é', '🦀', 'b']);
  assert.deepEqual(b.starts, [0, 1, 3, 7]);
  assert.equal(b.ascii, false);
  assert.throws(() => new Batch('s', 'aé', [2, 3]), /not on a character boundary/);
  assert.throws(() => new Batch('s', 'ab', [1, 3]), /not a line end in 2 bytes/);
  assert.throws(() => new Batch('s', 'ab', [2, 1]), /not a line end/);
  assert.deepEqual(new Batch('s', '', []).lines, []);
  assert.deepEqual(new Batch('s', 'ab', [0, 2]).lines, ['', 'ab']);
});
