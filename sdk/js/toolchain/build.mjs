// `sandkit plugin build` for JavaScript and TypeScript: bundle the entry module with rolldown
// (the SDK resolved to the copy the agent staged, TypeScript stripped, the host's interfaces
// left as imports), then make a component of the bundle with componentize-js.
//
//   node build.mjs '{"toolchain": DIR, "entry": FILE, "sdk": FILE, "project": DIR, "wit": FILE,
//                    "world": NAME, "bundle": FILE, "out": FILE}'
//
// The toolchain directory holds the node_modules of sdk/js/toolchain/package.json (pinned).
// Embedded in the sandkit binary; run with node, no jco CLI.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

const opts = JSON.parse(process.argv[2]);

function fail(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

/** The ESM entry of package `name` in the toolchain's node_modules. */
async function load(name) {
  const dir = join(opts.toolchain, 'node_modules', ...name.split('/'));
  let pkg;
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  } catch {
    fail(`${name} is not installed in ${opts.toolchain}/node_modules (run npm ci there, or make jsdeps)`);
  }
  let entry = pkg.exports?.['.'] ?? pkg.exports ?? pkg.module ?? pkg.main;
  while (entry && typeof entry === 'object') entry = entry.import ?? entry.default ?? entry.node;
  if (typeof entry !== 'string') fail(`cannot find the entry of ${name} ${pkg.version}`);
  return { mod: await import(pathToFileURL(join(dir, entry)).href), version: pkg.version };
}

// Base64 VLQ, as source maps write their mappings.
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function vlq(text, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const digit = B64.indexOf(text[at.i++]);
    value += (digit & 31) << shift;
    shift += 5;
    if (!(digit & 32)) break;
  }
  return value & 1 ? -(value >>> 1) : value >>> 1;
}

/**
 * From the bundle's source map, the line table the SDK reads to name where an error was thrown:
 * runs [bundle line, source, source line] (1-based), one per stretch of lines that map in step.
 */
function lineTable(map, bundleName) {
  const files = map.sources.map((s) => {
    const abs = resolve(dirname(opts.bundle), s);
    const sdkDir = dirname(dirname(opts.sdk)) + sep;
    if (abs.startsWith(sdkDir)) return `@sandkit/sdk/${relative(sdkDir, abs)}`;
    return relative(opts.project, abs);
  });
  const runs = [];
  let src = 0;
  let line = 0;
  map.mappings.split(';').forEach((group, gen) => {
    let first;
    const at = { i: 0 };
    for (const seg of group.split(',')) {
      if (seg === '') continue;
      at.i = 0;
      vlq(seg, at);
      if (at.i >= seg.length) continue;
      src += vlq(seg, at);
      line += vlq(seg, at);
      vlq(seg, at);
      if (first === undefined) first = [src, line];
    }
    if (first === undefined) return;
    const last = runs[runs.length - 1];
    if (last === undefined || last[1] !== first[0] || last[2] + (gen + 1 - last[0]) !== first[1] + 1) {
      runs.push([gen + 1, first[0], first[1] + 1]);
    }
  });
  return { bundle: bundleName, files, runs };
}

const started = Date.now();
const { mod: rolldown } = await load('rolldown');
const { mod: cjs, version } = await load('@bytecodealliance/componentize-js');

let output;
const unresolved = [];
try {
  const bundle = await rolldown.rolldown({
    input: opts.entry,
    cwd: opts.project,
    platform: 'neutral',
    external: [/^sandkit:plugin\//],
    resolve: { alias: { '@sandkit/sdk': opts.sdk } },
    // A scaffolded tsconfig.json maps @sandkit/sdk to its types for editors; the bundle takes
    // the code (the alias above), so the tsconfig's paths stay out of the build.
    tsconfig: false,
    logLevel: 'warn',
    onLog(level, log, handler) {
      // An import nothing resolves would become an import of the component: refuse it here.
      if (log.code === 'UNRESOLVED_IMPORT') unresolved.push(log.message);
      else handler(level, log);
    },
  });
  ({ output } = await bundle.generate({ format: 'esm', sourcemap: true }));
  await bundle.close();
} catch (e) {
  fail(`bundling ${relative(opts.project, opts.entry)} failed:\n${e.message ?? e}`);
}
if (unresolved.length > 0) {
  fail(
    `${unresolved.join('\n')}\nA plugin can import relative files, @sandkit/sdk and the packages installed in the project's node_modules (npm install them there).`,
  );
}
const chunk = output.find((o) => o.type === 'chunk');
const bundleName = opts.bundle.split(/[/\\]/).pop();
const table = lineTable(chunk.map, bundleName);
// Appended after the last line: the line numbers of the bundle stay as the map says.
const code = `${chunk.code}\nglobalThis.__sandkitLines = ${JSON.stringify(table)};\n`;
writeFileSync(opts.bundle, code);
const bundled = Date.now();

let component;
try {
  ({ component } = await cjs.componentize({
    sourcePath: opts.bundle,
    witPath: opts.wit,
    worldName: opts.world,
    // fetch() and the fetch event would make the component import wasi:http, which the agent
    // does not give plugins (outgoing HTTP goes through the http-client import).
    disableFeatures: ['http', 'fetch-event'],
  }));
} catch (e) {
  fail(`componentize-js ${version} failed:\n${e.message ?? e}`);
}
writeFileSync(opts.out, component);
process.stderr.write(
  `bundled in ${((bundled - started) / 1000).toFixed(1)} s (${(code.length / 1024).toFixed(0)} KiB of JS), componentize-js ${version} in ${((Date.now() - bundled) / 1000).toFixed(1)} s\n`,
);
