// Granted files, read by the host (`[sandbox] read_only_dirs`; /proc and /sys through the
// kernel view). Errors are FileError with the host's message, which names the path and the
// grant to add. The JS engine has no file API of its own: this is the way to read files.

import { host } from './host.js';

const decoder = new TextDecoder();

/** The whole file (at most 16 MiB). */
export function read(path) {
  return host().readFile(path);
}

/** The whole file as UTF-8 text (undecodable bytes replaced). */
export function readText(path) {
  return decoder.decode(read(path));
}

/** The sorted names in a directory, without "." and "..". */
export function listDir(path) {
  return [...host().listDir(path)];
}
