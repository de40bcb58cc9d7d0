// state, files, http, system and log through the TestHost (the component's host behaves the
// same: tests/all/js.rs runs jsfaults against the real one).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { TestHost, load } from '../src/testing.js';
import { HttpError, log, state } from '../src/index.js';
import { install } from '../src/host.js';

test('state, files, http and system through the host', async () => {
  const host = new TestHost({
    files: { '/etc/a.conf': 'x=1\n', '/etc/sub/b': '' },
    http: ({ url, headers }) => {
      if (url === 'http://too-big/') throw new HttpError('too-large', 65536n);
      assert.deepEqual(headers, [['x-a', 'b']]);
      return { status: 200, headers: [['content-type', 'text/plain']], body: 'hi' };
    },
  });
  const plugin = await load('plugins/host_apis.js', { host });
  const points = plugin.collect();
  const by = (m) => points.filter((p) => p.measurement === m);
  assert.equal(by('apis')[0].fieldValue('total'), 1n);
  assert.equal(by('apis')[0].fieldValue('host'), 'test-host');
  assert.equal(by('fs')[0].fieldValue('free'), 50n << 30n);
  assert.equal(by('file')[0].fieldValue('text'), 'x=1\n');
  assert.match(by('file')[1].fieldValue('error'), /files.read-file of "\/missing": not given to the TestHost/);
  assert.equal(by('dir')[0].fieldValue('names'), 'a.conf,sub');
  assert.equal(by('http')[0].fieldValue('type'), 'text/plain');
  assert.equal(by('http')[0].fieldValue('body'), 'hi');
  assert.deepEqual([by('http')[1].fieldValue('kind'), by('http')[1].fieldValue('detail')], ['too-large', '65536']);
  assert.deepEqual(host.requests, [['GET', 'http://ok/'], ['GET', 'http://too-big/']]);
  plugin.collect();
  assert.equal(new TextDecoder().decode(host.state.get('total')), '2');
});

test('the state cap and log levels', () => {
  const host = new TestHost({ stateCap: 100 });
  const old = install(host);
  try {
    state.set('a', 'x'.repeat(20));
    assert.equal(state.getText('a'), 'x'.repeat(20));
    assert.throws(() => state.set('b', new Uint8Array(40)), { name: 'StateError', message: /above the cap of 100/ });
    state.delete('a');
    assert.equal(state.get('a'), undefined);
    assert.throws(() => state.set('c', 5), /is not a Uint8Array or a string/);
    log.warn('w');
    assert.throws(() => log.log('fatal', 'x'), /unknown log level "fatal"/);
    assert.deepEqual(host.logs, [['warn', 'w']]);
  } finally {
    install(old);
  }
});

test('no host outside a component or a test says what to do', () => {
  const old = install(null);
  try {
    assert.throws(() => state.get('k'), /use TestHost of '@sandkit\/sdk\/testing'/);
  } finally {
    install(old);
  }
});
