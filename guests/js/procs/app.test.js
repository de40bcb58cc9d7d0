// Tests of procs on plain node: `node --test` (with @sandkit/sdk resolvable; see the README).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestHost, load } from '@sandkit/sdk/testing';

const stat = (pid, comm, state, threads) =>
  `${pid} (${comm}) ${state} 1 ${pid} ${pid} 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 ${threads} 0 100 1000000 200 18446744073709551615\n`;

function host(extra = {}) {
  return new TestHost({
    files: {
      '/proc/1/stat': stat(1, 'init', 'S', 1),
      '/proc/42/stat': stat(42, 'nginx', 'R', 4),
      '/proc/43/stat': stat(43, 'nginx', 'S', 4),
      '/proc/77/stat': stat(77, 'odd) name (x', 'Z', 1),
      '/proc/78/stat': stat(78, 'kworker/0:1', 'I', 1),
      '/proc/99/stat': stat(99, 'weird', 'Q', 2),
      '/proc/loadavg': '0 0 0 1/1 1',
      '/proc/self/stat': stat(5, 'self', 'R', 1),
      ...extra,
    },
  });
}

test('counts processes by state, and threads', async () => {
  const plugin = await load(new URL('./app.ts', import.meta.url), { host: host() });
  const [p] = plugin.collect();
  assert.equal(p.measurement, 'processes');
  const f = Object.fromEntries(p.fields.map(([k, , v]) => [k, v]));
  assert.deepEqual(f, {
    total: 6n,
    total_threads: 13n,
    running: 1n,
    sleeping: 2n,
    blocked: 0n,
    zombies: 1n,
    stopped: 0n,
    idle: 1n,
    dead: 0n,
    paging: 0n,
    parked: 0n,
    unknown: 1n,
  });
  assert.deepEqual(plugin.info.measurements.map((m) => m.name), ['processes', 'processes_command']);
});

test('commands get their own point, zero when none runs', async () => {
  const plugin = await load(new URL('./app.ts', import.meta.url), {
    host: host(),
    config: { commands: ['nginx', 'postgres', 'a-very-long-process-name'] },
  });
  const points = plugin.collect().slice(1);
  assert.deepEqual(
    points.map((p) => [p.tagValue('command'), p.fieldValue('total'), p.fieldValue('running')]),
    [
      ['nginx', 2n, 1n],
      ['postgres', 0n, 0n],
      ['a-very-long-process-name', 0n, 0n],
    ],
  );
});

test('a config typo and a missing grant are errors that say so', async () => {
  await assert.rejects(load(new URL('./app.ts', import.meta.url), { config: { comands: [] } }), /unknown key "comands"/);
  const denied = new TestHost({ files: { '/proc/1/x': '' } });
  const plugin = await load(new URL('./app.ts', import.meta.url), { host: denied });
  assert.throws(() => plugin.collect(), /collect: FileError: files.read-file of "\/proc\/1\/stat": not given to the TestHost/);
});
