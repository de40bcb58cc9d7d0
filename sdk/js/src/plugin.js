// Declaring a plugin (`collector`, `pipeline`, `input`) and running it for the host.
//
// One component holds one plugin. The declaration runs when the module is evaluated, which for
// a component is at build time (componentize-js snapshots the engine after evaluating the
// module): keep module-level code to declarations; read files, the network or the clock in
// init/collect.

import { host } from './host.js';
import { Config } from './config.js';
import { pluginInfo } from './info.js';
import { Point, pointsOf, show } from './point.js';
import { Records } from './records.js';

/** Points are handed to the host in chunks of this many (as the Rust SDK's Emitter does). */
export const CHUNK = 256;

/** What a plugin's code threw, as the message the host logs and counts. */
export class PluginError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PluginError';
  }
}

let PLUGIN = null;
let CONFIG = new Config();
const PENDING = [];

/** The plugin's `[config]` table (set before init runs). */
export function config() {
  return CONFIG;
}

/** Send points from anywhere in collect/handle (besides returning them). */
export function emit(...points) {
  for (const p of points) {
    if (!(p instanceof Point)) throw new TypeError(`emit() takes Points, got ${show(p)}`);
    PENDING.push(p);
    if (PENDING.length >= CHUNK) flush();
  }
}

function flush() {
  if (PENDING.length > 0) {
    const chunk = PENDING.splice(0, PENDING.length);
    host().emit(chunk);
  }
}

// Where an error was thrown, from its stack: the innermost frame of the plugin's own code (not
// the SDK's). Inside a component every frame is in the one bundled module; the build appends a
// table of its lines (`globalThis.__sandkitLines`) that maps them back to the sources.
const SDK_FILE = /(^|[/\\])(sdk[/\\]js[/\\]src|\.sandkit[/\\]js[/\\]sdk[/\\]src|@sandkit[/\\]sdk[/\\]src)[/\\]/;
const FRAME_SM = /^(.*?)@(.*?):(\d+):(\d+)$/; // SpiderMonkey: fn@file:line:col
const FRAME_V8 = /^\s*at (?:(.*?) \()?(.*?):(\d+):(\d+)\)?$/; // V8: at fn (file:line:col)

function original(file, line) {
  const map = globalThis.__sandkitLines;
  if (map === undefined || !file.endsWith(map.bundle)) return [file, line];
  const runs = map.runs;
  let lo = 0;
  let hi = runs.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (runs[mid][0] <= line) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found < 0) return [file, line];
  const [gen, fileIdx, orig] = runs[found];
  return [map.files[fileIdx], orig + (line - gen)];
}

function where(stack) {
  if (typeof stack !== 'string') return '';
  for (const raw of stack.split('\n')) {
    const m = FRAME_SM.exec(raw) ?? FRAME_V8.exec(raw);
    if (m === null) continue;
    let [file, line] = original(m[2].replace(/^file:\/\//, ''), Number(m[3]));
    if (SDK_FILE.test(file) || file.startsWith('node:') || file.includes('initializer.js')) continue;
    const name = (m[1] ?? '').replace(/^async\*/, '').split('/').pop();
    const base = file.split(/[/\\]/).pop().replace(/\?.*$/, '');
    return ` (${base}:${line}${name && name !== '<anonymous>' ? ` in ${name}` : ''})`;
  }
  return '';
}

/**
 * `Name: message (file.js:line in function)`, naming the innermost frame of the plugin's own
 * code; a thrown non-Error is described as what it is.
 */
export function describeError(e) {
  if (e instanceof Error || (e !== null && typeof e === 'object' && typeof e.message === 'string' && 'stack' in e)) {
    const name = e.name || e.constructor?.name || 'Error';
    const msg = e.message ? `${name}: ${e.message}` : name;
    return msg + where(e.stack);
  }
  if (typeof e === 'string') return e;
  let text;
  try {
    text = typeof e === 'bigint' ? `${e}n` : JSON.stringify(e);
  } catch {
    text = undefined;
  }
  if (text === undefined) text = String(e);
  if (text.length > 200) text = `${text.slice(0, 200)}...`;
  return `threw ${e === null ? 'null' : typeof e === 'object' ? `a non-Error ${e.constructor?.name ?? 'object'}` : `a ${typeof e}`}: ${text}`;
}

function isClass(target) {
  return typeof target === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(target));
}

const NEEDS = { collector: 'collect', input: 'handle' };

/** A registered plugin: its kind, what it says about itself and the author's code. */
export class Plugin {
  constructor(kind, target, info) {
    this.kind = kind;
    this.target = target;
    this.info = info;
    this.form = isClass(target) ? 'class' : typeof target === 'function' ? 'function' : 'object';
    this.instance = null;
    this.initHook = undefined;
  }

  // Each call turns what the author's code throws into a PluginError (a counted error for the
  // host). An engine out of memory cannot be caught: it traps, and the host counts a crash.
  _guard(what, fn) {
    try {
      return fn();
    } catch (e) {
      if (e instanceof PluginError) throw e;
      throw new PluginError(`${what}: ${describeError(e)}`);
    }
  }

  init(cfg) {
    CONFIG = cfg;
    if (this.form === 'class') {
      const Cls = this.target;
      this.instance = this._guard('init', () => new Cls(cfg));
    } else if (this.form === 'object') {
      this.instance = this.target;
      if (typeof this.target.init === 'function') this._guard('init', () => this.target.init(cfg));
    } else {
      this.instance = null;
      if (this.initHook !== undefined) this._guard('init', () => this.initHook(cfg));
    }
  }

  _method(name) {
    if (this.form === 'function') return this.target;
    if (this.instance === null) throw new PluginError(`${name} before init`);
    const m = this.instance[name];
    if (typeof m !== 'function') throw new PluginError(`the ${this.kind} has no ${name} method`);
    return m.bind(this.instance);
  }

  collect() {
    const fn = this._method('collect');
    PENDING.length = 0;
    try {
      this._guard('collect', () => {
        for (const p of pointsOf(fn(CONFIG))) emit(p);
        flush();
      });
    } finally {
      PENDING.length = 0;
    }
  }

  handle(contentType, body) {
    const fn = this._method('handle');
    PENDING.length = 0;
    try {
      this._guard('handle', () => {
        const result = fn.length >= 2 ? fn(contentType, body) : fn(body, contentType);
        for (const p of pointsOf(result)) emit(p);
        flush();
      });
    } finally {
      PENDING.length = 0;
    }
  }

  /** The output of one batch, in the record encoding. */
  process(batch) {
    const out = new Records(batch);
    if (this.form !== 'function') {
      if (this.instance === null) throw new PluginError('process before init');
      if (typeof this.instance.process === 'function') {
        this._guard('process', () => this.instance.process(batch, out));
        return out.toBytes();
      }
    }
    const fn = this._method('processLine');
    const lines = batch.lines;
    for (let i = 0; i < lines.length; i++) {
      out.setLine(i);
      try {
        fn(lines[i], out);
      } catch (e) {
        throw new PluginError(`process: line ${i} of the batch: ${describeError(e)}`);
      }
    }
    return out.toBytes();
  }
}

function register(kind, name, opts, target) {
  if (target === undefined && typeof opts !== 'undefined' && (typeof opts === 'function' || hasEntry(kind, opts))) {
    target = opts;
    opts = {};
  }
  if (typeof name !== 'string' || name === '') throw new TypeError(`${kind}(): the first argument is the plugin's name, got ${show(name)}`);
  if (target === undefined || target === null) {
    throw new TypeError(`${kind} ${show(name)}: give the code: a function, a class or an object with its methods`);
  }
  const info = pluginInfo(name, opts ?? {});
  if (PLUGIN !== null && PLUGIN.target !== target) {
    throw new Error(
      `this component already holds the ${PLUGIN.kind} ${show(PLUGIN.info.name)}; one plugin per component (found ${kind} ${show(name)} too)`,
    );
  }
  if (typeof target === 'function' && !isClass(target)) {
    // a function: the call itself (collect, handle, or a pipeline's processLine)
  } else {
    const proto = isClass(target) ? target.prototype : target;
    if (typeof target !== 'function' && typeof target !== 'object') {
      throw new TypeError(`${kind} ${show(name)}: ${show(target)} is not a function, a class or an object`);
    }
    if (kind === 'pipeline') {
      if (typeof proto.processLine !== 'function' && typeof proto.process !== 'function') {
        throw new TypeError(`pipeline ${show(name)}: the ${isClass(target) ? 'class' : 'object'} needs processLine or process`);
      }
    } else if (typeof proto[NEEDS[kind]] !== 'function') {
      throw new TypeError(`${kind} ${show(name)}: the ${isClass(target) ? 'class' : 'object'} needs a ${NEEDS[kind]} method`);
    }
  }
  PLUGIN = new Plugin(kind, target, info);
  return target;
}

function hasEntry(kind, o) {
  if (o === null || typeof o !== 'object') return false;
  return kind === 'pipeline' ? typeof o.processLine === 'function' || typeof o.process === 'function' : typeof o[NEEDS[kind]] === 'function';
}

/**
 * Declare a scheduled collector: `collector(name, [options], code)` where code is a function
 * `collect(config)` that returns Points (an array, an iterable, one Point or nothing), a class
 * with `constructor(config)` and `collect()`, or an object with `collect()` (and `init(config)`).
 * Options: version, description, interval ("10s"), minInterval ("1s"), maxInterval ("1h"),
 * measurements.
 */
export function collector(name, opts, target) {
  return register('collector', name, opts, target);
}

/**
 * Declare a log pipeline: a function `processLine(line, out)` that writes the records of one
 * line with `out.record()`, or a class/object with `processLine(line, out)` (or
 * `process(batch, out)` for a whole batch).
 */
export function pipeline(name, opts, target) {
  return register('pipeline', name, opts, target);
}

/**
 * Declare a passive input: a function `handle(body)` or `handle(contentType, body)` (body a
 * Uint8Array) that returns Points, or a class/object with `handle`.
 */
export function input(name, opts, target) {
  return register('input', name, opts, target);
}

/** For function plugins: run `fn(config)` when the plugin starts (after its declaration). */
export function onInit(fn) {
  if (PLUGIN === null || PLUGIN.form !== 'function') {
    throw new Error('onInit() follows the declaration of a function plugin');
  }
  PLUGIN.initHook = fn;
  return fn;
}

/** The plugin of this component. */
export function registered() {
  if (PLUGIN === null) {
    throw new Error('no plugin: declare one with collector(), pipeline() or input() of @sandkit/sdk');
  }
  return PLUGIN;
}

/** Forget the registered plugin (tests load several in one process). */
export function reset() {
  PLUGIN = null;
  CONFIG = new Config();
  PENDING.length = 0;
}
