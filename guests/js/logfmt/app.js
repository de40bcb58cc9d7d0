// logfmt: a log pipeline for logfmt lines (`level=info msg="hello world" dur=12ms status=200`),
// the JavaScript twin of guests/python/logfmt (same records for the same lines; its testdata is
// the golden file of both).
//
// One record per line:
// - A pair is `key=value`, `key="quoted value"` (escapes \" \\ \/ \n \r \t \b \f \uXXXX; any
//   other backslash is kept as written) or a bare `key`, which is a bool field true. `key=` is an
//   empty text field. A bare value runs to the next space and may hold `=` (`q=a=b`).
// - Keys in `tags` are tags, the others fields. With `typed`, a bare value that is a JSON number
//   is an int field when it is an integer, a float field otherwise (text when it does not fit:
//   an integer past 64 bits, `1e999`), and true/false is a bool field; anything else (`12ms`,
//   `00042`, `.5`) and every quoted value is text, so `code="200"` stays "200".
// - The first key of `time_keys` whose value is an RFC 3339 time (with an offset) is the
//   record's time and not a field; otherwise the host's read time is used.
// - `message` (or failing that `msg`) is the record's `message` field. Without either, the raw
//   line is kept as `message` when `keep_message` (and always when the record has no field).
// - A key given twice keeps its first value (a point cannot hold a key twice).
// - A line that is not logfmt passes through as its `message` with a `logfmt_error` tag:
//   `unterminated_quote`, `unexpected_quote`, `missing_key` or `no_pairs`, never an error of
//   the call.
//
// Values that are plain slices of the line are sent as references into the batch
// (`tagSpan`/`textSpan`): no copy.
import { I64_MAX, I64_MIN, pipeline, time } from '@sandkit/sdk';

// spaces, a key, then =value: group 2 a quoted value's inside, group 3 a bare value ('' for
// `key=`); neither for a bare key. A pair ends at a space or the end of the line.
const PAIR = /\s*([^\s="]+)(?:=(?:"((?:[^"\\]|\\.)*)"|([^\s"]*)))?(?=\s|$)/ys;
const OPEN_QUOTE = /[^\s="]+="(?:[^"\\]|\\.)*(")?/ys;
const SPACE = /\s*/y;
// JSON's numbers: no leading zeros (`id=00042` stays text), no `.5`, `+1`, `nan` or `inf`.
const INT = /^-?(?:0|[1-9][0-9]*)$/;
const FLOAT = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$/;
const ESCAPE = /\\(u[0-9a-fA-F]{4}|[\s\S])/g;
const ESCAPES = { '"': '"', '\\': '\\', '/': '/', n: '\n', r: '\r', t: '\t', b: '\b', f: '\f' };
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A quoted value's inside with its escapes read (lone UTF-16 surrogates become U+FFFD). */
export function unescape(s) {
  const out = s.replace(ESCAPE, (all, e) => (e.length === 5 ? String.fromCharCode(parseInt(e.slice(1), 16)) : ESCAPES[e] ?? all));
  return s.includes('\\u') ? out.replace(LONE_SURROGATE, '\uFFFD') : out;
}

/** Why no pair starts at `pos` (a logfmt_error tag value). */
function diagnose(line, pos) {
  if (line[pos] === '=') return 'missing_key';
  OPEN_QUOTE.lastIndex = pos;
  const m = OPEN_QUOTE.exec(line);
  if (m !== null && m[1] === undefined) return 'unterminated_quote';
  return 'unexpected_quote';
}

/** The text of a pair's value (unescaped), or undefined for a bare key. */
function value(m) {
  const q = m[2];
  if (q !== undefined) return q.includes('\\') ? unescape(q) : q;
  return m[3];
}

/** [start, end] of group `g` of a match (the pair's key and `=`, `"` come first). */
function span(m, g) {
  const end = m.index + m[0].length - (g === 2 ? 1 : 0);
  return [end - m[g].length, end];
}

pipeline(
  'logfmt_js',
  {
    description: 'logfmt lines (key=value pairs) into typed fields, tags, time and message.',
    measurements: [
      {
        name: 'logfmt',
        description: "one logfmt line: a field per key, `tags` as tags (the measurement is the source's)",
        category: 'logging',
        tags: { logfmt_error: 'why a line was not logfmt (it passed through)', '*': 'each key named in `tags` (default: level)' },
        fields: [
          ['message', 'text', '', "the line's msg or message, else the raw line (keep_message)"],
          ['*', 'text', '', 'every other key: a quoted value, or (typed) a bare value that is not a number or true/false'],
          ['*', 'int', '', 'typed: a bare integer'],
          ['*', 'float', '', 'typed: a bare number with a fraction or exponent'],
          ['*', 'bool', '', 'typed: bare true/false; a bare key is true'],
        ],
      },
    ],
  },
  class Logfmt {
    constructor(config) {
      config.checkKeys(['tags', 'typed', 'time_keys', 'keep_message']);
      this.tags = new Set(config.strList('tags', ['level']));
      this.typed = config.bool('typed', true);
      this.timeKeys = config.strList('time_keys', ['time', 'ts']);
      this.keepMessage = config.bool('keep_message', true);
      this.specials = new Set([...this.timeKeys, 'message', 'msg']);
    }

    processLine(line, out) {
      const pairs = [];
      const special = new Map(); // the first occurrence of a time or message key
      let pos = 0;
      for (;;) {
        PAIR.lastIndex = pos;
        const m = PAIR.exec(line);
        if (m === null) break;
        pairs.push(m);
        const key = m[1];
        if (this.specials.has(key) && !special.has(key)) special.set(key, m);
        pos = PAIR.lastIndex;
      }
      if (pos < line.length && line.slice(pos).trim() !== '') {
        SPACE.lastIndex = pos;
        SPACE.exec(line);
        out.record().tag('logfmt_error', diagnose(line, SPACE.lastIndex)).keepMessage();
        return;
      }
      const hasValue = (m) => m[2] !== undefined || m[3] !== undefined;
      if (!pairs.some(hasValue)) {
        out.record().tag('logfmt_error', 'no_pairs').keepMessage();
        return;
      }

      let timeNs;
      const seen = new Set(['message']);
      for (const k of this.timeKeys) {
        const m = special.get(k);
        const v = m !== undefined ? value(m) : undefined;
        if (v) {
          timeNs = time.rfc3339Ns(v);
          if (timeNs !== undefined) {
            seen.add(k);
            break;
          }
        }
      }
      let message;
      for (const k of ['message', 'msg']) {
        const m = special.get(k);
        if (m !== undefined && hasValue(m)) {
          message = m;
          seen.add(k);
          break;
        }
      }

      const r = out.record();
      let fields = 0;
      for (const m of pairs) {
        const [, key, q, bare] = m;
        if (seen.has(key)) continue;
        seen.add(key);
        if (this.tags.has(key)) {
          if (q !== undefined) {
            if (q.includes('\\')) r.tag(key, unescape(q));
            else if (q) r.tagSpan(key, ...span(m, 2));
          } else if (bare === undefined) r.tag(key, 'true');
          else if (bare) r.tagSpan(key, ...span(m, 3));
          continue; // an empty tag carries nothing
        }
        fields += 1;
        if (q !== undefined) {
          if (q.includes('\\')) r.text(key, unescape(q));
          else r.textSpan(key, ...span(m, 2));
        } else if (bare === undefined) r.bool(key, true);
        else if (this.typed && INT.test(bare)) {
          const v = BigInt(bare);
          if (v >= I64_MIN && v <= I64_MAX) r.int(key, v);
          else r.textSpan(key, ...span(m, 3));
        } else if (this.typed && FLOAT.test(bare)) {
          const v = Number(bare);
          if (Number.isFinite(v)) r.float(key, v);
          else r.textSpan(key, ...span(m, 3));
        } else if (this.typed && (bare === 'true' || bare === 'false')) r.bool(key, bare === 'true');
        else r.textSpan(key, ...span(m, 3));
      }
      if (message !== undefined) {
        const q = message[2];
        if (q !== undefined && q.includes('\\')) r.text('message', unescape(q));
        else if (q !== undefined) r.textSpan('message', ...span(message, 2));
        else r.textSpan('message', ...span(message, 3));
      } else if (this.keepMessage || fields === 0) r.keepMessage();
      if (timeNs !== undefined) r.timeNs(timeNs);
    }
  },
);
