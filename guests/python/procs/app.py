"""procs: processes by state, total processes and threads, as Telegraf's `processes` input.

Every collect lists /proc and reads /proc/<pid>/stat of each process: the state letter (R
running, S sleeping, D blocked, Z zombies, T/t stopped, I idle, X dead, W paging, P parked,
anything else unknown) and the thread count. A process that exits between the listing and the
read is skipped; when no stat at all can be read (a missing grant), the first error is raised.

Config (optional):
- `commands` (default []): process names (as in /proc/<pid>/stat, which the kernel cuts to 15
  bytes) to count on their own: one `processes_command` point each, tag `command`, the same
  fields; total = 0 when none runs, so a dead service shows.
"""
from sandkit_sdk import FieldInfo, FileError, Measurement, Point, collector, files

# The state letter of /proc/<pid>/stat -> the field it counts in (Telegraf's names).
STATES = {
    "R": "running",
    "S": "sleeping",
    "D": "blocked",
    "Z": "zombies",
    "T": "stopped",
    "t": "stopped",
    "I": "idle",
    "X": "dead",
    "x": "dead",
    "W": "paging",
    "P": "parked",
}
COUNTS = (
    "running", "sleeping", "blocked", "zombies", "stopped", "idle", "dead", "paging", "parked",
    "unknown",
)
COMM_MAX = 15  # the kernel's TASK_COMM_LEN less its NUL


def _fields():
    out = [
        FieldInfo("total", "int", "count", "processes"),
        FieldInfo("total_threads", "int", "count", "threads of all processes"),
    ]
    for name in COUNTS:
        out.append(FieldInfo(name, "int", "count", f"processes in state {name}"))
    return out


def parse_stat(text):
    """(comm, state letter, threads) of one /proc/<pid>/stat, or None when it is not one."""
    start = text.find("(")
    end = text.rfind(")")  # the name may hold spaces and parentheses itself
    if start < 0 or end < start:
        return None
    rest = text[end + 1:].split(None, 18)
    if len(rest) < 18 or not rest[0]:
        return None
    try:
        threads = int(rest[17])
    except ValueError:
        return None
    return text[start + 1:end], rest[0][0], threads


class Counts:
    __slots__ = ("total", "threads", "by_state")

    def __init__(self):
        self.total = 0
        self.threads = 0
        self.by_state = dict.fromkeys(COUNTS, 0)

    def add(self, state, threads):
        self.total += 1
        self.threads += threads
        self.by_state[STATES.get(state, "unknown")] += 1

    def point(self, measurement):
        p = Point(measurement).int("total", self.total).int("total_threads", self.threads)
        for name in COUNTS:
            p.int(name, self.by_state[name])
        return p


@collector(
    "procs",
    interval="10s",
    measurements=[
        Measurement("processes", "processes by state, as Telegraf's processes input",
                    fields=_fields()),
        Measurement("processes_command", "the same counts for one process name of `commands`",
                    tags={"command": "the name as configured"}, fields=_fields()),
    ],
)
class Procs:
    """Processes by state, total processes and threads (Telegraf's processes input)."""

    def __init__(self, config):
        config.check_keys(["commands"])
        self.commands = {}  # the name as /proc shows it -> the name as configured
        for name in config.str_list("commands", []):
            if not name:
                raise ValueError("[config] commands: an empty process name")
            comm = name.encode("utf-8")[:COMM_MAX].decode("utf-8", "ignore")
            self.commands[comm] = name

    def collect(self):
        all_ = Counts()
        per = {comm: Counts() for comm in self.commands}
        first_error = None
        for name in files.list_dir("/proc"):
            if not name.isdigit():
                continue
            try:
                stat = parse_stat(files.read_text(f"/proc/{name}/stat"))
            except FileError as e:  # gone since the listing (or not granted: see below)
                first_error = first_error or e
                continue
            if stat is None:
                continue
            comm, state, threads = stat
            all_.add(state, threads)
            if comm in per:
                per[comm].add(state, threads)
        if all_.total == 0 and first_error is not None:
            raise first_error  # nothing readable: a missing kernel_paths grant, not a race
        yield all_.point("processes")
        for comm, counts in per.items():
            yield counts.point("processes_command").tag("command", self.commands[comm])
