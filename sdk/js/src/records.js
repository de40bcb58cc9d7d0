// The pipeline record encoding (docs/record-encoding.md), written in JavaScript.
//
//     output := "SKR1" record*
//     record := line:u32 flags:u8 time:i64 items:u16 item{items}
//     item   := kind:u8 key-len:u16 key value
//
// All integers little-endian. The host checks every byte it reads; this writer only produces
// what the host accepts (keys cut to 65,535 bytes on a character boundary, at most 65,535 items,
// empty keys left out). Offsets in the encoding are UTF-8 bytes; a JavaScript string is indexed
// by UTF-16 code units, so the span methods take string indices and the SDK converts.

import { I64_MAX, I64_MIN, U64_MAX, msNs, nsOf, secondsNs, show, typedValue } from './point.js';

export const MAGIC = [0x53, 0x4b, 0x52, 0x31];
export const F_TIME = 1;
export const F_MESSAGE = 2;
export const HEADER = 15;
export const MAX_ITEMS = 0xffff;
export const MAX_KEY = 0xffff;
export const MAX_RECORDS_PER_LINE = 1000;
export const MAX_EXPANSION = 8;
export const EXPANSION_PER_LINE = 4096;

export const TAG = 0;
export const TEXT = 1;
export const TAG_REF = 2;
export const TEXT_REF = 3;
export const INT = 4;
export const UINT = 5;
export const FLOAT = 6;
export const BOOL = 7;
export const MEASUREMENT = 8;

const encoder = new TextEncoder();

/** The UTF-8 length of `s[from, to)` (a lone surrogate counts as U+FFFD, 3 bytes). */
export function utf8Length(s, from = 0, to = s.length) {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < to && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * A batch of raw lines as the host sends it: `data` holds every line, line i spans the UTF-8
 * bytes `ends[i-1]..ends[i]` (the SDK converts to string indices).
 */
export class Batch {
  constructor(source, data, ends) {
    this.source = source;
    this.data = data;
    this.ends = Array.from(ends, Number);
    const n = this.ends.length;
    // The engine runs JavaScript in an interpreter: per-character loops and regexps over the
    // batch cost more than the native TextEncoder/TextDecoder, so the batch is checked and cut
    // with those.
    const raw = data.length === 0 ? undefined : encoder.encode(data);
    const total = raw === undefined ? 0 : raw.length;
    this.ascii = total === data.length;
    /** The UTF-8 byte offset in `data` where each line starts. */
    this.starts = new Array(n);
    /** @type {string[]} */
    this.lines = new Array(n);
    const decoder = this.ascii ? undefined : new TextDecoder('utf-8', { fatal: true });
    let prev = 0;
    for (let i = 0; i < n; i++) {
      const end = this.ends[i];
      if (!(end >= prev && end <= total)) throw badEnd(i, end, total);
      this.starts[i] = prev;
      if (this.ascii) this.lines[i] = data.slice(prev, end);
      else {
        // A line whose ends cut a character does not decode.
        if ((end < total && (raw[end] & 0xc0) === 0x80) || (raw[prev] & 0xc0) === 0x80) {
          throw new RangeError(`line ${i} of the batch ends at byte ${end}, not on a character boundary`);
        }
        this.lines[i] = decoder.decode(raw.subarray(prev, end));
      }
      prev = end;
    }
  }

  /** A batch of the given lines (for tests). */
  static ofLines(lines, source = 'test') {
    const ends = [];
    let total = 0;
    for (const line of lines) {
      total += utf8Length(line);
      ends.push(total);
    }
    return new Batch(source, lines.join(''), ends);
  }

  get length() {
    return this.lines.length;
  }

  line(i) {
    return this.lines[i];
  }

  [Symbol.iterator]() {
    return this.lines[Symbol.iterator]();
  }
}

function badEnd(i, end, len) {
  return new RangeError(`line ${i} of the batch ends at byte ${end}, which is not a line end in ${len} bytes`);
}

// Keys repeat from record to record: the head of an item (kind, key length, key) is made once
// per kind and key and copied with one native call (a few hundred keys are kept at most).
const HEADS = [new Map(), new Map(), new Map(), new Map(), new Map(), new Map(), new Map(), new Map(), new Map()];
let heads = 0;

/** kind, key length (u16) and the UTF-8 key, cut to 65,535 bytes on a character boundary. */
function itemHead(kind, key) {
  const cache = HEADS[kind];
  let h = cache.get(key);
  if (h !== undefined) return h;
  let k = encoder.encode(key);
  if (k.length > MAX_KEY) {
    let n = MAX_KEY;
    while (n > 0 && (k[n] & 0xc0) === 0x80) n--;
    k = k.subarray(0, n);
  }
  h = new Uint8Array(3 + k.length);
  h[0] = kind;
  h[1] = k.length & 0xff;
  h[2] = k.length >> 8;
  h.set(k, 3);
  if (key.length <= 64) {
    if (++heads > 1024) {
      for (const m of HEADS) m.clear();
      heads = 1;
    }
    cache.set(key, h);
  }
  return h;
}

/** The records a pipeline makes from a batch, written straight into the output encoding. */
export class Records {
  constructor(batch = undefined) {
    this._buf = new Uint8Array(4096);
    this._view = new DataView(this._buf.buffer);
    this._buf.set(MAGIC);
    this._len = 4;
    this._batch = batch;
    this._line = 0;
    this._text = '';
    this._start = 0;
    this._ascii = true;
    if (batch !== undefined && batch.length > 0) this.setLine(0);
  }

  /** Set the input line the next records come from (the SDK's batch loop does this). */
  setLine(i) {
    this._line = i;
    if (this._batch !== undefined) {
      this._text = this._batch.lines[i];
      this._start = this._batch.starts[i];
      this._ascii = this._batch.ascii || this._text.length === this._batch.ends[i] - this._start;
    }
  }

  /** The current input line. */
  get line() {
    return this._text;
  }

  /** The index of the current input line in the batch. */
  get lineIndex() {
    return this._line;
  }

  _reserve(n) {
    if (this._len + n <= this._buf.length) return;
    let size = this._buf.length * 2;
    while (size < this._len + n) size *= 2;
    const buf = new Uint8Array(size);
    buf.set(this._buf.subarray(0, this._len));
    this._buf = buf;
    this._view = new DataView(buf.buffer);
  }

  /** Start a record for the current line; add items with the builder's methods. */
  record() {
    if (this._len + HEADER > this._buf.length) this._reserve(HEADER);
    const at = this._len;
    const buf = this._buf;
    const line = this._line;
    buf[at] = line & 0xff;
    buf[at + 1] = (line >>> 8) & 0xff;
    buf[at + 2] = (line >>> 16) & 0xff;
    buf[at + 3] = line >>> 24;
    for (let i = at + 4; i < at + HEADER; i++) buf[i] = 0;
    this._len = at + HEADER;
    return new Record(this, at);
  }

  /** A record that is the input line as it came, in the `message` field. */
  passthrough() {
    this.record().keepMessage();
  }

  /** The current length, for `rollback`. */
  mark() {
    return this._len;
  }

  /** Forget every record written since `mark`. */
  rollback(mark) {
    if (mark >= 4 && mark <= this._len) this._len = mark;
  }

  get length() {
    return this._len;
  }

  /** The output (a copy). */
  toBytes() {
    return this._buf.slice(0, this._len);
  }
}

/** One record being written. Every method returns the record, for chaining. */
export class Record {
  constructor(out, at) {
    this._out = out;
    this._at = at;
    this._items = 0;
  }

  // Start an item: kind, key; returns false when the record is full.
  _head(kind, key, valueMax) {
    if (this._items >= MAX_ITEMS) return false;
    const out = this._out;
    const h = itemHead(kind, key);
    if (out._len + h.length + valueMax > out._buf.length) out._reserve(h.length + valueMax);
    out._buf.set(h, out._len);
    out._len += h.length;
    return true;
  }

  _done() {
    const n = ++this._items;
    const buf = this._out._buf;
    buf[this._at + 13] = n & 0xff;
    buf[this._at + 14] = n >> 8;
    return this;
  }

  _inline(kind, key, value) {
    // A UTF-16 code unit is at most 3 bytes of UTF-8.
    const n = value.length;
    if (!this._head(kind, key, 4 + n * 3)) return this;
    const out = this._out;
    const buf = out._buf;
    const p = out._len + 4;
    let written = 0;
    // Short ASCII values byte by byte (cheaper than a native call here); the rest natively.
    if (n <= 32) {
      for (; written < n; written++) {
        const c = value.charCodeAt(written);
        if (c >= 0x80) break;
        buf[p + written] = c;
      }
    }
    if (written < n) written = encoder.encodeInto(value, buf.subarray(p)).written;
    buf[p - 4] = written & 0xff;
    buf[p - 3] = (written >>> 8) & 0xff;
    buf[p - 2] = (written >>> 16) & 0xff;
    buf[p - 1] = written >>> 24;
    out._len = p + written;
    return this._done();
  }

  _u64(kind, key, v) {
    if (!this._head(kind, key, 8)) return this;
    const out = this._out;
    if (kind === INT) out._view.setBigInt64(out._len, v, true);
    else if (kind === UINT) out._view.setBigUint64(out._len, v, true);
    else out._view.setFloat64(out._len, v, true);
    out._len += 8;
    return this._done();
  }

  _span(kind, key, start, end) {
    const out = this._out;
    const text = out._text;
    const n = text.length;
    let s = start === undefined ? 0 : Math.trunc(Number(start));
    let e = end === undefined || end === null ? n : Math.trunc(Number(end));
    if (Number.isNaN(s) || Number.isNaN(e)) throw new TypeError(`span of ${show(key)}: ${show(start)}, ${show(end)} are not indices`);
    if (s < 0) s = Math.max(0, n + s);
    if (e < 0) e = Math.max(0, n + e);
    s = Math.min(s, n);
    e = Math.min(Math.max(e, s), n);
    let bs;
    let bl;
    if (out._ascii) {
      bs = s;
      bl = e - s;
    } else {
      // An index between the halves of a surrogate pair moves to the pair's start.
      if (s > 0 && s < n && (text.charCodeAt(s) & 0xfc00) === 0xdc00 && (text.charCodeAt(s - 1) & 0xfc00) === 0xd800) s--;
      if (e > s && e < n && (text.charCodeAt(e) & 0xfc00) === 0xdc00 && (text.charCodeAt(e - 1) & 0xfc00) === 0xd800) e--;
      bs = utf8Length(text, 0, s);
      bl = utf8Length(text, s, e);
    }
    if (!this._head(kind, key, 8)) return this;
    const at = out._start + bs;
    const buf = out._buf;
    const p = out._len;
    buf[p] = at & 0xff;
    buf[p + 1] = (at >>> 8) & 0xff;
    buf[p + 2] = (at >>> 16) & 0xff;
    buf[p + 3] = at >>> 24;
    buf[p + 4] = bl & 0xff;
    buf[p + 5] = (bl >>> 8) & 0xff;
    buf[p + 6] = (bl >>> 16) & 0xff;
    buf[p + 7] = bl >>> 24;
    out._len = p + 8;
    return this._done();
  }

  /** A tag (indexed, low cardinality); the value is turned into text. An empty key is left out. */
  tag(key, value) {
    if (!key) return this;
    return this._inline(TAG, key, typeof value === 'string' ? value : String(value));
  }

  /** A field; its kind is inferred from the value unless given. An empty key is left out. */
  field(key, value, kind) {
    if (!key) return this;
    const [k, v] = typedValue(key, value, kind);
    switch (k) {
      case 'text':
        return this._inline(TEXT, key, v);
      case 'int':
        return this._u64(INT, key, v);
      case 'uint':
        return this._u64(UINT, key, v);
      case 'float':
        return this._u64(FLOAT, key, v);
      default:
        if (!this._head(BOOL, key, 1)) return this;
        this._out._buf[this._out._len++] = v ? 1 : 0;
        return this._done();
    }
  }

  int(key, value) {
    // A safe integer number is written without a bigint (they cost here).
    if (key && typeof value === 'number' && Number.isSafeInteger(value)) return this._safeInt(INT, key, value);
    return this.field(key, value, 'int');
  }

  uint(key, value) {
    if (key && typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return this._safeInt(UINT, key, value);
    return this.field(key, value, 'uint');
  }

  float(key, value) {
    if (key && typeof value === 'number') return this._u64(FLOAT, key, value);
    return this.field(key, value, 'float');
  }

  _safeInt(kind, key, v) {
    if (!this._head(kind, key, 8)) return this;
    const hi = Math.floor(v / 4294967296); // two's complement: the low word is never negative
    const lo = v - hi * 4294967296;
    const buf = this._out._buf;
    const p = this._out._len;
    buf[p] = lo & 0xff;
    buf[p + 1] = (lo >>> 8) & 0xff;
    buf[p + 2] = (lo >>> 16) & 0xff;
    buf[p + 3] = lo >>> 24;
    buf[p + 4] = hi & 0xff;
    buf[p + 5] = (hi >>> 8) & 0xff;
    buf[p + 6] = (hi >>> 16) & 0xff;
    buf[p + 7] = (hi >>> 24) & 0xff;
    this._out._len = p + 8;
    return this._done();
  }

  bool(key, value) {
    return this.field(key, value, 'bool');
  }

  text(key, value) {
    if (key && typeof value === 'string') return this._inline(TEXT, key, value);
    return this.field(key, value, 'text');
  }

  /**
   * A tag whose value is `line.slice(start, end)` of the current line, sent as a reference
   * into the batch (no copy). Indices are string indices, as `slice` takes them.
   */
  tagSpan(key, start, end) {
    if (!key) return this;
    return this._span(TAG_REF, key, start, end);
  }

  /** A text field whose value is `line.slice(start, end)` of the current line, as a reference. */
  textSpan(key, start, end) {
    if (!key) return this;
    return this._span(TEXT_REF, key, start, end);
  }

  /** The record's time in ns since the Unix epoch (default: when the line was read). */
  timeNs(ns) {
    const v = nsOf(ns, 'record time');
    const out = this._out;
    out._buf[this._at + 4] |= F_TIME;
    out._view.setBigInt64(this._at + 5, v, true);
    return this;
  }

  /** The record's time in ms since the epoch, as Date.now() gives it. */
  timeMs(ms) {
    return this.timeNs(msNs(ms));
  }

  /** The record's time in seconds since the epoch (a float). */
  time(seconds) {
    return this.timeNs(secondsNs(seconds));
  }

  /** Keep the input line as the `message` field (the host adds it from its own copy). */
  keepMessage() {
    this._out._buf[this._at + 4] |= F_MESSAGE;
    return this;
  }

  /** Send the record under another measurement than the source's. An empty name is left out. */
  measurement(name) {
    if (!name) return this;
    return this._inline(MEASUREMENT, '', name);
  }
}

/** The length of the longest valid UTF-8 prefix of `b` (Rust's `Utf8Error::valid_up_to`). */
function validUpTo(b) {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    let n;
    let lo = 0x80;
    let hi = 0xbf;
    if (c < 0x80) n = 0;
    else if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n + 1;
  }
  return i;
}

const NAMES = ['tag', 'text', 'tag', 'text', 'int', 'uint', 'float', 'bool', 'measurement'];

/** An output the host would refuse; `at` is the byte offset of the problem. */
export class RecordError extends Error {
  constructor(at, message, overLimit = false) {
    super(`${overLimit ? 'output limit: ' : ''}${message} (at byte ${at})`);
    this.name = 'RecordError';
    this.at = at;
    this.overLimit = overLimit;
  }
}

/**
 * Read an output back as the host does, checking everything it checks (for tests): a list of
 * `{line, time, keepMessage, items}` with items `[kind, key, value]` (kinds tag, text, int,
 * uint, float, bool, measurement; references resolved; ints and times as bigints). Throws
 * RecordError on an output the host would refuse.
 */
export function decode(output, batch) {
  const buf = output instanceof Uint8Array ? output : new Uint8Array(output);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const fatal = new TextDecoder('utf-8', { fatal: true });
  const raw = encoder.encode(batch.data);
  const lines = batch.length;
  const budget = MAX_EXPANSION * raw.length + EXPANSION_PER_LINE * lines;
  let spent = 0;
  const perLine = new Map();
  const need = (pos, n, what) => {
    if (buf.length - pos < n) throw new RecordError(pos, `${what} needs ${n} bytes, ${buf.length - pos} are left`);
  };
  const utf8 = (at, bytes, what) => {
    try {
      return fatal.decode(bytes);
    } catch {
      throw new RecordError(at + validUpTo(bytes), `${what} is not UTF-8`);
    }
  };
  const boundary = (i) => i === raw.length || (i < raw.length && (raw[i] & 0xc0) !== 0x80);
  if (buf.length < 4 || MAGIC.some((b, i) => buf[i] !== b)) throw new RecordError(0, 'no SKR1 magic');
  let pos = 4;
  const records = [];
  while (pos < buf.length) {
    if (buf.length - pos < HEADER) {
      throw new RecordError(pos, `a record header needs ${HEADER} bytes, ${buf.length - pos} are left`);
    }
    const line = view.getUint32(pos, true);
    if (line >= lines) throw new RecordError(pos, `record for line ${line} of a batch of ${lines} lines`);
    const seen = (perLine.get(line) ?? 0) + 1;
    perLine.set(line, seen);
    if (seen > MAX_RECORDS_PER_LINE) {
      throw new RecordError(pos, `more than ${MAX_RECORDS_PER_LINE} records for line ${line}`, true);
    }
    spent += 64;
    if (spent > budget) throw new RecordError(pos, `the records expand to more than ${budget} bytes`, true);
    const flags = buf[pos + 4];
    if (flags & ~(F_TIME | F_MESSAGE)) {
      throw new RecordError(pos + 4, `unknown flags 0x${flags.toString(16).padStart(2, '0')}`);
    }
    const time = view.getBigInt64(pos + 5, true);
    const count = view.getUint16(pos + 13, true);
    pos += HEADER;
    const items = [];
    for (let n = 0; n < count; n++) {
      const itemAt = pos;
      need(pos, 1, 'item kind');
      need(pos, 3, 'key length');
      const kind = buf[pos];
      const klen = view.getUint16(pos + 1, true);
      need(pos + 3, klen, 'key');
      const key = utf8(pos + 3, buf.subarray(pos + 3, pos + 3 + klen), 'key');
      pos += 3 + klen;
      if (kind > MEASUREMENT) throw new RecordError(itemAt, `unknown item kind ${kind}`);
      if (kind === MEASUREMENT && klen > 0) throw new RecordError(itemAt, 'a measurement item has a key');
      if (kind !== MEASUREMENT && klen === 0) throw new RecordError(itemAt, 'empty key');
      const what = kind === TAG || kind === TAG_REF ? 'tag value' : kind === MEASUREMENT ? 'measurement' : 'text value';
      let value;
      let cost = 16 + klen;
      if (kind === TAG || kind === TEXT || kind === MEASUREMENT) {
        need(pos, 4, what);
        const len = view.getUint32(pos, true);
        need(pos + 4, len, what);
        value = utf8(pos + 4, buf.subarray(pos + 4, pos + 4 + len), what);
        if (kind === MEASUREMENT && len === 0) throw new RecordError(itemAt, 'empty measurement');
        pos += 4 + len;
        cost += len;
      } else if (kind === TAG_REF || kind === TEXT_REF) {
        need(pos, 8, what);
        const s = view.getUint32(pos, true);
        const len = view.getUint32(pos + 4, true);
        const e = s + len;
        if (e > raw.length || !boundary(s) || !boundary(e)) {
          throw new RecordError(
            pos,
            `${what} refers to bytes ${s}..+${len}, not a slice of the ${raw.length}-byte batch on character boundaries`,
          );
        }
        value = new TextDecoder().decode(raw.subarray(s, e));
        pos += 8;
        cost += len;
      } else if (kind === BOOL) {
        need(pos, 1, 'bool');
        if (buf[pos] > 1) throw new RecordError(pos, `bool byte ${buf[pos]}`);
        value = buf[pos] === 1;
        pos += 1;
        cost += 8;
      } else {
        const names = { [INT]: 'int', [UINT]: 'uint', [FLOAT]: 'float' };
        need(pos, 8, names[kind]);
        value = kind === INT ? view.getBigInt64(pos, true) : kind === UINT ? view.getBigUint64(pos, true) : view.getFloat64(pos, true);
        pos += 8;
        cost += 8;
      }
      spent += cost;
      if (spent > budget) throw new RecordError(pos, `the records expand to more than ${budget} bytes`, true);
      items.push([NAMES[kind], key, value]);
    }
    records.push({ line, time: flags & F_TIME ? time : null, keepMessage: (flags & F_MESSAGE) !== 0, items });
  }
  return records;
}

export { I64_MAX, I64_MIN, U64_MAX };
