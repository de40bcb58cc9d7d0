// Outgoing HTTP for collectors, to `host:port` targets on the plugin's `[sandbox] http`
// allowlist. Redirects are not followed; the body is capped and the time bounded by the host.

import { host } from './host.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Response {
  constructor(status, headers, body) {
    this.status = status;
    /** Names in lower case, in the order received. */
    this.headers = headers;
    /** @type {Uint8Array} */
    this.body = body;
  }

  /** The first value of header `name`, or undefined. */
  header(name) {
    const n = name.toLowerCase();
    const h = this.headers.find(([k]) => k === n);
    return h === undefined ? undefined : h[1];
  }

  get text() {
    return decoder.decode(this.body);
  }

  json() {
    return JSON.parse(this.text);
  }

  get ok() {
    return this.status >= 200 && this.status < 300;
  }
}

function headerList(headers) {
  if (headers === undefined || headers === null) return [];
  const items = Array.isArray(headers) ? headers : headers instanceof Map ? [...headers] : Object.entries(headers);
  return items.map(([k, v]) => [String(k), String(v)]);
}

function bodyBytes(body) {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === 'string') return encoder.encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  throw new TypeError('an HTTP body is a string or a Uint8Array');
}

/**
 * Send one request; throws HttpError (kind refused, invalid-request, timeout, too-large,
 * failed). A 4xx or 5xx is a Response, not an error.
 */
export function fetch(method, url, { headers, body, timeoutMs = 0 } = {}) {
  const [status, hdrs, data] = host().httpFetch(method, url, headerList(headers), bodyBytes(body), timeoutMs);
  return new Response(status, hdrs, data);
}

export function get(url, { headers, timeoutMs = 0 } = {}) {
  return fetch('GET', url, { headers, timeoutMs });
}

/** POST a body; a plain object is sent as JSON. */
export function post(url, body, { headers, timeoutMs = 0 } = {}) {
  if (body !== null && typeof body === 'object' && !(body instanceof Uint8Array) && !(body instanceof ArrayBuffer)) {
    return fetch('POST', url, {
      headers: [['content-type', 'application/json'], ...headerList(headers)],
      body: JSON.stringify(body),
      timeoutMs,
    });
  }
  return fetch('POST', url, { headers, body, timeoutMs });
}
