// The golden vectors of the pipeline record encoding (testdata/records/golden.json, the format
// in docs/record-encoding.md): the JS writer gives exactly their bytes, `decode` reads them back
// as expected, and refuses every output of invalid.json as the host does.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { Batch, Records, decode, RecordError } from '../src/records.js';

const ROOT = new URL('../../../testdata/records/', import.meta.url);

/** JSON with every integer of 16 digits or more kept exact (as a bigint). */
function parse(text) {
  const marked = text.replace(/([[,:]\s*)(-?\d{16,})(?=\s*[,\]}])/g, '$1"__big:$2"');
  return JSON.parse(marked, (_, v) => (typeof v === 'string' && v.startsWith('__big:') ? BigInt(v.slice(6)) : v));
}

const GOLDEN = parse(readFileSync(new URL('golden.json', ROOT), 'utf8'));
const INVALID = parse(readFileSync(new URL('invalid.json', ROOT), 'utf8'));

function float(v) {
  if (v !== null && typeof v === 'object') {
    const view = new DataView(new ArrayBuffer(8));
    view.setBigUint64(0, BigInt(`0x${v.bits}`));
    return view.getFloat64(0);
  }
  return v;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
/** Byte offsets in `line` as the string indices tagSpan/textSpan take. */
function chars(line, [start, end]) {
  const raw = enc.encode(line);
  return [dec.decode(raw.subarray(0, start)).length, dec.decode(raw.subarray(0, end)).length];
}

function hex(bytes) {
  return Buffer.from(bytes).toString('hex');
}

function write(c) {
  const batch = Batch.ofLines(c.lines, 'golden');
  const out = new Records(batch);
  for (const r of c.records) {
    out.setLine(r.line);
    const line = batch.line(r.line);
    const rec = out.record();
    if (r.time !== null) rec.timeNs(BigInt(r.time));
    if (r.keep_message) rec.keepMessage();
    for (const [kind, key, value] of r.writer_items ?? r.items) {
      switch (kind) {
        case 'tag':
          rec.tag(key, value);
          break;
        case 'text':
          rec.text(key, value);
          break;
        case 'tag_ref':
          rec.tagSpan(key, ...chars(line, value));
          break;
        case 'text_ref':
          rec.textSpan(key, ...chars(line, value));
          break;
        case 'int':
          rec.int(key, BigInt(value));
          break;
        case 'uint':
          rec.uint(key, BigInt(value));
          break;
        case 'float':
          rec.float(key, float(value));
          break;
        case 'bool':
          rec.bool(key, value);
          break;
        case 'measurement':
          rec.measurement(value);
          break;
        default:
          throw new Error(`unknown kind ${kind}`);
      }
    }
  }
  return out.toBytes();
}

function expected(c) {
  return c.records.map((r) => {
    const raw = enc.encode(c.lines[r.line]);
    const items = r.items.map(([kind, key, value]) => {
      if (kind.endsWith('_ref')) return [kind.slice(0, -4), key, dec.decode(raw.subarray(value[0], value[1]))];
      if (kind === 'float') return [kind, key, float(value)];
      if (kind === 'int' || kind === 'uint') return [kind, key, BigInt(value)];
      return [kind, key, value];
    });
    return { line: r.line, time: r.time === null ? null : BigInt(r.time), keepMessage: r.keep_message, items };
  });
}

test('there are vectors of every kind', () => {
  assert.ok(GOLDEN.length >= 10);
  const kinds = new Set(GOLDEN.flatMap((c) => c.records.flatMap((r) => r.items.map((i) => i[0]))));
  assert.deepEqual([...kinds].sort(), ['bool', 'float', 'int', 'measurement', 'tag', 'tag_ref', 'text', 'text_ref', 'uint']);
  assert.ok(INVALID.length >= 20);
});

for (const c of GOLDEN) {
  test(`the writer gives the golden bytes: ${c.name}`, () => {
    assert.equal(hex(write(c)), c.hex);
  });
  test(`decode reads the golden bytes: ${c.name}`, () => {
    const got = decode(Buffer.from(c.hex, 'hex'), Batch.ofLines(c.lines, 'golden'));
    // deepStrictEqual compares floats with Object.is: NaN equals NaN, 0 differs from -0.
    assert.deepStrictEqual(got, expected(c));
  });
}

for (const c of INVALID) {
  test(`decode refuses as the host does: ${c.name}`, () => {
    const batch = Batch.ofLines(c.lines, 'invalid');
    assert.throws(
      () => decode(Buffer.from(c.hex, 'hex'), batch),
      (e) => {
        assert.ok(e instanceof RecordError, String(e));
        assert.equal(e.overLimit, c.over_limit, e.message);
        assert.ok(e.message.includes(c.reason.replace(/^output limit: /, '')) || c.over_limit, `${e.message} / ${c.reason}`);
        assert.equal(e.at, c.at, e.message);
        return true;
      },
    );
  });
}
