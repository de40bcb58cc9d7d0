// The host behind the SDK: the component's imports (installed by the world module the build
// writes), or a test double (`TestHost` of '@sandkit/sdk/testing') on plain node.

/** An import of the host failed; the message is the host's. */
export class HostError extends Error {
  constructor(message) {
    super(message);
    this.name = 'HostError';
  }
}

/** `state.set` was refused (the plugin's state cap). */
export class StateError extends HostError {
  constructor(message) {
    super(message);
    this.name = 'StateError';
  }
}

/**
 * `files.read`/`files.listDir` was refused or failed: the message names the path and, for a
 * missing grant, what to add to the plugin's conf.d file.
 */
export class FileError extends HostError {
  constructor(message) {
    super(message);
    this.name = 'FileError';
  }
}

export const HTTP_ERROR_KINDS = Object.freeze(['refused', 'invalid-request', 'timeout', 'too-large', 'failed']);

/**
 * An outgoing request failed. `kind` is one of refused, invalid-request, timeout, too-large,
 * failed; `detail` the host's message (for too-large: the cap in bytes).
 */
export class HttpError extends HostError {
  constructor(kind, detail) {
    super(`${kind}: ${detail}`);
    this.name = 'HttpError';
    this.kind = kind;
    this.detail = String(detail);
  }
}

let HOST = null;

/** The installed host. */
export function host() {
  if (HOST === null) {
    throw new HostError("no host: outside a component, use TestHost of '@sandkit/sdk/testing'");
  }
  return HOST;
}

/** Replace the host (tests); returns the previous one. */
export function install(h) {
  const old = HOST;
  HOST = h;
  return old;
}
