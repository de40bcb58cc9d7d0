// Write Sandkit plugins (collectors, pipelines, inputs) in JavaScript or TypeScript.
//
//     import { collector, Point } from '@sandkit/sdk';
//
//     collector('hello', { interval: '10s' }, () => [new Point('hello').tag('who', 'world').int('count', 1)]);
//
// Build it with `sandkit plugin build` (rolldown and componentize-js underneath) and drop
// hello.wasm into the agent's plugins directory. What your code throws becomes the call's error
// (logged and counted by the host, the instance keeps running); a trap (memory cap, deadline) is
// a crash the host counts and recovers from with a fresh instance.

export { Point, Category, CATEGORIES, FieldKind, categoryOf, kindOf, I64_MIN, I64_MAX, U64_MAX } from './point.js';
export { Config, ConfigError } from './config.js';
export { durationMs, fieldInfo, measurement } from './info.js';
export { HostError, StateError, FileError, HttpError, HTTP_ERROR_KINDS } from './host.js';
export { PluginError, collector, pipeline, input, onInit, config, emit, describeError } from './plugin.js';
export { Batch, Records, Record, RecordError, decode } from './records.js';
export * as log from './log.js';
export * as state from './state.js';
export * as files from './files.js';
export * as http from './http.js';
export * as system from './system.js';
export * as time from './time.js';

export const VERSION = '0.1.1';
