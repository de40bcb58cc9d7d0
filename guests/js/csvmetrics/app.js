// csvmetrics: an input that turns a posted CSV body into points, one per row: the JavaScript
// twin of guests/python/csvmetrics (same points for the same bodies; its testdata is the golden
// file of both).
//
// The first row is the header: column names. Every other row is a point:
// - measurement: `measurement`, or the row's cell in `measurement_column` when the header has it
//   (an empty cell: `measurement`);
// - tags: the columns of `tag_columns` (an empty cell: no tag);
// - time: the cell of `time_column` when the header has it (an empty cell, or no such column: the
//   host's clock), read as `time_format`: "rfc3339", "unix", "unix_ms", "unix_us", "unix_ns" (a
//   decimal number, fraction allowed), or "auto": RFC 3339, else unix seconds;
// - fields: every other column; an empty cell is no field. A column's type is the one of
//   `column_types`, else inferred over the whole body: int when every cell is an integer (no
//   leading zeros), float when every cell is a number, bool when every cell is true or false
//   (any case), else text.
//
// Cells are stripped of surrounding spaces; blank lines are skipped; a UTF-8 byte order mark is
// ignored. The delimiter is `delimiter`, or a tab for text/tab-separated-values; other content
// types than CSV's, text/plain and what curl sends by default are refused. Any error refuses the
// whole body (nothing of it is written, the client gets 400) with an error naming the row (data
// rows counted from 1), its line in the body and the column.
import { I64_MAX, I64_MIN, Point, input, time } from '@sandkit/sdk';

const FORMATS = ['auto', 'rfc3339', 'unix', 'unix_ms', 'unix_us', 'unix_ns'];
const UNIX_DIGITS = { unix: 9, unix_ms: 6, unix_us: 3, unix_ns: 0 };
const KINDS = ['int', 'float', 'bool', 'text'];
// curl --data-binary sends application/x-www-form-urlencoded unless told otherwise
const CONTENT_TYPES = ['', 'text/csv', 'application/csv', 'text/plain', 'text/tab-separated-values', 'application/octet-stream', 'application/x-www-form-urlencoded'];

const INT = /^-?(?:0|[1-9][0-9]*)$/;
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$/;
// a declared int or float column takes a little more: leading zeros, a sign, `.5`
const LOOSE_INT = /^[-+]?[0-9]+$/;
const LOOSE_FLOAT = /^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/;
const DECIMAL = /^(-?)([0-9]+)(?:\.([0-9]+))?$/;

/** A value for a message, as Python's repr shows a string (the twin's messages). */
const q = (s) => `'${s}'`;

/** ns of a decimal number of seconds (`digits` 9), ms (6), us (3) or ns (0), or undefined. */
export function decimalNs(s, digits) {
  const m = DECIMAL.exec(s);
  if (m === null) return undefined;
  const frac = m[3] ?? '';
  let ns = BigInt(m[2]) * 10n ** BigInt(digits) + (digits ? BigInt(frac.slice(0, digits).padEnd(digits, '0')) : 0n);
  if (m[1]) ns = -ns;
  return ns >= I64_MIN && ns <= I64_MAX ? ns : undefined;
}

function parseTime(s, fmt) {
  if (fmt in UNIX_DIGITS) return decimalNs(s, UNIX_DIGITS[fmt]);
  let ns = time.rfc3339Ns(s);
  if (ns === undefined && fmt === 'auto') ns = decimalNs(s, 9);
  return ns;
}

const fitsI64 = (c) => {
  const v = BigInt(c);
  return v >= I64_MIN && v <= I64_MAX;
};

/** The kind of a column from its non-empty cells. */
function infer(cells) {
  if (cells.every((c) => INT.test(c) && fitsI64(c))) return 'int';
  if (cells.every((c) => NUMBER.test(c) && Number.isFinite(Number(c)))) return 'float';
  if (cells.every((c) => ['true', 'false'].includes(c.toLowerCase()))) return 'bool';
  return 'text';
}

/** The value of a cell of a column of `kind`, or undefined when it is not one. */
function convert(cell, kind) {
  if (kind === 'text') return cell;
  if (kind === 'int') return LOOSE_INT.test(cell) && fitsI64(cell) ? BigInt(cell) : undefined;
  if (kind === 'float') {
    if (!LOOSE_FLOAT.test(cell)) return undefined;
    const v = Number(cell);
    return Number.isFinite(v) ? v : undefined;
  }
  const low = cell.toLowerCase();
  return low === 'true' ? true : low === 'false' ? false : undefined;
}

/**
 * The rows of a CSV text as [line, cells] (`line` the body line the row ends on), as Python's
 * csv module reads it with strict=True: quoted cells with doubled quotes and line breaks, a
 * quote inside an unquoted cell kept as written, and an error for text after a closing quote or
 * a quote left open.
 */
export function* csvRows(text, delimiter) {
  let line = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const cells = [];
    let cell = '';
    let quoted = false; // inside quotes
    let wasQuoted = false;
    line += 1;
    for (;;) {
      if (i >= n) {
        if (quoted) throw new Error(`line ${line}: not CSV: unexpected end of data`);
        cells.push(cell);
        break;
      }
      const c = text[i];
      if (quoted) {
        i += 1;
        if (c === '"') {
          if (text[i] === '"') {
            cell += '"';
            i += 1;
          } else quoted = false;
        } else {
          if (c === '\n' || (c === '\r' && text[i] !== '\n')) line += 1;
          cell += c;
        }
        continue;
      }
      if (c === delimiter) {
        cells.push(cell);
        cell = '';
        wasQuoted = false;
        i += 1;
        continue;
      }
      if (c === '\r' || c === '\n') {
        i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
        cells.push(cell);
        break;
      }
      if (wasQuoted) throw new Error(`line ${line}: not CSV: '${delimiter}' expected after '"'`);
      if (c === '"' && cell === '') {
        quoted = true;
        wasQuoted = true;
        i += 1;
        continue;
      }
      cell += c;
      i += 1;
    }
    yield [line, cells.length === 1 && cells[0] === '' && !wasQuoted ? [] : cells];
  }
}

input(
  'csvmetrics_js',
  {
    description: 'CSV bodies (a header row, then one point per row) into typed points.',
    measurements: [
      {
        name: '*',
        description: "one CSV row: measurement `measurement` (default csv), or the row's value of the measurement column",
        tags: { '*': 'each column of `tag_columns`' },
        fields: [
          ['*', 'int', '', 'a column whose cells are all integers (or pinned int)'],
          ['*', 'float', '', 'a column whose cells are all numbers (or pinned float)'],
          ['*', 'bool', '', 'a column whose cells are all true/false (or pinned bool)'],
          ['*', 'text', '', 'any other column (or pinned text)'],
        ],
      },
    ],
  },
  class CsvMetrics {
    constructor(config) {
      config.checkKeys(['measurement', 'measurement_column', 'tag_columns', 'time_column', 'time_format', 'column_types', 'delimiter', 'max_rows']);
      this.measurement = config.str('measurement', 'csv');
      if (!this.measurement) throw new Error('[config] measurement is empty');
      this.measurementColumn = config.str('measurement_column', 'measurement');
      this.tagColumns = new Set(config.strList('tag_columns', []));
      this.timeColumn = config.str('time_column', 'time');
      this.timeFormat = config.str('time_format', 'auto');
      if (!FORMATS.includes(this.timeFormat)) {
        throw new Error(`[config] time_format = ${q(this.timeFormat)}: use one of ${FORMATS.join(', ')}`);
      }
      this.columnTypes = new Map();
      const types = config.table('column_types', undefined);
      for (const col of types?.keys() ?? []) {
        const kind = types.get(col);
        if (!KINDS.includes(kind)) throw new Error(`[config] column_types.${col} = ${q(kind)}: use int, float, bool or text`);
        this.columnTypes.set(col, kind);
      }
      this.delimiter = config.str('delimiter', ',');
      if (this.delimiter.length !== 1 || '"\r\n'.includes(this.delimiter)) {
        throw new Error(`[config] delimiter = ${q(this.delimiter)}: one character, not a quote or a line break`);
      }
      this.maxRows = config.int('max_rows', 5000);
    }

    handle(contentType, body) {
      const media = contentType.split(';', 1)[0].trim().toLowerCase();
      if (!CONTENT_TYPES.includes(media)) throw new Error(`content type ${q(contentType)} is not CSV (send text/csv)`);
      let text;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(body);
      } catch {
        throw new Error(`the body is not UTF-8 (byte ${firstBadByte(body)})`);
      }
      if (text.startsWith('\uFEFF')) text = text.slice(1);
      const delimiter = media === 'text/tab-separated-values' ? '\t' : this.delimiter;
      const rows = [];
      let header;
      for (const [line, raw] of csvRows(text, delimiter)) {
        if (raw.length === 0 || (raw.length === 1 && raw[0].trim() === '')) continue; // a blank line
        const cells = raw.map((c) => c.trim());
        if (header === undefined) {
          header = cells;
          continue;
        }
        if (rows.length === this.maxRows) throw new Error(`more than max_rows = ${this.maxRows} rows`);
        rows.push([line, cells]);
      }
      if (header === undefined) throw new Error('the body has no header row');
      return this.points(header, rows);
    }

    points(header, rows) {
      const seen = new Set();
      header.forEach((name, i) => {
        if (!name) throw new Error(`header: column ${i + 1} has no name`);
        if (seen.has(name)) throw new Error(`header: column ${q(name)} appears twice`);
        seen.add(name);
      });
      const width = header.length;
      const mAt = seen.has(this.measurementColumn) ? header.indexOf(this.measurementColumn) : -1;
      const tAt = seen.has(this.timeColumn) ? header.indexOf(this.timeColumn) : -1;
      const tagAt = header.map((c, i) => [i, c]).filter(([, c]) => this.tagColumns.has(c));
      const fieldAt = header.map((c, i) => [i, c]).filter(([i, c]) => i !== mAt && i !== tAt && !this.tagColumns.has(c));
      rows.forEach(([line, cells], k) => {
        if (cells.length !== width) throw new Error(`row ${k + 1} (line ${line}): ${cells.length} cells, the header has ${width} columns`);
      });
      const kinds = new Map();
      for (const [i, col] of fieldAt) {
        kinds.set(i, this.columnTypes.get(col) ?? infer(rows.map(([, cells]) => cells[i]).filter((c) => c)));
      }
      return rows.map(([line, cells], k) => {
        const n = k + 1;
        const p = new Point(mAt >= 0 && cells[mAt] ? cells[mAt] : this.measurement);
        for (const [i, col] of tagAt) if (cells[i]) p.tag(col, cells[i]);
        for (const [i, col] of fieldAt) {
          const cell = cells[i];
          if (!cell) continue;
          const kind = kinds.get(i);
          const v = convert(cell, kind);
          if (v === undefined) {
            throw new Error(`row ${n} (line ${line}), column ${q(col)}: ${q(cell)} is not ${kind === 'int' ? 'an' : 'a'} ${kind}`);
          }
          p.field(col, v, kind);
        }
        if (p.fields.length === 0) throw new Error(`row ${n} (line ${line}): no field (every field cell is empty)`);
        if (tAt >= 0 && cells[tAt]) {
          const ns = parseTime(cells[tAt], this.timeFormat);
          if (ns === undefined) {
            throw new Error(`row ${n} (line ${line}), column ${q(header[tAt])}: ${q(cells[tAt])} is not a time (${this.timeFormat})`);
          }
          p.timeNs(ns);
        }
        return p;
      });
    }
  },
);

/** The offset of the first byte that is not UTF-8 (what Python's UnicodeDecodeError.start says). */
function firstBadByte(b) {
  const fatal = new TextDecoder('utf-8', { fatal: true });
  let lo = 0;
  let hi = b.length;
  // the longest prefix that decodes, cut back to a character start
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    let ok = true;
    try {
      fatal.decode(b.subarray(0, mid), { stream: true });
    } catch {
      ok = false;
    }
    if (ok) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
