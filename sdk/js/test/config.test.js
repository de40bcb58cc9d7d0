import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Config, ConfigError, durationMs } from '../src/index.js';
import { pluginInfo, measurement } from '../src/info.js';

test('typed getters name the key', () => {
  const c = Config.fromJson('{"s": "x", "n": 3, "f": 1.5, "b": true, "l": ["a", 1], "t": {"k": 1}}');
  assert.equal(c.str('s'), 'x');
  assert.equal(c.int('n'), 3);
  assert.equal(c.float('n'), 3);
  assert.equal(c.bool('b'), true);
  assert.equal(c.str('missing', 'd'), 'd');
  assert.equal(c.strList('missing', undefined), undefined);
  assert.throws(() => c.str('n'), { name: 'ConfigError', message: '[config] n = 3 is not a string' });
  assert.throws(() => c.int('f'), /\[config\] f = 1.5 is not an integer/);
  assert.throws(() => c.bool('s'), /\[config\] s = "x" is not true or false/);
  assert.throws(() => c.str('absent'), /\[config\] absent is missing \(a string expected\)/);
  assert.throws(() => c.strList('l'), /\[config\] l\[1\] = 1 is not a string/);
  assert.throws(() => c.table('t').str('k'), /\[config\] t.k = 1 is not a string/);
  assert.throws(() => c.checkKeys(['s']), /unknown key "n" \(known: s\)/);
  assert.ok(c.has('s') && !c.has('zz'));
  assert.deepEqual(Config.fromJson('').keys(), []);
  assert.deepEqual(Config.fromJson('null').keys(), []);
  assert.throws(() => Config.fromJson('[1]'), ConfigError);
  assert.throws(() => Config.fromJson('{'), /the config is not JSON/);
});

test('durations and plugin info', () => {
  assert.equal(durationMs('10s'), 10000);
  assert.equal(durationMs('1m 30s'), 90000);
  assert.equal(durationMs('250ms'), 250);
  assert.equal(durationMs(2), 2000);
  assert.throws(() => durationMs('ten'), /interval: "ten" is not a duration/);
  assert.throws(() => durationMs(-1), /negative/);
  const info = pluginInfo('p', {
    interval: '5s',
    measurements: [{ name: 'm', category: 'logging', tags: { host: 'the host' }, fields: [['n', 'int', 'count', 'things'], { name: 'x' }] }],
  });
  assert.equal(info.defaultIntervalMs, 5000);
  assert.deepEqual(info.measurements[0], {
    name: 'm',
    description: '',
    category: 'logging',
    tags: [{ name: 'host', description: 'the host' }],
    fields: [
      { name: 'n', kind: 'int', unit: 'count', description: 'things' },
      { name: 'x', kind: 'float', unit: '', description: '' },
    ],
  });
  assert.throws(() => pluginInfo('p', { interval: '1ms' }), /interval 1 ms is not within \[1000, 3600000\] ms/);
  assert.throws(() => measurement({ name: 'm', fields: [['x', 'decimal']] }), /unknown field kind/);
});
