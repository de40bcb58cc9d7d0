// Golden tests of csvmetrics on plain node: the points of guests/python/csvmetrics's testdata
// (line protocol without escapes), which both twins must give exactly; bad bodies and configs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { PluginError } from '@sandkit/sdk';
import { load } from '@sandkit/sdk/testing';

const DATA = new URL('../../python/csvmetrics/testdata/', import.meta.url);
const APP = new URL('./app.js', import.meta.url);

/** A point as the Python twin's test renders it (floats as Python's repr writes them). */
function render(p) {
  const value = (kind, v) => {
    if (kind === 'int') return `${v}i`;
    if (kind === 'bool') return v ? 'true' : 'false';
    if (kind === 'text') return JSON.stringify(v);
    return Number.isInteger(v) ? `${v}.0` : String(v);
  };
  const tags = [...p.tags].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `,${k}=${v}`).join('');
  const fields = p.fields.map(([k, kind, v]) => `${k}=${value(kind, v)}`).join(',');
  return `${p.measurement}${tags} ${fields}${p.timestampNs === undefined ? '' : ` ${p.timestampNs}`}`;
}

function golden(name) {
  return [readFileSync(new URL(`${name}.csv`, DATA)), readFileSync(new URL(`${name}.expected`, DATA), 'utf8').split('\n').filter(Boolean)];
}

test('golden: readings', async () => {
  const [body, expected] = golden('readings');
  const plugin = await load(APP, { config: { tag_columns: ['host', 'sensor'] } });
  assert.deepEqual(plugin.handle(body, 'text/csv; charset=utf-8').map(render), expected);
});

test('golden: energy (semicolons, a BOM, blank lines, no time)', async () => {
  const [body, expected] = golden('energy');
  const plugin = await load(APP, { config: { measurement: 'energy', delimiter: ';', tag_columns: ['device'] } });
  const points = plugin.handle(body, '');
  assert.deepEqual(points.map(render), expected);
  assert.ok(points.every((p) => p.timestampNs === undefined));
});

test('tab-separated by content type, unix ms, pinned types, header only', async () => {
  let plugin = await load(APP, { config: { time_column: 'ts', time_format: 'unix_ms' } });
  assert.deepEqual(plugin.handle('ts\tv\n1709294400123\t1\n-1500\t2\n', 'text/tab-separated-values').map(render), [
    'csv v=1i 1709294400123000000',
    'csv v=2i -1500000000',
  ]);
  plugin = await load(APP, { config: { column_types: { code: 'text', level: 'float', n: 'int', up: 'bool' }, measurement_column: '' } });
  assert.deepEqual(plugin.handle('measurement,code,level,n,up\nx,200,3,007,True\n').map(render), [
    'csv measurement="x",code="200",level=3.0,n=7i,up=true',
  ]);
  assert.deepEqual((await load(APP)).handle('a,b,c\r\n'), []);
});

const BAD = [
  [{}, '', 'a,b,c\n1,2,3\n4,5\n', /row 2 \(line 3\): 2 cells, the header has 3 columns/],
  [{ column_types: { n: 'int' } }, '', 'n,m\n1,2\n12.5,3\n', /row 2 \(line 3\), column 'n': '12.5' is not an int/],
  [{ column_types: { ok: 'bool' } }, '', 'ok\nyes\n', /row 1 \(line 2\), column 'ok': 'yes' is not a bool/],
  [{}, '', 'time,v\n2024-03-01T12:00:00Z,1\nyesterday,2\n', /row 2 \(line 3\), column 'time': 'yesterday' is not a time \(auto\)/],
  [{ time_format: 'rfc3339' }, '', 'time,v\n1709294400,1\n', /row 1 \(line 2\), column 'time': '1709294400' is not a time \(rfc3339\)/],
  [{ tag_columns: ['host'] }, '', 'host,v\nweb-1,1\nweb-2,\n', /row 2 \(line 3\): no field \(every field cell is empty\)/],
  [{}, '', 'a,,c\n1,2,3\n', /header: column 2 has no name/],
  [{}, '', 'a,b,a\n1,2,3\n', /header: column 'a' appears twice/],
  [{}, '', 'a,b\n"x"y,1\n', /line 2: not CSV: .*expected after/],
  [{}, '', 'a,b\n"open,1\n', /line 3: not CSV: unexpected end of data/],
  [{}, 'application/json', '{"a": 1}', /content type 'application\/json' is not CSV/],
  [{}, '', Uint8Array.from([0x61, 0x2c, 0x62, 0x0a, 0xff, 0x2c, 0x31, 0x0a]), /the body is not UTF-8 \(byte 4\)/],
  [{}, '', '\n\n', /the body has no header row/],
  [{ max_rows: 2 }, '', 'a\n1\n2\n3\n', /more than max_rows = 2 rows/],
];

test('a bad body is refused whole, naming its row and column', async () => {
  for (const [config, contentType, body, error] of BAD) {
    const plugin = await load(APP, { config });
    assert.throws(
      () => plugin.handle(body, contentType),
      (e) => e instanceof PluginError && /^handle: Error: /.test(e.message) && error.test(e.message),
      String(error),
    );
    assert.deepEqual(plugin.host.emitted, []);
  }
});

test('a bad config is refused', async () => {
  for (const [config, error] of [
    [{ tags: ['a'] }, /unknown key "tags"/],
    [{ time_format: 'epoch' }, /time_format = 'epoch': use one of auto, rfc3339/],
    [{ column_types: { a: 'string' } }, /column_types.a = 'string': use int, float/],
    [{ delimiter: ';;' }, /delimiter = ';;': one character/],
    [{ measurement: '' }, /measurement is empty/],
  ]) {
    await assert.rejects(load(APP, { config }), (e) => /^init: \w*Error: /.test(e.message) && error.test(e.message));
  }
  const info = (await load(APP)).info;
  assert.equal(info.name, 'csvmetrics_js');
  assert.deepEqual(info.measurements.map((m) => m.name), ['*']);
});
