// Times as the host wants them: nanoseconds since the Unix epoch, as a bigint (an int64).

import { I64_MAX, I64_MIN, msNs } from './point.js';

const RFC3339 =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:[Zz]|([+-])([0-9]{2}):?([0-9]{2}))$/;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function leap(y) {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** Days from 1970-01-01 to a date (proleptic Gregorian), exact for any year. */
function daysFromCivil(y, m, d) {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * ns since the epoch (a bigint) of an RFC 3339 time (`2024-03-01T12:00:00.5Z`, an offset
 * `+08:00` or `+0800`, a space for `T`), or undefined when it is not one (a time without an
 * offset is not); digits past the ns are cut. Exact: no float on the way.
 */
export function rfc3339Ns(text) {
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  const [year, month, day, h, mi, sec] = m.slice(1, 7).map(Number);
  if (h > 23 || mi > 59 || sec > 60) return undefined;
  if (year < 1 || month < 1 || month > 12 || day < 1) return undefined;
  if (day > (month === 2 && leap(year) ? 29 : DAYS[month - 1])) return undefined;
  let offset = 0;
  if (m[8]) {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 23 || om > 59) return undefined;
    offset = (oh * 3600 + om * 60) * (m[8] === '-' ? -1 : 1);
  }
  const days = daysFromCivil(year, month, day);
  let ns = BigInt(days * 86400 + h * 3600 + mi * 60 + sec - offset) * 1_000_000_000n;
  if (m[7]) ns += BigInt(m[7].slice(0, 9).padEnd(9, '0'));
  return ns >= I64_MIN && ns <= I64_MAX ? ns : undefined;
}

export { msNs };

/** Now, in ns since the epoch (the engine's clock has ms resolution). */
export function nowNs() {
  return msNs(Date.now());
}
