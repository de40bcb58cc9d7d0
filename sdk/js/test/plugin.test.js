// Declaring plugins in every form, running them through the testing helper, and what the host
// sees when they throw.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { TestHost, load } from '../src/testing.js';
import { PluginError, describeError, collector, pipeline } from '../src/index.js';
import { reset } from '../src/plugin.js';

test('a function collector with onInit, its config and its info', async () => {
  const plugin = await load('plugins/fn_collector.js', { config: { n: 3, prefix: 'x' } });
  assert.equal(plugin.info.name, 'fn');
  assert.equal(plugin.info.defaultIntervalMs, 5000);
  assert.equal(plugin.info.description, 'a function collector');
  const points = plugin.collect();
  assert.deepEqual(points.map(String), ['Point(fn,p=x n=3i)', 'Point(fn2 x=0.5)']);
  assert.deepEqual(plugin.host.logs, [['info', 'init with x']]);
});

test('a class collector keeps its state across calls; emit() sends in chunks', async () => {
  const plugin = await load('plugins/class_collector.js', { config: { step: 2 } });
  assert.equal(plugin.collect().length, 301);
  const second = plugin.collect();
  assert.equal(second.at(-1).fieldValue('n'), 4n);
});

test('an object input with init', async () => {
  const plugin = await load('plugins/object_input.js', { config: { measurement: 'm' } });
  assert.deepEqual(plugin.handle('héllo', 'text/plain').map(String), ['Point(m,ct=text/plain bytes=6i)']);
});

test('pipelines: per line and per batch, spans on non-ASCII lines', async () => {
  const lines = await load('plugins/line_pipeline.js');
  const records = lines.process(['a=b', '# comment', 'clé=välue 🦀']);
  assert.deepEqual(records, [
    { line: 0, time: null, keepMessage: true, items: [['tag', 'k', 'a'], ['text', 'v', 'b']] },
    { line: 2, time: null, keepMessage: true, items: [['tag', 'k', 'clé'], ['text', 'v', 'välue 🦀']] },
  ]);
  assert.throws(() => lines.process(['a=1', 'boom']), (e) => {
    assert.ok(e instanceof PluginError);
    assert.match(e.message, /^process: line 1 of the batch: TypeError: no boom allowed \(line_pipeline\.js:4\)$/);
    return true;
  });
  const batch = await load('plugins/batch_pipeline.js', { config: { tag: 'i' } });
  assert.deepEqual(
    batch.process(['one two', 'three']).map((r) => [r.line, r.items]),
    [
      [1, [['tag', 'i', '1'], ['text', 'word', 'three']]],
      [0, [['tag', 'i', '0'], ['text', 'word', 'one']]],
    ],
  );
});

test('what a plugin throws becomes the error the host logs, with where', async () => {
  const cases = {
    error: /^collect: RangeError: too far \(failing\.js:4 in deep\)$/,
    string: /^collect: a plain string$/,
    object: /^collect: threw a non-Error Object: \{"code":7\}$/,
    undefined: /^collect: threw a undefined: undefined$/,
    recurse: /^collect: RangeError: Maximum call stack size exceeded/,
    'bad-return': /^collect: TypeError: expected Points \(or an array, an iterable, nothing\), got 42/,
  };
  for (const [mode, want] of Object.entries(cases)) {
    const plugin = await load('plugins/failing.js', { config: { mode } });
    assert.throws(() => plugin.collect(), (e) => {
      assert.ok(e instanceof PluginError, `${mode}: ${e}`);
      assert.match(e.message, want, mode);
      return true;
    });
  }
  const missing = await load('plugins/failing.js', { init: false });
  missing.init({});
  assert.throws(() => missing.collect(), /collect: ConfigError: \[config\] mode is missing \(a string expected\)/);
});

test('describeError reads SpiderMonkey stacks through the bundle line table', () => {
  globalThis.__sandkitLines = { bundle: 'bundle.js', files: ['@sandkit/sdk/src/plugin.js', 'app.js'], runs: [[1, 0, 1], [100, 1, 1]] };
  try {
    const e = new Error('kaput');
    e.stack = 'inner@bundle.js:40:3\ncollect@bundle.js:112:9\nexport_collect@/tmp/x/sources/initializer.js:1:2\n';
    assert.equal(describeError(e), 'Error: kaput (app.js:13 in collect)');
  } finally {
    delete globalThis.__sandkitLines;
  }
});

test('registration refuses two plugins and code without the method', () => {
  reset();
  collector('a', () => []);
  assert.throws(() => collector('b', () => []), /already holds the collector "a"; one plugin per component/);
  reset();
  assert.throws(() => collector('c', class { run() {} }), /the class needs a collect method/);
  assert.throws(() => pipeline('d', {}), /give the code|needs processLine or process/);
  assert.throws(() => collector('', () => []), /the first argument is the plugin's name/);
  reset();
});
