// The plugin's `[config]` table from its conf.d file, with typed getters and clear errors.

import { show } from './point.js';

/** A `[config]` value is missing or has the wrong type; the message names the key. */
export class ConfigError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * A read-only view of the `[config]` table. `get(key)` gives raw values; the typed getters
 * check the type and name the key when it is wrong. Without a default, a missing key is an
 * error.
 */
export class Config {
  constructor(values = {}, prefix = '') {
    this._values = { ...values };
    this._prefix = prefix;
  }

  static fromJson(text) {
    const t = (text ?? '').trim() || '{}';
    let value;
    try {
      value = JSON.parse(t);
    } catch (e) {
      throw new ConfigError(`the config is not JSON: ${e.message}`);
    }
    if (value === null) value = {};
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new ConfigError(`the config is ${Array.isArray(value) ? 'a list' : `a ${typeof value}`}, not a table`);
    }
    return new Config(value);
  }

  _name(key) {
    return this._prefix + key;
  }

  has(key) {
    return Object.hasOwn(this._values, key);
  }

  /** The raw value of `key`, or `dflt`. */
  get(key, dflt = undefined) {
    return this.has(key) ? this._values[key] : dflt;
  }

  keys() {
    return Object.keys(this._values);
  }

  toObject() {
    return { ...this._values };
  }

  /** Refuse keys the plugin does not know (a typo in conf.d is an error, not a no-op). */
  checkKeys(allowed) {
    for (const key of Object.keys(this._values)) {
      if (!allowed.includes(key)) {
        throw new ConfigError(
          `[config] has an unknown key ${show(this._name(key))} (known: ${allowed.join(', ') || 'none'})`,
        );
      }
    }
  }

  // `dflt` is the rest of the getter's arguments: a default given as `undefined` counts.
  _typed(key, dflt, ok, what) {
    if (!this.has(key)) {
      if (dflt.length === 0) throw new ConfigError(`[config] ${this._name(key)} is missing (${what} expected)`);
      return { value: dflt[0], given: false };
    }
    const value = this._values[key];
    if (!ok(value)) throw new ConfigError(`[config] ${this._name(key)} = ${JSON.stringify(value)} is not ${what}`);
    return { value, given: true };
  }

  str(key, ...dflt) {
    return this._typed(key, dflt, (v) => typeof v === 'string', 'a string').value;
  }

  /** An integer (TOML integers arrive as JSON numbers). */
  int(key, ...dflt) {
    return this._typed(key, dflt, (v) => Number.isInteger(v), 'an integer').value;
  }

  float(key, ...dflt) {
    return this._typed(key, dflt, (v) => typeof v === 'number', 'a number').value;
  }

  bool(key, ...dflt) {
    return this._typed(key, dflt, (v) => typeof v === 'boolean', 'true or false').value;
  }

  strList(key, ...dflt) {
    const { value, given } = this._typed(key, dflt, Array.isArray, 'a list of strings');
    if (!given) return value;
    value.forEach((item, i) => {
      if (typeof item !== 'string') {
        throw new ConfigError(`[config] ${this._name(key)}[${i}] = ${JSON.stringify(item)} is not a string`);
      }
    });
    return [...value];
  }

  /** A sub-table as a Config (its errors name `key.sub`). */
  table(key, ...dflt) {
    const { value, given } = this._typed(
      key,
      dflt,
      (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
      'a table',
    );
    return given ? new Config(value, `${this._name(key)}.`) : value;
  }
}
