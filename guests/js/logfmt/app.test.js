// Golden tests of logfmt on plain node: the records of guests/python/logfmt's testdata, which
// both twins must give exactly.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { load } from '@sandkit/sdk/testing';

const DATA = new URL('../../python/logfmt/testdata/', import.meta.url);

/** JSON with integers of 16 digits or more kept exact. */
function parse(text) {
  const marked = text.replace(/([[,:]\s*)(-?\d{16,})(?=\s*[,\]}])/g, '$1"__big:$2"');
  return JSON.parse(marked, (_, v) => (typeof v === 'string' && v.startsWith('__big:') ? BigInt(v.slice(6)) : v));
}

test('every line of the sample gives the golden records', async () => {
  const lines = readFileSync(new URL('input.log', DATA), 'utf8').split('\n').slice(0, -1);
  const expected = readFileSync(new URL('expected.jsonl', DATA), 'utf8').split('\n').filter(Boolean).map(parse);
  assert.equal(lines.length, expected.length);
  const plugin = await load(new URL('./app.js', import.meta.url));
  const got = lines.map((line) => ({ line, records: [] }));
  for (const r of plugin.process(lines)) {
    got[r.line].records.push({ time: r.time, keep_message: r.keepMessage, items: r.items });
  }
  const want = expected.map((e) => ({
    line: e.line,
    records: e.records.map((r) => ({
      time: r.time === null ? null : BigInt(r.time),
      keep_message: r.keep_message,
      items: r.items.map(([k, key, v]) => [k, key, k === 'int' || k === 'uint' ? BigInt(v) : v]),
    })),
  }));
  for (let i = 0; i < want.length; i++) assert.deepStrictEqual(got[i], want[i], `line ${i}: ${lines[i]}`);
});

test('config: tags, untyped, no message, a typo', async () => {
  const plugin = await load(new URL('./app.js', import.meta.url), {
    config: { tags: ['svc'], typed: false, keep_message: false },
  });
  const [r] = plugin.process(['svc=api n=3 ok=true']);
  assert.deepEqual(r.items, [
    ['tag', 'svc', 'api'],
    ['text', 'n', '3'],
    ['text', 'ok', 'true'],
  ]);
  assert.equal(r.keepMessage, false);
  await assert.rejects(load(new URL('./app.js', import.meta.url), { config: { tag: [] } }), /unknown key "tag"/);
});
