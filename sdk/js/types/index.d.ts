// Types of @sandkit/sdk: every type of the contract (wit/plugin.wit, sandkit:plugin@0.1.1) as
// the SDK presents it.

/** An object of string keys (the SDK's `Record` class is a pipeline record). */
type Dict<K extends string, V> = { [P in K]: V };

/** Where a point goes on the gateway: `/v1/write/{category}` (WIT enum `category`). */
export type Category =
  | 'metric'
  | 'logging'
  | 'object'
  | 'custom-object'
  | 'keyevent'
  | 'network'
  | 'tracing'
  | 'rum'
  | 'security'
  | 'profiling';
export declare const Category: {
  readonly METRIC: 'metric';
  readonly LOGGING: 'logging';
  readonly OBJECT: 'object';
  readonly CUSTOM_OBJECT: 'custom-object';
  readonly KEYEVENT: 'keyevent';
  readonly NETWORK: 'network';
  readonly TRACING: 'tracing';
  readonly RUM: 'rum';
  readonly SECURITY: 'security';
  readonly PROFILING: 'profiling';
};
export declare const CATEGORIES: readonly Category[];
/** A category from its name ("metric", "custom-object", "custom_object", any case). */
export declare function categoryOf(value: string): Category;

/** The kind of a field value (WIT `field-kind`; `bool` is WIT's `boolean`). */
export type FieldKind = 'int' | 'uint' | 'float' | 'bool' | 'text';
export declare const FieldKind: {
  readonly INT: 'int';
  readonly UINT: 'uint';
  readonly FLOAT: 'float';
  readonly BOOL: 'bool';
  readonly TEXT: 'text';
};
/** Also accepted where a kind is given: boolean, string, str, integer, number. */
export type FieldKindName = FieldKind | 'boolean' | 'string' | 'str' | 'integer' | 'number';
export declare function kindOf(value: string): FieldKind;

export declare const I64_MIN: bigint;
export declare const I64_MAX: bigint;
export declare const U64_MAX: bigint;

/** A whole number: a bigint, or a number that is an integer. */
export type Whole = bigint | number;
/** What a field may hold; a number is a float unless the kind says int/uint. */
export type FieldValue = number | bigint | boolean | string;

/** One measurement at one instant (WIT `point`). */
export declare class Point {
  constructor(measurement: string, category?: Category | string);
  measurement: string;
  tags: [key: string, value: string][];
  /** Ints and uints are bigints, floats numbers. */
  fields: [key: string, kind: FieldKind, value: number | bigint | boolean | string][];
  /** ns since the Unix epoch; undefined means "now" (the host's clock at emit time). */
  timestampNs: bigint | undefined;
  category: Category;
  /** Add a tag; the value is turned into text with String(). */
  tag(key: string, value: unknown): this;
  tagsFrom(tags: Dict<string, unknown> | Map<string, unknown>): this;
  /**
   * Add a field; its kind is inferred unless given: number -> float, bigint -> int (uint above
   * the int64 range), boolean -> bool, string -> text. Errors name the field.
   */
  field(key: string, value: FieldValue, kind?: FieldKindName): this;
  fieldsFrom(fields: Dict<string, FieldValue> | Map<string, FieldValue>): this;
  /** A 64-bit signed int field (a bigint or an integer number; out of range throws RangeError). */
  int(key: string, value: Whole): this;
  /** A 64-bit unsigned int field. */
  uint(key: string, value: Whole): this;
  float(key: string, value: number | bigint): this;
  bool(key: string, value: boolean): this;
  text(key: string, value: string): this;
  timeNs(ns: Whole): this;
  /** ms since the epoch, as Date.now() gives it. */
  timeMs(ms: number): this;
  /** seconds since the epoch (a float). */
  time(seconds: number): this;
  withCategory(category: Category | string): this;
  fieldValue(key: string): number | bigint | boolean | string | undefined;
  fieldKind(key: string): FieldKind | undefined;
  tagValue(key: string): string | undefined;
  toString(): string;
}

/** A `[config]` value is missing or has the wrong type; the message names the key. */
export declare class ConfigError extends Error {}

/** The plugin's `[config]` table with typed getters (without a default a missing key throws). */
export declare class Config {
  constructor(values?: Dict<string, unknown>, prefix?: string);
  static fromJson(text: string): Config;
  has(key: string): boolean;
  get(key: string, dflt?: unknown): unknown;
  keys(): string[];
  toObject(): Dict<string, unknown>;
  /** Refuse keys the plugin does not know. */
  checkKeys(allowed: string[]): void;
  str(key: string): string;
  str<D>(key: string, dflt: D): string | D;
  int(key: string): number;
  int<D>(key: string, dflt: D): number | D;
  float(key: string): number;
  float<D>(key: string, dflt: D): number | D;
  bool(key: string): boolean;
  bool<D>(key: string, dflt: D): boolean | D;
  strList(key: string): string[];
  strList<D>(key: string, dflt: D): string[] | D;
  table(key: string): Config;
  table<D>(key: string, dflt: D): Config | D;
}

/** WIT `field-info`. */
export interface FieldInfo {
  name: string;
  kind: FieldKind;
  /** "percent", "bytes", "count", "ns", "bytes/s", or "" when none. */
  unit: string;
  description: string;
}
/** WIT `tag-info`. */
export interface TagInfo {
  name: string;
  description: string;
}
/** WIT `measurement-info`. */
export interface MeasurementInfo {
  name: string;
  category: Category;
  description: string;
  tags: TagInfo[];
  fields: FieldInfo[];
}
/** WIT `plugin-info` (intervals in ms). */
export interface PluginInfo {
  name: string;
  version: string;
  description: string;
  defaultIntervalMs: number;
  minIntervalMs: number;
  maxIntervalMs: number;
  measurements: MeasurementInfo[];
}
/** A measurement as a plugin declares it. */
export interface MeasurementSpec {
  name: string;
  description?: string;
  category?: Category | string;
  /** tag name -> description, or [name, description] pairs. */
  tags?: Dict<string, string> | [string, string][];
  fields?: (
    | { name: string; kind?: FieldKindName; unit?: string; description?: string }
    | [name: string, kind?: FieldKindName, unit?: string, description?: string]
  )[];
}
/** A duration: "10s", "250ms", "1m 30s", "1h", or a number of seconds. */
export type Duration = string | number;
export interface PluginOptions {
  version?: string;
  description?: string;
  /** Default "10s". */
  interval?: Duration;
  /** Default "1s". */
  minInterval?: Duration;
  /** Default "1h". */
  maxInterval?: Duration;
  measurements?: MeasurementSpec[];
}
export declare function durationMs(value: Duration, what?: string): number;
export declare function fieldInfo(name: string, kind?: FieldKindName, unit?: string, description?: string): FieldInfo;
export declare function measurement(m: MeasurementSpec): MeasurementInfo;

/** An import of the host failed; the message is the host's. */
export declare class HostError extends Error {}
/** `state.set` was refused (the plugin's state cap). */
export declare class StateError extends HostError {}
/** A file read or listing was refused or failed; the message names the path and the grant. */
export declare class FileError extends HostError {}
/** WIT `http-error`'s cases. */
export type HttpErrorKind = 'refused' | 'invalid-request' | 'timeout' | 'too-large' | 'failed';
export declare const HTTP_ERROR_KINDS: readonly HttpErrorKind[];
/** An outgoing request failed (the message is `kind: detail`). */
export declare class HttpError extends HostError {
  constructor(kind: HttpErrorKind, detail: string | bigint);
  kind: HttpErrorKind;
  /** The host's message; for too-large, the cap in bytes. */
  detail: string;
}

/** What a plugin's code threw, as the message the host logs and counts. */
export declare class PluginError extends Error {}

/** What collect/handle may return. */
export type Points = Point | Iterable<Point> | undefined | null | void;

export type CollectFn = (config: Config) => Points;
export interface CollectorObject {
  init?(config: Config): void;
  collect(config: Config): Points;
}
export type CollectorClass = new (config: Config) => { collect(): Points };

export type ProcessLineFn = (line: string, out: Records) => void;
export interface PipelineObject {
  init?(config: Config): void;
  processLine?(line: string, out: Records): void;
  process?(batch: Batch, out: Records): void;
}
export type PipelineClass = new (config: Config) => {
  processLine?(line: string, out: Records): void;
  process?(batch: Batch, out: Records): void;
};

export type HandleFn = ((body: Uint8Array) => Points) | ((contentType: string, body: Uint8Array) => Points);
export interface InputObject {
  init?(config: Config): void;
  handle(contentType: string, body: Uint8Array): Points;
}
export type InputClass = new (config: Config) => { handle(contentType: string, body: Uint8Array): Points };

/**
 * Declare a scheduled collector: a function `collect(config)` that returns Points, a class with
 * `constructor(config)` and `collect()`, or an object with `collect()` (and `init(config)`).
 */
export declare function collector<T extends CollectFn | CollectorObject | CollectorClass>(name: string, code: T): T;
export declare function collector<T extends CollectFn | CollectorObject | CollectorClass>(name: string, options: PluginOptions, code: T): T;
/**
 * Declare a log pipeline: a function `processLine(line, out)` writing the records of one line
 * with `out.record()`, or a class/object with processLine (or `process(batch, out)`).
 */
export declare function pipeline<T extends ProcessLineFn | PipelineObject | PipelineClass>(name: string, code: T): T;
export declare function pipeline<T extends ProcessLineFn | PipelineObject | PipelineClass>(name: string, options: PluginOptions, code: T): T;
/** Declare a passive input: `handle(body)` or `handle(contentType, body)` returning Points. */
export declare function input<T extends HandleFn | InputObject | InputClass>(name: string, code: T): T;
export declare function input<T extends HandleFn | InputObject | InputClass>(name: string, options: PluginOptions, code: T): T;
/** For function plugins: run `fn(config)` when the plugin starts. */
export declare function onInit<F extends (config: Config) => void>(fn: F): F;
/** The plugin's `[config]` table (set before init runs). */
export declare function config(): Config;
/** Send points from anywhere in collect/handle (besides returning them). */
export declare function emit(...points: Point[]): void;
/** `Name: message (file.js:line in function)` of what was thrown. */
export declare function describeError(e: unknown): string;

/**
 * A batch of raw lines (WIT `line-batch`): `data` holds every line, line i spans the UTF-8 bytes
 * `ends[i-1]..ends[i]`; `lines` are the lines as strings.
 */
export declare class Batch implements Iterable<string> {
  constructor(source: string, data: string, ends: ArrayLike<number>);
  static ofLines(lines: string[], source?: string): Batch;
  readonly source: string;
  readonly data: string;
  readonly ends: number[];
  readonly lines: string[];
  /** The UTF-8 byte offset in `data` where each line starts. */
  readonly starts: number[];
  readonly ascii: boolean;
  readonly length: number;
  line(i: number): string;
  [Symbol.iterator](): Iterator<string>;
}

/** The records a pipeline makes from a batch, written into the record encoding. */
export declare class Records {
  constructor(batch?: Batch);
  setLine(i: number): void;
  /** The current input line. */
  readonly line: string;
  readonly lineIndex: number;
  /** Start a record for the current line. */
  record(): Record;
  /** A record that is the input line as it came, in the `message` field. */
  passthrough(): void;
  mark(): number;
  rollback(mark: number): void;
  readonly length: number;
  toBytes(): Uint8Array;
}

/** One record being written; every method returns the record. Empty keys are left out. */
export declare class Record {
  tag(key: string, value: unknown): this;
  field(key: string, value: FieldValue, kind?: FieldKindName): this;
  int(key: string, value: Whole): this;
  uint(key: string, value: Whole): this;
  float(key: string, value: number | bigint): this;
  bool(key: string, value: boolean): this;
  text(key: string, value: string): this;
  /** A tag whose value is `line.slice(start, end)` of the current line, sent as a reference. */
  tagSpan(key: string, start?: number, end?: number): this;
  /** A text field whose value is `line.slice(start, end)`, sent as a reference. */
  textSpan(key: string, start?: number, end?: number): this;
  timeNs(ns: Whole): this;
  timeMs(ms: number): this;
  time(seconds: number): this;
  /** Keep the input line as the `message` field. */
  keepMessage(): this;
  /** Send the record under another measurement than the source's. */
  measurement(name: string): this;
}

/** An output the host would refuse. */
export declare class RecordError extends Error {
  at: number;
  overLimit: boolean;
}

export type DecodedItem =
  | ['tag' | 'text' | 'measurement', string, string]
  | ['int' | 'uint', string, bigint]
  | ['float', string, number]
  | ['bool', string, boolean];
export interface DecodedRecord {
  line: number;
  time: bigint | null;
  keepMessage: boolean;
  items: DecodedItem[];
}
/** Read an output back as the host does (throws RecordError where the host refuses). */
export declare function decode(output: Uint8Array, batch: Batch): DecodedRecord[];

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
/** Logging through the host (rate-limited per plugin). */
export declare namespace log {
  const LEVELS: readonly LogLevel[];
  function log(level: LogLevel, message: unknown): void;
  function trace(message: unknown): void;
  function debug(message: unknown): void;
  function info(message: unknown): void;
  function warn(message: unknown): void;
  function error(message: unknown): void;
}

/** A small key-value store per plugin that outlives an instance. */
export declare namespace state {
  export function get(key: string): Uint8Array | undefined;
  export function getText(key: string): string | undefined;
  /** Throws StateError past the plugin's cap. */
  export function set(key: string, value: Uint8Array | ArrayBuffer | string): void;
  export function del(key: string): void;
  export { del as delete };
  export function getJson<T = unknown>(key: string, dflt?: T): T;
  export function setJson(key: string, value: unknown): void;
}

/** Files the plugin's config grants, read by the host (throws FileError). */
export declare namespace files {
  function read(path: string): Uint8Array;
  function readText(path: string): string;
  function listDir(path: string): string[];
}

export type Headers = [string, string][] | Dict<string, string> | Map<string, string>;
export interface RequestOptions {
  headers?: Headers;
  body?: string | Uint8Array | ArrayBuffer;
  /** 0: the host's default (10 s). */
  timeoutMs?: number;
}
/** Outgoing HTTP to allowlisted targets (WIT `http-client`). */
export declare namespace http {
  class Response {
    constructor(status: number, headers: [string, string][], body: Uint8Array);
    status: number;
    /** Names in lower case, in the order received. */
    headers: [string, string][];
    body: Uint8Array;
    header(name: string): string | undefined;
    readonly text: string;
    json(): unknown;
    readonly ok: boolean;
  }
  /** Throws HttpError; a 4xx or 5xx is a Response. */
  function fetch(method: string, url: string, options?: RequestOptions): Response;
  function get(url: string, options?: Omit<RequestOptions, 'body'>): Response;
  /** A plain object is sent as JSON. */
  function post(url: string, body: string | Uint8Array | ArrayBuffer | object, options?: Omit<RequestOptions, 'body'>): Response;
}

/** WIT `system.fs-usage`. */
export interface FsUsage {
  total: bigint;
  available: bigint;
  free: bigint;
  inodesTotal: bigint;
  inodesFree: bigint;
}
/** Facts about the host that WASI does not expose. */
export declare namespace system {
  /** Needs `[sandbox] statfs = true`; throws HostError otherwise. */
  function statfs(path: string): FsUsage;
  function hostname(): string;
}

/** Times as the host wants them: ns since the Unix epoch, as bigints. */
export declare namespace time {
  /** ns of an RFC 3339 time with an offset, or undefined. */
  function rfc3339Ns(text: string): bigint | undefined;
  function msNs(ms: number): bigint;
  function nowNs(): bigint;
}

export declare const VERSION: string;
