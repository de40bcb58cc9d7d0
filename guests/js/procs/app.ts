// procs: processes by state, total processes and threads, as Telegraf's `processes` input (the
// TypeScript twin of guests/python/procs).
//
// Every collect lists /proc and reads /proc/<pid>/stat of each process: the state letter (R
// running, S sleeping, D blocked, Z zombies, T/t stopped, I idle, X dead, W paging, P parked,
// anything else unknown) and the thread count. A process that exits between the listing and the
// read is skipped; when no stat at all can be read (a missing grant), the first error is thrown.
//
// Config (optional):
// - `commands` (default []): process names (as in /proc/<pid>/stat, which the kernel cuts to 15
//   bytes) to count on their own: one `processes_command` point each, tag `command`, the same
//   fields; total = 0 when none runs, so a dead service shows.
import { Config, FileError, Point, collector, files, type MeasurementSpec } from '@sandkit/sdk';

/** The state letter of /proc/<pid>/stat -> the field it counts in (Telegraf's names). */
const STATES: Record<string, string> = {
  R: 'running',
  S: 'sleeping',
  D: 'blocked',
  Z: 'zombies',
  T: 'stopped',
  t: 'stopped',
  I: 'idle',
  X: 'dead',
  x: 'dead',
  W: 'paging',
  P: 'parked',
};
const COUNTS = ['running', 'sleeping', 'blocked', 'zombies', 'stopped', 'idle', 'dead', 'paging', 'parked', 'unknown'];
const COMM_MAX = 15; // the kernel's TASK_COMM_LEN less its NUL

function fields(): NonNullable<MeasurementSpec['fields']> {
  return [
    ['total', 'int', 'count', 'processes'],
    ['total_threads', 'int', 'count', 'threads of all processes'],
    ...COUNTS.map((name): [string, 'int', string, string] => [name, 'int', 'count', `processes in state ${name}`]),
  ];
}

export interface Stat {
  comm: string;
  state: string;
  threads: number;
}

/** comm, state letter and threads of one /proc/<pid>/stat, or undefined when it is not one. */
export function parseStat(text: string): Stat | undefined {
  const start = text.indexOf('(');
  const end = text.lastIndexOf(')'); // the name may hold spaces and parentheses itself
  if (start < 0 || end < start) return undefined;
  const rest = text.slice(end + 1).trim().split(/\s+/);
  if (rest.length < 18 || rest[0] === '') return undefined;
  if (!/^[+-]?\d+$/.test(rest[17])) return undefined;
  return { comm: text.slice(start + 1, end), state: rest[0][0], threads: Number(rest[17]) };
}

class Counts {
  total = 0;
  threads = 0;
  byState: Record<string, number> = Object.fromEntries(COUNTS.map((c) => [c, 0]));

  add(state: string, threads: number): void {
    this.total += 1;
    this.threads += threads;
    this.byState[STATES[state] ?? 'unknown'] += 1;
  }

  point(measurement: string): Point {
    const p = new Point(measurement).int('total', this.total).int('total_threads', this.threads);
    for (const name of COUNTS) p.int(name, this.byState[name]);
    return p;
  }
}

/** The first COMM_MAX bytes of a name's UTF-8, cut on a character boundary (as the kernel keeps it). */
function comm(name: string): string {
  const bytes = new TextEncoder().encode(name).subarray(0, COMM_MAX);
  return new TextDecoder().decode(bytes).replace(/\uFFFD+$/, '');
}

collector(
  'procs_js',
  {
    interval: '10s',
    description: 'Processes by state, total processes and threads (Telegraf\'s processes input).',
    measurements: [
      { name: 'processes', description: "processes by state, as Telegraf's processes input", fields: fields() },
      {
        name: 'processes_command',
        description: 'the same counts for one process name of `commands`',
        tags: { command: 'the name as configured' },
        fields: fields(),
      },
    ],
  },
  class Procs {
    /** the name as /proc shows it -> the name as configured */
    commands = new Map<string, string>();

    constructor(config: Config) {
      config.checkKeys(['commands']);
      for (const name of config.strList('commands', [])) {
        if (!name) throw new Error('[config] commands: an empty process name');
        this.commands.set(comm(name), name);
      }
    }

    collect(): Point[] {
      const all = new Counts();
      const per = new Map([...this.commands.keys()].map((c) => [c, new Counts()]));
      let firstError: FileError | undefined;
      for (const name of files.listDir('/proc')) {
        if (!/^\d+$/.test(name)) continue;
        let stat: Stat | undefined;
        try {
          stat = parseStat(files.readText(`/proc/${name}/stat`));
        } catch (e) {
          // gone since the listing (or not granted: see below)
          if (!(e instanceof FileError)) throw e;
          firstError ??= e;
          continue;
        }
        if (stat === undefined) continue;
        all.add(stat.state, stat.threads);
        per.get(stat.comm)?.add(stat.state, stat.threads);
      }
      if (all.total === 0 && firstError !== undefined) throw firstError; // a missing grant, not a race
      const out = [all.point('processes')];
      for (const [c, counts] of per) out.push(counts.point('processes_command').tag('command', this.commands.get(c)));
      return out;
    }
  },
);
