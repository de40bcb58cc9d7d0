// A JavaScript collector that misbehaves as `[config] mode` says, for the containment tests:
//
// - ok: one point per call with a call counter (and a state counter that survives restarts);
// - throw / throwstring / throwobject: throws an Error, a string, a plain object (each a counted
//   error, not a crash: the SDK turns all of them into the WIT error string);
// - loop: never returns (the deadline or fuel stops it: a crash);
// - membomb: allocates until the memory cap (a crash);
// - flood: emits more points than a call may (the host stops it: a crash);
// - recurse: unbounded recursion (SpiderMonkey's InternalError: a counted error);
// - logflood / printflood: 8,000 lines a call through the host log / console.log (the host
//   rate-limits both; the plugin keeps running). Fewer than Python's 20,000: a call of an import
//   costs componentize-js about 165k instructions of fuel, so 20,000 host log calls would exhaust
//   the tests' fuel of 2e9 a call. console.log is one WASI write per line (Python buffers
//   stdout): 20 µs each on an idle agent, but each write waits for a free executor thread, so
//   next to plugins that keep every core busy even 2,000 of them went past a 1.5 s deadline;
// - http: GETs each URL of `[config] urls` and emits one `http` point per URL: `status` and
//   `bytes`, or the error's `kind` and `error`;
// - files: reads each path of `[config] paths` with the host's files import (a path ending in
//   "/" is listed) and emits one `files` point per path: `ok`, `bytes`/`entries` or the `error`;

import { FileError, HttpError, Point, collector, config, emit, files, http, log, state } from '@sandkit/sdk';

const MODES = ['ok', 'throw', 'throwstring', 'throwobject', 'loop', 'membomb', 'flood', 'recurse', 'logflood', 'printflood', 'files', 'http'];
let calls = 0;

function recurse(n) {
  return recurse(n + 1) + 1;
}

function read(path, i) {
  const p = new Point('files').tag('i', i).text('path', path);
  try {
    if (path.endsWith('/')) return p.bool('ok', true).int('entries', files.listDir(path).length);
    return p.int('bytes', files.read(path).length).bool('ok', true);
  } catch (e) {
    if (!(e instanceof FileError)) throw e;
    return new Point('files').tag('i', i).text('path', path).bool('ok', false).text('error', e.message);
  }
}

function get(url, i) {
  const p = new Point('http').tag('i', i).text('url', url);
  try {
    const r = http.get(url, { headers: { 'x-test': 'jsfaults' }, timeoutMs: 2000 });
    log.info(`GET ${url}: ${r.status}`);
    return p.int('status', r.status).int('bytes', r.body.length).text('type', r.header('content-type') ?? '');
  } catch (e) {
    if (!(e instanceof HttpError)) throw e;
    log.warn(`GET ${url}: ${e.kind}`);
    return p.text('kind', e.kind).text('error', e.detail);
  }
}

collector('jsfaults', { interval: '1s', minInterval: '10ms' }, () => {
  calls += 1;
  const mode = config().str('mode', 'ok');
  if (!MODES.includes(mode)) throw new Error(`unknown mode ${JSON.stringify(mode)}`);
  switch (mode) {
    case 'throw':
      throw new Error(`boom on call ${calls}`);
    case 'throwstring':
      throw `a string on call ${calls}`;
    case 'throwobject':
      throw { call: calls, why: 'an object' };
    case 'loop':
      for (;;) {
        /* spin */
      }
    case 'membomb': {
      const hoard = [];
      for (;;) hoard.push(new Uint8Array(1 << 20).fill(1));
    }
    case 'flood':
      for (let i = 0; i < 10_000_000; i++) emit(new Point('flood').int('i', i));
      return undefined;
    case 'recurse':
      return recurse(0);
    case 'logflood':
      for (let i = 0; i < 8_000; i++) log.info(`flood line ${i}\n[agent] a forged line`);
      return undefined;
    case 'printflood':
      for (let i = 0; i < 8_000; i++) console.log(`flood line ${i}`);
      return undefined;
    case 'http':
      return config().strList('urls', []).map(get);
    case 'files':
      return config().strList('paths', []).map(read);
    default: {
      const total = Number(state.getText('total') ?? '0') + 1;
      state.set('total', String(total));
      return [new Point('jsfaults').uint('calls', calls).uint('total', total)];
    }
  }
});
