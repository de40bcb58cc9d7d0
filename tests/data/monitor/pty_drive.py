"""Run a command under a real pseudo-terminal, as a person at a terminal would: wait until its
screen shows every NEEDLE, then type KEY and expect it to exit with 0 within a few seconds.

    python3 pty_drive.py KEY NEEDLE[,NEEDLE...] -- command args...

KEY is a character ("q") or "ctrl-c". Prints what the command drew; exits non-zero (with why on
stderr) when a needle never shows, the command does not exit, or exits with an error."""
import os
import pty
import select
import sys
import time

key, needles, sep, *cmd = sys.argv[1:]
assert sep == "--" and cmd, __doc__
needles = needles.split(",")
key = b"\x03" if key == "ctrl-c" else key.encode()

pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "xterm"
    os.execvp(cmd[0], cmd)

screen = b""


def read_for(seconds):
    global screen
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if fd in r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                return False
            if not chunk:
                return False
            screen += chunk
            yield
    return True


deadline = time.time() + 20
while not all(n.encode() in screen for n in needles):
    if time.time() > deadline:
        sys.stdout.write(screen.decode(errors="replace"))
        sys.exit(f"pty_drive: {needles} never all showed on the screen within 20 s")
    for _ in read_for(0.2):
        pass
# A second frame, so that the view is redrawn at least once with CPU shares.
for _ in read_for(1.2):
    pass
os.write(fd, key)
end = time.time() + 5
status = None
while time.time() < end:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    for _ in read_for(0.1):
        pass
else:
    os.kill(pid, 9)
    sys.stdout.write(screen.decode(errors="replace"))
    sys.exit(f"pty_drive: the command did not exit within 5 s of {key!r}")
try:
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        screen += chunk
except OSError:
    pass
sys.stdout.write(screen.decode(errors="replace"))
code = os.waitstatus_to_exitcode(status)
if code != 0:
    sys.exit(f"pty_drive: the command exited with {code}")
