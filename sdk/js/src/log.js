// Logging through the host: lines land in the agent's log tagged with the plugin's name
// (rate-limited per plugin by the host).

import { host } from './host.js';

export const LEVELS = Object.freeze(['trace', 'debug', 'info', 'warn', 'error']);

/** Log `message` at `level`: trace, debug, info, warn or error. */
export function log(level, message) {
  if (!LEVELS.includes(level)) {
    throw new RangeError(`unknown log level ${JSON.stringify(level)}; use trace, debug, info, warn or error`);
  }
  host().log(level, String(message));
}

export const trace = (message) => log('trace', message);
export const debug = (message) => log('debug', message);
export const info = (message) => log('info', message);
export const warn = (message) => log('warn', message);
export const error = (message) => log('error', message);
