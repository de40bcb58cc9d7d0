"""Golden tests of procs on plain CPython, on a fake /proc: `python -m pytest -q` with
sdk/python on PYTHONPATH."""
import pytest

from sandkit_sdk import PluginError, testing


def stat(pid, comm, state, threads, ppid=1):
    """A /proc/<pid>/stat line as the kernel writes it (52 fields, num_threads the 20th)."""
    rest = [state, ppid, pid, pid, 0, -1, 4194560, 100, 0, 0, 0, 5, 3, 0, 0, 20, 0, threads, 0,
            1000, 10000000, 500] + [0] * 30
    return f"{pid} ({comm}) " + " ".join(str(x) for x in rest) + "\n"


FAKE_PROC = {
    "/proc/1/stat": stat(1, "systemd", "S", 1, ppid=0),
    "/proc/2/stat": stat(2, "kthreadd", "S", 1, ppid=0),
    "/proc/12/stat": stat(12, "kworker/0:1-events", "I", 1, ppid=2),
    "/proc/101/stat": stat(101, "nginx", "S", 1),
    "/proc/102/stat": stat(102, "nginx", "R", 4, ppid=101),
    "/proc/230/stat": stat(230, "postgres", "D", 1),
    "/proc/301/stat": stat(301, "defunct", "Z", 1),
    "/proc/302/stat": stat(302, "vim", "T", 1),
    "/proc/303/stat": stat(303, "gdb-target", "t", 1),
    # a name with spaces and parentheses: the state is after the last ")"
    "/proc/400/stat": stat(400, "my (odd) proc) x", "R", 8),
    "/proc/401/stat": stat(401, "systemd-journal", "S", 3),
    "/proc/402/stat": stat(402, "weird", "Q", 2),
    # 999 vanished between the listing and the read: listed (its dir exists) but no stat
    "/proc/999/status": "Name:\tgone\n",
    # top-level files and the agent's own view are not processes
    "/proc/stat": "cpu  1 2 3 4\n",
    "/proc/self/mounts": "proc /proc proc rw 0 0\n",
    "/proc/sys/kernel/pid_max": "4194304\n",
}

# Every field of the processes point, in order.
EXPECTED = [
    ("total", 12),
    ("total_threads", 25),
    ("running", 2),
    ("sleeping", 4),
    ("blocked", 1),
    ("zombies", 1),
    ("stopped", 2),
    ("idle", 1),
    ("dead", 0),
    ("paging", 0),
    ("parked", 0),
    ("unknown", 1),
]


def fields(p):
    return [(k, v) for k, _, v in p.fields]


def kinds(p):
    return {kind.value for _, kind, _ in p.fields}


def test_golden_counts_of_a_fake_proc():
    plugin = testing.load("app.py", host=testing.TestHost(files=FAKE_PROC))
    [p] = plugin.collect()
    assert p.measurement == "processes"
    assert p.tags == []
    assert fields(p) == EXPECTED
    assert kinds(p) == {"int"}
    assert p.timestamp_ns is None  # the host's clock
    assert plugin.host.logs == []


def test_a_vanished_pid_is_skipped_quietly():
    files = dict(FAKE_PROC)
    del files["/proc/1/stat"]
    files["/proc/1/cmdline"] = ""  # still listed
    [p] = testing.load("app.py", host=testing.TestHost(files=files)).collect()
    assert p.field_value("total") == 11
    assert p.field_value("sleeping") == 3
    assert p.field_value("total_threads") == 24


def test_a_malformed_stat_is_skipped():
    files = dict(FAKE_PROC, **{"/proc/500/stat": "500 (no closing paren S 1 2\n",
                               "/proc/501/stat": "501 (short) R 1 2 3\n"})
    [p] = testing.load("app.py", host=testing.TestHost(files=files)).collect()
    assert fields(p) == EXPECTED


def test_commands_are_counted_on_their_own():
    plugin = testing.load(
        "app.py",
        host=testing.TestHost(files=FAKE_PROC),
        # systemd-journald is cut to 15 bytes in /proc (systemd-journal); apache runs nowhere
        config={"commands": ["nginx", "systemd-journald", "apache2"]},
    )
    points = plugin.collect()
    assert [(p.measurement, p.tags) for p in points] == [
        ("processes", []),
        ("processes_command", [("command", "nginx")]),
        ("processes_command", [("command", "systemd-journald")]),
        ("processes_command", [("command", "apache2")]),
    ]
    nginx, journald, apache = points[1:]
    assert fields(nginx) == [
        ("total", 2), ("total_threads", 5), ("running", 1), ("sleeping", 1), ("blocked", 0),
        ("zombies", 0), ("stopped", 0), ("idle", 0), ("dead", 0), ("paging", 0), ("parked", 0),
        ("unknown", 0),
    ]
    assert journald.field_value("total") == 1
    assert journald.field_value("total_threads") == 3
    assert all(v == 0 for _, v in fields(apache))


def test_without_the_grant_the_first_error_is_raised():
    class NoStat(testing.TestHost):
        def read_file(self, path):
            raise testing.FileError(
                f'files.read-file of "{path}": not in the kernel view of plugin procs; add it '
                "to [sandbox] kernel_paths in its conf.d file"
            )

    plugin = testing.load("app.py", host=NoStat(files=FAKE_PROC))
    with pytest.raises(PluginError, match=r'collect: FileError: .*"/proc/1/stat".*kernel_paths'):
        plugin.collect()


def test_an_unknown_config_key_is_refused():
    with pytest.raises(PluginError, match=r"init: ConfigError: .*unknown key 'comands'"):
        testing.load("app.py", config={"comands": ["nginx"]})
    with pytest.raises(PluginError, match=r"commands\[0\] = 1 is not a string"):
        testing.load("app.py", config={"commands": [1]})


def test_describe_names_the_fields_with_units():
    info = testing.load("app.py").info
    assert info.name == "procs"
    assert info.default_interval_ms == 10_000
    assert [m.name for m in info.measurements] == ["processes", "processes_command"]
    proc = info.measurements[0]
    assert [(f.name, f.kind.value, f.unit) for f in proc.fields] == [
        (k, "int", "count") for k, _ in EXPECTED
    ]
    assert info.measurements[1].tags == [("command", "the name as configured")]
