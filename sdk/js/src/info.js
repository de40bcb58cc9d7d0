// What a plugin says about itself (`describe`): name, version, intervals, measurements.

import { categoryOf, kindOf, show } from './point.js';

const UNITS_MS = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /\s*(\d+(?:\.\d+)?)\s*(ms|min|s|m|h|d)\s*/y;

/** Milliseconds of "10s", "250ms", "1m 30s", "1h" or a number of seconds. */
export function durationMs(value, what = 'interval') {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`${what}: ${value} is not a duration`);
    if (value < 0) throw new RangeError(`${what}: ${value} is negative`);
    return Math.round(value * 1000);
  }
  if (typeof value !== 'string') throw new TypeError(`${what}: ${show(value)} is not a duration`);
  const s = value.trim();
  if (s === '') throw new RangeError(`${what}: empty duration`);
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const m = PART.exec(s);
    if (m === null) throw new RangeError(`${what}: ${show(value)} is not a duration; write e.g. "10s" or "250ms"`);
    total += Number(m[1]) * UNITS_MS[m[2]];
  }
  return Math.round(total);
}

/** A field a measurement carries, for `describe`. */
export function fieldInfo(name, kind = 'float', unit = '', description = '') {
  return { name, kind: kindOf(kind), unit, description };
}

function toFieldInfo(f) {
  if (Array.isArray(f)) return fieldInfo(...f);
  if (f && typeof f === 'object') return fieldInfo(f.name, f.kind ?? 'float', f.unit ?? '', f.description ?? '');
  throw new TypeError(`a field of a measurement is ${show(f)}, not {name, kind, unit, description}`);
}

/**
 * A measurement the plugin emits, for `describe`: `{name, description, category, tags, fields}`
 * with `tags` an object of name -> description (or [name, description] pairs) and `fields`
 * a list of `{name, kind, unit, description}` (or [name, kind, unit, description]).
 */
export function measurement(m) {
  if (!m || typeof m.name !== 'string' || m.name === '') throw new TypeError(`a measurement needs a name, got ${show(m?.name)}`);
  const tags = Array.isArray(m.tags) ? m.tags.map(([n, d]) => [n, d ?? '']) : Object.entries(m.tags ?? {});
  return {
    name: m.name,
    description: m.description ?? '',
    category: categoryOf(m.category ?? 'metric'),
    tags: tags.map(([name, description]) => ({ name, description: String(description) })),
    fields: (m.fields ?? []).map(toFieldInfo),
  };
}

/** The plugin's info from its registration options. */
export function pluginInfo(name, opts = {}) {
  if (typeof name !== 'string' || name === '') throw new TypeError(`a plugin needs a name, got ${show(name)}`);
  const info = {
    name,
    version: opts.version ?? '0.1.0',
    description: opts.description ?? '',
    defaultIntervalMs: durationMs(opts.interval ?? '10s', 'interval'),
    minIntervalMs: durationMs(opts.minInterval ?? '1s', 'minInterval'),
    maxIntervalMs: durationMs(opts.maxInterval ?? '1h', 'maxInterval'),
    measurements: (opts.measurements ?? []).map(measurement),
  };
  if (!(info.minIntervalMs <= info.defaultIntervalMs && info.defaultIntervalMs <= info.maxIntervalMs)) {
    throw new RangeError(
      `plugin ${show(name)}: interval ${info.defaultIntervalMs} ms is not within [${info.minIntervalMs}, ${info.maxIntervalMs}] ms`,
    );
  }
  return info;
}
