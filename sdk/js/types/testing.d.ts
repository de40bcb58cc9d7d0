// Types of @sandkit/sdk/testing: run a plugin on plain node.
import type { Batch, DecodedRecord, Point, PluginInfo, FsUsage } from './index.js';
export { Batch, decode } from './index.js';

/** An object of string keys (the SDK's `Record` class is a pipeline record). */
type Dict<K extends string, V> = { [P in K]: V };

export interface TestRequest {
  method: string;
  url: string;
  headers: [string, string][];
  body: Uint8Array;
  timeoutMs: number;
}
export interface TestResponse {
  status?: number;
  headers?: [string, string][];
  body?: string | Uint8Array;
}
export interface TestHostOptions {
  /** path -> content, for files.read and files.listDir. */
  files?: Dict<string, string | Uint8Array>;
  /** Answers http.fetch; without it every request is refused. Throw HttpError for errors. */
  http?: (req: TestRequest) => TestResponse;
  /** Bytes of state (keys + values + 64 per key); default 1 MiB. */
  stateCap?: number;
  hostname?: string;
  statfs?: (path: string) => FsUsage;
}

/** The host's imports, in memory. */
export declare class TestHost {
  constructor(options?: TestHostOptions);
  files: Map<string, Uint8Array>;
  state: Map<string, Uint8Array>;
  stateCap: number;
  /** [level, message] of every log call. */
  logs: [string, string][];
  emitted: Point[];
  /** [method, url] of every request. */
  requests: [string, string][];
}

/** A plugin loaded by `load`, with its host double. */
export declare class Loaded {
  readonly host: TestHost;
  readonly info: PluginInfo;
  init(config?: Dict<string, unknown>): void;
  /** One collect; the points it emitted. Throws PluginError as the host would log it. */
  collect(): Point[];
  handle(body: string | Uint8Array, contentType?: string): Point[];
  processBytes(lines: string[], source?: string): [Batch, Uint8Array];
  /** The records of one batch, decoded and checked as the host reads them. */
  process(lines: string[], source?: string): DecodedRecord[];
}

export interface LoadOptions {
  host?: TestHost;
  config?: Dict<string, unknown>;
  /** Call init (default true). */
  init?: boolean;
}
/**
 * Import the plugin module at `path` (a URL, an absolute path, or relative to the calling test
 * file or the current directory); a .ts module is bundled with rolldown first.
 */
export declare function load(path: string | URL, options?: LoadOptions): Promise<Loaded>;
