// Facts about the host that WASI does not expose (each needs a grant in the plugin's config).

import { host } from './host.js';

/**
 * Usage of the filesystem mounted at `path` (needs `[sandbox] statfs = true`): an object of
 * bigints `{total, available, free, inodesTotal, inodesFree}`. Throws HostError otherwise.
 */
export function statfs(path) {
  return host().statfs(path);
}

/** The host's name, as `uname -n` prints it. */
export function hostname() {
  return host().hostname();
}
