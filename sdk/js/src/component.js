// The component side of the SDK: the host's imports behind the SDK's host interface, and the
// world's exports around the registered plugin. Only the world modules (world-*.js), which the
// build's entry module imports, use it; on plain node the testing module stands in.

import { HttpError, FileError, HostError, StateError, install } from './host.js';
import { Config } from './config.js';
import { PluginError, describeError, registered } from './plugin.js';
import { Batch } from './records.js';

const WIT_KINDS = { int: 'int', uint: 'uint', float: 'float', bool: 'boolean', text: 'text' };

// An import that returns a result throws a ComponentError whose payload is the error.
function payload(e) {
  return e !== null && typeof e === 'object' && 'payload' in e ? e.payload : undefined;
}

function rethrow(e, As) {
  const p = payload(e);
  if (p === undefined) throw e;
  throw new As(String(p));
}

/** The world's imports (`undefined` for the ones it lacks) as the SDK's host. */
export class ComponentHost {
  constructor(imports) {
    this.i = imports;
  }

  _need(name) {
    const m = this.i[name];
    if (m === undefined) throw new HostError(`this plugin's world does not import ${name}`);
    return m;
  }

  log(level, message) {
    this._need('hostLog').log(level, message);
  }

  emit(points) {
    const wit = new Array(points.length);
    for (let n = 0; n < points.length; n++) {
      const p = points[n];
      const tags = new Array(p.tags.length);
      for (let i = 0; i < p.tags.length; i++) tags[i] = { key: p.tags[i][0], value: p.tags[i][1] };
      const fields = new Array(p.fields.length);
      for (let i = 0; i < p.fields.length; i++) {
        const [key, kind, val] = p.fields[i];
        fields[i] = { key, value: { tag: WIT_KINDS[kind], val } };
      }
      wit[n] = { measurement: p.measurement, tags, fields, timestamp: p.timestampNs, category: p.category };
    }
    this._need('emit').emit(wit);
  }

  stateGet(key) {
    return this._need('state').get(key);
  }

  stateSet(key, value) {
    try {
      this._need('state').set(key, value);
    } catch (e) {
      rethrow(e, StateError);
    }
  }

  stateDelete(key) {
    this._need('state').delete(key);
  }

  readFile(path) {
    try {
      return this._need('files').readFile(path);
    } catch (e) {
      rethrow(e, FileError);
    }
  }

  listDir(path) {
    try {
      return this._need('files').listDir(path);
    } catch (e) {
      rethrow(e, FileError);
    }
  }

  httpFetch(method, url, headers, body, timeoutMs) {
    let r;
    try {
      r = this._need('httpClient').fetch({ method, url, headers, body, timeoutMs });
    } catch (e) {
      const p = payload(e);
      if (p === undefined || typeof p !== 'object' || p === null) throw e;
      throw new HttpError(p.tag, p.val);
    }
    return [r.status, r.headers, r.body];
  }

  statfs(path) {
    try {
      return this._need('system').statfs(path);
    } catch (e) {
      rethrow(e, HostError);
    }
  }

  hostname() {
    return this._need('system').hostname();
  }
}

function witInfo(info) {
  return {
    name: info.name,
    version: info.version,
    description: info.description,
    defaultIntervalMs: BigInt(info.defaultIntervalMs),
    minIntervalMs: BigInt(info.minIntervalMs),
    maxIntervalMs: BigInt(info.maxIntervalMs),
    measurements: info.measurements.map((m) => ({
      name: m.name,
      category: m.category,
      description: m.description,
      tags: m.tags,
      fields: m.fields.map((f) => ({ name: f.name, kind: WIT_KINDS[f.kind], unit: f.unit, description: f.description })),
    })),
  };
}

// The engine aborts on anything but a string thrown out of an export: every error leaves as
// the WIT error string.
function message(what, e) {
  if (e instanceof PluginError) return e.message;
  try {
    return `${what}: ${describeError(e)}`;
  } catch {
    return `${what}: an error that cannot be described`;
  }
}

/**
 * The exports of `world` around the registered plugin, with `imports` as the host. Called when
 * the component is built: a module that declares another kind of plugin fails the build.
 */
export function exportsFor(world, imports) {
  install(new ComponentHost(imports));
  const p = registered();
  if (p.kind !== world) {
    throw new Error(`sandkit-plugin.toml says world = "${world}", but the module declares ${p.kind === 'input' ? 'an' : 'a'} ${p.kind}`);
  }
  return {
    describe() {
      return witInfo(p.info);
    },
    init(config) {
      try {
        p.init(Config.fromJson(config));
      } catch (e) {
        throw message('init', e);
      }
    },
    collect() {
      try {
        p.collect();
      } catch (e) {
        throw message('collect', e);
      }
    },
    handle(contentType, body) {
      try {
        p.handle(contentType, body);
      } catch (e) {
        throw message('handle', e);
      }
    },
    process(batch) {
      try {
        return p.process(new Batch(batch.source, batch.data, batch.ends));
      } catch (e) {
        throw message('process', e);
      }
    },
  };
}
