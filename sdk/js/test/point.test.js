import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Point, categoryOf, kindOf, I64_MAX, U64_MAX } from '../src/index.js';

test('kinds are inferred from the JS type', () => {
  const p = new Point('m').field('f', 1).field('i', 2n).field('u', U64_MAX).field('b', true).field('t', 'x');
  assert.deepEqual(p.fields, [
    ['f', 'float', 1],
    ['i', 'int', 2n],
    ['u', 'uint', U64_MAX],
    ['b', 'bool', true],
    ['t', 'text', 'x'],
  ]);
  assert.equal(new Point('m').field('i', I64_MAX).fieldKind('i'), 'int');
  assert.equal(new Point('m').field('u', I64_MAX + 1n).fieldKind('u'), 'uint');
});

test('explicit setters check the type and range and name the field', () => {
  const p = new Point('m').int('a', 5).uint('b', 7n).float('c', 3n).int('d', -(2n ** 63n));
  assert.deepEqual(p.fields.map((f) => f[2]), [5n, 7n, 3, -(2n ** 63n)]);
  assert.throws(() => new Point('m').int('n', 1.5), { name: 'TypeError', message: 'field "n": 1.5 is not an integer' });
  assert.throws(() => new Point('m').int('n', 2n ** 63n), { name: 'RangeError', message: /field "n": 9223372036854775808 does not fit a 64-bit signed int/ });
  assert.throws(() => new Point('m').uint('n', -1), /field "n": -1 does not fit a 64-bit unsigned int/);
  assert.throws(() => new Point('m').uint('n', 2n ** 64n), /does not fit a 64-bit unsigned int/);
  assert.throws(() => new Point('m').field('n', -(2n ** 63n) - 1n), /field "n": .* does not fit a 64-bit signed int/);
  assert.throws(() => new Point('m').bool('n', 1), /field "n": 1 is not a boolean/);
  assert.throws(() => new Point('m').text('n', 1), /field "n": 1 is not a string/);
  assert.throws(() => new Point('m').field('n', null), /field "n": null is not a field value/);
  assert.throws(() => new Point('m').field('n', {}), /field "n": a Object is not a field value/);
  assert.throws(() => new Point('m').field('', 1), /point "m": a field needs a key/);
  assert.throws(() => new Point('m').tag('', 1), /a tag needs a key/);
  assert.throws(() => new Point(''), /a point needs a measurement name/);
  assert.throws(() => new Point('m').field('n', 1, 'decimal'), /unknown field kind "decimal"/);
});

test('tags, categories, times and lookups', () => {
  const p = new Point('m', 'custom_object').tag('a', 1).tagsFrom({ b: 'x' }).fieldsFrom(new Map([['v', 0.5]]));
  assert.equal(p.category, 'custom-object');
  assert.deepEqual(p.tags, [['a', '1'], ['b', 'x']]);
  assert.equal(p.tagValue('b'), 'x');
  assert.equal(p.fieldValue('v'), 0.5);
  assert.equal(p.fieldValue('nope'), undefined);
  assert.equal(p.time(1700000000.5).timestampNs, 1700000000500000000n);
  assert.equal(p.timeMs(1700000000123).timestampNs, 1700000000123000000n);
  assert.equal(p.timeNs(5).timestampNs, 5n);
  assert.throws(() => p.timeNs(2n ** 63n), /is not a timestamp in ns/);
  assert.equal(p.withCategory('LOGGING').category, 'logging');
  assert.throws(() => categoryOf('metrics'), /unknown category "metrics"; use one of metric, logging/);
  assert.equal(kindOf('boolean'), 'bool');
  assert.equal(String(new Point('m').tag('t', 'x').int('i', 1).text('s', 'a')), 'Point(m,t=x i=1i,s="a")');
});
