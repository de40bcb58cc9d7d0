// A small key-value store per plugin that outlives an instance (a restart after a crash keeps
// it), capped in bytes by the host (`[limits] state_bytes`).

import { host } from './host.js';
import { show } from './point.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The bytes stored under `key`, or undefined. */
export function get(key) {
  const v = host().stateGet(key);
  return v === undefined || v === null ? undefined : v;
}

/** The text stored under `key` (UTF-8), or undefined. */
export function getText(key) {
  const v = get(key);
  return v === undefined ? undefined : decoder.decode(v);
}

/** Store `value` (a string is stored as UTF-8). Throws StateError past the plugin's cap. */
export function set(key, value) {
  let bytes;
  if (typeof value === 'string') bytes = encoder.encode(value);
  else if (value instanceof Uint8Array) bytes = value;
  else if (value instanceof ArrayBuffer) bytes = new Uint8Array(value);
  else throw new TypeError(`state.set(${JSON.stringify(key)}): ${show(value)} is not a Uint8Array or a string`);
  host().stateSet(key, bytes);
}

export function del(key) {
  host().stateDelete(key);
}

/** The JSON value stored under `key` by `setJson`, or `dflt`. */
export function getJson(key, dflt = undefined) {
  const v = getText(key);
  return v === undefined ? dflt : JSON.parse(v);
}

/** Store `value` as JSON (bigints are written as numbers' text). */
export function setJson(key, value) {
  set(key, JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

export { del as delete };
