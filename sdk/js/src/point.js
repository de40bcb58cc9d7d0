// Points: one measurement at one instant, with tags and typed fields.
//
// JavaScript has one number type, so kinds are inferred from the value's JS type: a number is a
// float, a bigint an int (a uint above the int64 range), a boolean a bool, a string text. A count
// in a number is written with the explicit setter `.int(key, n)` (or `.uint`), which takes a
// number that is an integer or a bigint and checks its range.

export const I64_MIN = -(1n << 63n);
export const I64_MAX = (1n << 63n) - 1n;
export const U64_MAX = (1n << 64n) - 1n;

/** `Category.METRIC` ... as the strings the contract uses. */
export const Category = Object.freeze({
  METRIC: 'metric',
  LOGGING: 'logging',
  OBJECT: 'object',
  CUSTOM_OBJECT: 'custom-object',
  KEYEVENT: 'keyevent',
  NETWORK: 'network',
  TRACING: 'tracing',
  RUM: 'rum',
  SECURITY: 'security',
  PROFILING: 'profiling',
});

/** The categories of the contract, as WIT spells them. */
export const CATEGORIES = Object.freeze(Object.values(Category));

/** A category from its name ("metric", "custom-object", "custom_object", any case). */
export function categoryOf(value) {
  if (typeof value === 'string') {
    if (CATEGORIES.includes(value)) return value;
    const key = value.trim().toLowerCase().replace(/_/g, '-');
    if (CATEGORIES.includes(key)) return key;
  }
  throw new RangeError(`unknown category ${show(value)}; use one of ${CATEGORIES.join(', ')}`);
}

/** The kinds of a field value. */
export const FieldKind = Object.freeze({
  INT: 'int',
  UINT: 'uint',
  FLOAT: 'float',
  BOOL: 'bool',
  TEXT: 'text',
});

const KIND_NAMES = {
  int: 'int',
  uint: 'uint',
  float: 'float',
  bool: 'bool',
  text: 'text',
  boolean: 'bool',
  string: 'text',
  str: 'text',
  integer: 'int',
  number: 'float',
};

/** A field kind from its name (int, uint, float, bool, text, and boolean, string, integer). */
export function kindOf(value) {
  const k = typeof value === 'string' ? (KIND_NAMES[value] ?? KIND_NAMES[value.trim().toLowerCase()]) : undefined;
  if (k === undefined) {
    throw new RangeError(`unknown field kind ${show(value)}; use int, uint, float, bool or text`);
  }
  return k;
}

/** A value for an error message. */
export function show(v) {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'an array';
  return `a ${v?.constructor?.name ?? typeof v}`;
}

/** A whole number (a number that is an integer, or a bigint) as a bigint, else undefined. */
export function wholeOf(value) {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  return undefined;
}

/**
 * Check `value` against `kind` (or infer the kind) and return `[kind, value]`: ints and uints
 * as bigints, floats as numbers. Errors name the field.
 */
export function typedValue(key, value, kind) {
  if (kind === undefined || kind === null) {
    switch (typeof value) {
      case 'boolean':
        return ['bool', value];
      case 'number':
        return ['float', value];
      case 'string':
        return ['text', value];
      case 'bigint':
        if (value > I64_MAX && value <= U64_MAX) return ['uint', value];
        kind = 'int';
        break;
      default:
        throw new TypeError(
          `field ${show(key)}: ${show(value)} is not a field value (use a number, bigint, boolean or string)`,
        );
    }
  }
  switch (kind) {
    case 'int': {
      const v = wholeOf(value);
      if (v === undefined) throw new TypeError(`field ${show(key)}: ${show(value)} is not an integer`);
      if (v < I64_MIN || v > I64_MAX) throw new RangeError(`field ${show(key)}: ${v} does not fit a 64-bit signed int`);
      return ['int', v];
    }
    case 'uint': {
      const v = wholeOf(value);
      if (v === undefined) throw new TypeError(`field ${show(key)}: ${show(value)} is not an integer`);
      if (v < 0n || v > U64_MAX) throw new RangeError(`field ${show(key)}: ${v} does not fit a 64-bit unsigned int`);
      return ['uint', v];
    }
    case 'float':
      if (typeof value === 'number') return ['float', value];
      if (typeof value === 'bigint') return ['float', Number(value)];
      throw new TypeError(`field ${show(key)}: ${show(value)} is not a number`);
    case 'bool':
      if (typeof value !== 'boolean') throw new TypeError(`field ${show(key)}: ${show(value)} is not a boolean`);
      return ['bool', value];
    case 'text':
      if (typeof value !== 'string') throw new TypeError(`field ${show(key)}: ${show(value)} is not a string`);
      return ['text', value];
    default:
      return typedValue(key, value, kindOf(kind));
  }
}

/** Nanoseconds (a bigint) of a time in seconds, exact for the float given. */
export function secondsNs(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) {
    throw new TypeError(`${show(seconds)} is not a time in seconds`);
  }
  const whole = Math.floor(seconds);
  return BigInt(whole) * 1_000_000_000n + BigInt(Math.round((seconds - whole) * 1e9));
}

/** Nanoseconds (a bigint) of a time in ms, as Date.now() gives it (exact for whole ms). */
export function msNs(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new TypeError(`${show(ms)} is not a time in ms`);
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}

/** A timestamp in ns (a bigint, or a number that is an integer) checked to fit an int64. */
export function nsOf(ns, what) {
  const v = wholeOf(ns);
  if (v === undefined || v < I64_MIN || v > I64_MAX) throw new RangeError(`${what}: ${show(ns)} is not a timestamp in ns`);
  return v;
}

/**
 * One measurement at one instant. Build it with chained calls:
 *
 *     new Point('cpu').tag('cpu', 'cpu0').field('usage', 12.5).uint('ticks', 42)
 *
 * Tags may come in any order (the host sorts them); a point needs at least one field. The
 * timestamp defaults to the host's clock when the point is emitted.
 */
export class Point {
  constructor(measurement, category = 'metric') {
    if (typeof measurement !== 'string' || measurement === '') {
      throw new TypeError(`a point needs a measurement name, got ${show(measurement)}`);
    }
    this.measurement = measurement;
    /** @type {[string, string][]} */
    this.tags = [];
    /** @type {[string, string, any][]} key, kind, value */
    this.fields = [];
    /** @type {bigint | undefined} */
    this.timestampNs = undefined;
    this.category = categoryOf(category);
  }

  /** Add a tag; the value is turned into text with String(). */
  tag(key, value) {
    if (typeof key !== 'string' || key === '') {
      throw new TypeError(`point ${show(this.measurement)}: a tag needs a key, got ${show(key)}`);
    }
    this.tags.push([key, typeof value === 'string' ? value : String(value)]);
    return this;
  }

  /** Add every entry of an object (or a Map) as a tag. */
  tagsFrom(tags) {
    for (const [k, v] of entries(tags)) this.tag(k, v);
    return this;
  }

  /** Add a field; its kind is inferred from the value unless given. */
  field(key, value, kind) {
    if (typeof key !== 'string' || key === '') {
      throw new TypeError(`point ${show(this.measurement)}: a field needs a key, got ${show(key)}`);
    }
    const [k, v] = typedValue(key, value, kind);
    this.fields.push([key, k, v]);
    return this;
  }

  /** Add every entry of an object (or a Map) as a field (kinds inferred). */
  fieldsFrom(fields) {
    for (const [k, v] of entries(fields)) this.field(k, v);
    return this;
  }

  int(key, value) {
    return this.field(key, value, 'int');
  }

  uint(key, value) {
    return this.field(key, value, 'uint');
  }

  float(key, value) {
    return this.field(key, value, 'float');
  }

  bool(key, value) {
    return this.field(key, value, 'bool');
  }

  text(key, value) {
    return this.field(key, value, 'text');
  }

  /** The timestamp in ns since the Unix epoch (a bigint, or an integer number). */
  timeNs(ns) {
    this.timestampNs = nsOf(ns, `point ${show(this.measurement)}`);
    return this;
  }

  /** The timestamp in ms since the Unix epoch, as Date.now() gives it. */
  timeMs(ms) {
    return this.timeNs(msNs(ms));
  }

  /** The timestamp in seconds since the Unix epoch (a float). */
  time(seconds) {
    return this.timeNs(secondsNs(seconds));
  }

  withCategory(category) {
    this.category = categoryOf(category);
    return this;
  }

  /** The value of field `key` (the last one added), or undefined. */
  fieldValue(key) {
    for (let i = this.fields.length - 1; i >= 0; i--) if (this.fields[i][0] === key) return this.fields[i][2];
    return undefined;
  }

  /** The kind of field `key` (the last one added), or undefined. */
  fieldKind(key) {
    for (let i = this.fields.length - 1; i >= 0; i--) if (this.fields[i][0] === key) return this.fields[i][1];
    return undefined;
  }

  tagValue(key) {
    for (let i = this.tags.length - 1; i >= 0; i--) if (this.tags[i][0] === key) return this.tags[i][1];
    return undefined;
  }

  toString() {
    const tags = this.tags.map(([k, v]) => `,${k}=${v}`).join('');
    const fields = this.fields.map(([k, kind, v]) => `${k}=${kind === 'text' ? JSON.stringify(v) : v}${kind === 'int' ? 'i' : kind === 'uint' ? 'u' : ''}`);
    return `Point(${this.measurement}${tags} ${fields.join(',')})`;
  }
}

function entries(obj) {
  if (obj instanceof Map) return obj.entries();
  return Object.entries(obj ?? {});
}

/** What a collect/handle function returned, as an iterable of points. */
export function pointsOf(result) {
  if (result === undefined || result === null) return [];
  if (result instanceof Point) return [result];
  if (typeof result[Symbol.iterator] === 'function') return result;
  throw new TypeError(`expected Points (or an array, an iterable, nothing), got ${show(result)}`);
}
