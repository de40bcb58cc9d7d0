// The JavaScript twin of guests/testing/recwriter: writes the records a line spells out (see
// that guest for the mini-language), so a test can check that both SDKs give the host the same
// records. One token is its own: `raise` throws a RangeError (the Rust twin skips it), to show
// that an exception costs one line, not the batch.
import { I64_MAX, I64_MIN, U64_MAX, pipeline } from '@sandkit/sdk';

/** An integer as Rust's `str::parse` reads it (an optional sign, then digits), or undefined. */
function int(text, lo, hi) {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const x = BigInt(text);
  return x >= lo && x <= hi ? x : undefined;
}

/** A float as Rust's `str::parse::<f64>` reads it, or undefined. */
function float(text) {
  const m = /^([+-]?)(?:([0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?)|(inf|infinity)|(nan))$/i.exec(text);
  if (m === null) return undefined;
  if (m[3]) return m[1] === '-' ? -Infinity : Infinity;
  if (m[4]) return NaN;
  return Number(text);
}

pipeline('jsrecwriter', (line, out) => {
  let pos = 0;
  for (const spec of line.split(' | ')) {
    const start = pos;
    pos += spec.length + 3;
    if (spec === 'drop') continue;
    const r = out.record();
    let at = start;
    for (const tok of spec.split(' ')) {
      const tokAt = at;
      at += tok.length + 1;
      if (tok === 'raise') throw new RangeError('this line asked to fail');
      if (tok === 'keep') {
        r.keepMessage();
        continue;
      }
      if (tok.startsWith('@')) {
        const ns = int(tok.slice(1), I64_MIN, I64_MAX);
        if (ns !== undefined) r.timeNs(ns);
        continue;
      }
      const eq = tok.indexOf('=');
      if (eq < 0) continue;
      const head = tok.slice(0, eq);
      const value = tok.slice(eq + 1);
      const colon = head.indexOf(':');
      if (colon < 0) continue;
      const kind = head.slice(0, colon);
      const key = head.slice(colon + 1);
      switch (kind) {
        case 't':
          r.tag(key, value);
          break;
        case 's':
          r.text(key, value);
          break;
        case 'r':
          r.textSpan(key, tokAt + eq + 1, tokAt + tok.length);
          break;
        case 'i': {
          const x = int(value, I64_MIN, I64_MAX);
          if (x !== undefined) r.int(key, x);
          break;
        }
        case 'u': {
          const x = int(value, 0n, U64_MAX);
          if (x !== undefined) r.uint(key, x);
          break;
        }
        case 'f': {
          const x = float(value);
          if (x !== undefined) r.float(key, x);
          break;
        }
        case 'b':
          if (value === 'true' || value === 'false') r.bool(key, value === 'true');
          break;
        case 'm':
          r.measurement(value);
          break;
        default:
      }
    }
  }
});
