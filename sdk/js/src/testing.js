// Run a plugin on plain node, without the agent: a test double of the host and a loader.
//
//     import { TestHost, load } from '@sandkit/sdk/testing';
//
//     const host = new TestHost({ files: { '/proc/loadavg': '0.5 0.2 0.1 1/99 42' } });
//     const plugin = await load(new URL('./app.js', import.meta.url), { host, config: { verbose: true } });
//     const points = plugin.collect();
//
// The double keeps what the plugin logs (`host.logs`), its state (`host.state`) and answers
// `files` and `http` from what it was given. The code under test runs exactly as in the
// component (the same SDK code turns exceptions into errors); only the imports differ. A
// TypeScript module is bundled with rolldown first (the toolchain of `sandkit plugin build`).

import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { install, FileError, HttpError, StateError, HostError } from './host.js';
import { Config } from './config.js';
import { registered, reset } from './plugin.js';
import { Batch, decode } from './records.js';

const encoder = new TextEncoder();

/** The host's imports, in memory. */
export class TestHost {
  /**
   * @param {object} [o]
   * @param {Record<string, string | Uint8Array>} [o.files] path -> content, for files.read/listDir
   * @param {(req: {method: string, url: string, headers: [string, string][], body: Uint8Array, timeoutMs: number}) => {status?: number, headers?: [string, string][], body?: string | Uint8Array}} [o.http]
   * @param {number} [o.stateCap] bytes of state (keys + values + 64 per key)
   * @param {string} [o.hostname]
   */
  constructor({ files = {}, http = undefined, stateCap = 1 << 20, hostname = 'test-host', statfs = undefined } = {}) {
    this.files = new Map(Object.entries(files).map(([k, v]) => [k, typeof v === 'string' ? encoder.encode(v) : v]));
    this.http = http;
    /** @type {Map<string, Uint8Array>} */
    this.state = new Map();
    this.stateCap = stateCap;
    /** @type {[string, string][]} level, message */
    this.logs = [];
    this.emitted = [];
    /** @type {[string, string][]} method, url */
    this.requests = [];
    this._hostname = hostname;
    this._statfs = statfs;
  }

  log(level, message) {
    this.logs.push([level, message]);
  }

  emit(points) {
    for (const p of points) {
      if (p.fields.length === 0) throw new Error(`point ${JSON.stringify(p.measurement)} has no fields (the host refuses it)`);
    }
    this.emitted.push(...points);
  }

  stateGet(key) {
    return this.state.get(key);
  }

  stateSet(key, value) {
    let size = key.length + value.length + 64;
    for (const [k, v] of this.state) if (k !== key) size += k.length + v.length + 64;
    if (size > this.stateCap) throw new StateError(`state would grow to ${size} bytes, above the cap of ${this.stateCap}`);
    this.state.set(key, Uint8Array.from(value));
  }

  stateDelete(key) {
    this.state.delete(key);
  }

  readFile(path) {
    const v = this.files.get(path);
    if (v === undefined) throw new FileError(`files.read-file of ${JSON.stringify(path)}: not given to the TestHost`);
    return v;
  }

  listDir(path) {
    const prefix = path.replace(/\/+$/, '') + '/';
    const names = new Set();
    for (const p of this.files.keys()) if (p.startsWith(prefix)) names.add(p.slice(prefix.length).split('/')[0]);
    if (names.size === 0) throw new FileError(`files.list-dir of ${JSON.stringify(path)}: no file under it given to the TestHost`);
    return [...names].sort();
  }

  httpFetch(method, url, headers, body, timeoutMs) {
    this.requests.push([method, url]);
    if (this.http === undefined) throw new HttpError('refused', `${url}: the TestHost has no http responder`);
    const r = this.http({ method, url, headers, body, timeoutMs });
    const b = r.body ?? new Uint8Array(0);
    return [r.status ?? 200, r.headers ?? [], typeof b === 'string' ? encoder.encode(b) : b];
  }

  statfs(path) {
    if (this._statfs !== undefined) return this._statfs(path);
    if (path !== '/') throw new HostError(`statfs of ${JSON.stringify(path)}: not a mount point of the TestHost`);
    return { total: 100n << 30n, available: 40n << 30n, free: 50n << 30n, inodesTotal: 1_000_000n, inodesFree: 900_000n };
  }

  hostname() {
    return this._hostname;
  }
}

/** A plugin loaded by `load`, with its host double. */
export class Loaded {
  constructor(plugin, host) {
    this.plugin = plugin;
    this.host = host;
  }

  get info() {
    return this.plugin.info;
  }

  _withHost(fn) {
    const old = install(this.host);
    try {
      return fn();
    } finally {
      install(old);
    }
  }

  init(config = {}) {
    this._withHost(() => this.plugin.init(new Config(config)));
  }

  /** One collect; the points it emitted. Throws PluginError as the host would log it. */
  collect() {
    const start = this.host.emitted.length;
    this._withHost(() => this.plugin.collect());
    return this.host.emitted.slice(start);
  }

  /** One body (a string is sent as UTF-8); the points it emitted. */
  handle(body, contentType = '') {
    const bytes = typeof body === 'string' ? encoder.encode(body) : body;
    const start = this.host.emitted.length;
    this._withHost(() => this.plugin.handle(contentType, bytes));
    return this.host.emitted.slice(start);
  }

  /** The raw output of one batch (the record encoding), with the batch. */
  processBytes(lines, source = 'test') {
    const batch = Batch.ofLines(lines, source);
    return [batch, this._withHost(() => this.plugin.process(batch))];
  }

  /**
   * The records of one batch, decoded and checked as the host reads them: objects with line,
   * time, keepMessage and items `[kind, key, value]`.
   */
  process(lines, source = 'test') {
    const [batch, out] = this.processBytes(lines, source);
    return decode(out, batch);
  }
}

let loads = 0;

function callerDir() {
  const stack = new Error().stack ?? '';
  for (const line of stack.split('\n').slice(1)) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):\d+:\d+\)?$/.exec(line.trim());
    if (m === null) continue;
    const file = m[1].startsWith('file://') ? fileURLToPath(m[1]) : m[1];
    if (file !== fileURLToPath(import.meta.url)) return dirname(file);
  }
  return process.cwd();
}

async function rolldown() {
  const tried = [];
  try {
    return await import('rolldown');
  } catch {
    tried.push('the node_modules above the SDK');
  }
  const dirs = [process.env.SANDKIT_JS_TOOLCHAIN, join(homedir(), '.cache/sandkit/js')].filter(Boolean);
  for (const d of dirs) {
    const entry = join(d, 'node_modules/rolldown/dist/index.mjs');
    if (existsSync(entry)) return import(pathToFileURL(entry).href);
    tried.push(d);
  }
  throw new Error(`a TypeScript plugin is bundled with rolldown to test it, which is not installed (looked in ${tried.join(', ')}): npm install in the project, or set SANDKIT_JS_TOOLCHAIN`);
}

// A TypeScript module as one JavaScript file whose @sandkit/sdk is this SDK (the same module
// instance as this file's, so the plugin registers where `load` looks).
async function bundleTs(file) {
  const { rolldown: bundler } = await rolldown();
  const sdk = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'index.js')).href;
  const bundle = await bundler({
    input: file,
    platform: 'node',
    external: [/^@sandkit\/sdk$/, /^node:/],
    tsconfig: false,
    logLevel: 'warn',
  });
  const { output } = await bundle.generate({ format: 'esm' });
  await bundle.close();
  const code = output[0].code.replace(/(from\s*|import\s*)(["'])@sandkit\/sdk\2/g, `$1"${sdk}"`);
  const dir = mkdtempSync(join(tmpdir(), 'sandkit-test-'));
  const out = join(dir, file.split(/[/\\]/).pop().replace(/\.[mc]?ts$/, '.mjs'));
  writeFileSync(out, code);
  return { url: pathToFileURL(out).href, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Import the plugin module at `path` (a URL, an absolute path, or a path relative to the
 * calling test file or the current directory), then call init with `config` unless `init` is
 * false. Each load evaluates the module afresh.
 *
 * @returns {Promise<Loaded>}
 */
export async function load(path, { host = new TestHost(), config = {}, init = true } = {}) {
  reset();
  let file;
  if (path instanceof URL || /^file:/.test(String(path))) file = fileURLToPath(path);
  else if (isAbsolute(path)) file = path;
  else {
    file = resolve(callerDir(), path);
    if (!existsSync(file)) file = resolve(path);
  }
  if (!existsSync(file)) throw new Error(`no plugin module at ${file}`);
  loads += 1;
  if (/\.[mc]?ts$/.test(file)) {
    const { url, cleanup } = await bundleTs(file);
    try {
      await import(`${url}?load=${loads}`);
    } finally {
      cleanup();
    }
  } else {
    await import(`${pathToFileURL(file).href}?load=${loads}`);
  }
  const loaded = new Loaded(registered(), host);
  if (init) loaded.init(config);
  return loaded;
}

export { Batch, decode };
