"""`evcharge admin` at a real Central: one error line per cause with its exit code, the
plain table for a pipe, the rich live view on a terminal (a pty)."""
from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time

from central_testkit import ADMIN_TOKEN

from evharness.procs import bin_path, free_port

NO_TOKEN_LINE = ("evcharge admin: error: no admin token given: use --admin-token-file PATH "
                 "(mode 0600) or $EVCHARGE_ADMIN_TOKEN\n")


def admin(central, *args: str, token: str | None = ADMIN_TOKEN) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "EVCHARGE_ADMIN_TOKEN"}
    if token is not None:
        env["EVCHARGE_ADMIN_TOKEN"] = token
    return subprocess.run([bin_path("evcharge"), "admin", "--central",
                           f"{central.host}:{central.port}", *args],
                          capture_output=True, text=True, timeout=60, env=env)


def test_each_cause_has_its_own_line_and_exit_code(central):
    none = admin(central, "list", token=None)
    assert (none.returncode, none.stderr, none.stdout) == (5, NO_TOKEN_LINE, "")
    wrong = admin(central, "list", token="guess")
    assert wrong.returncode == 4
    assert wrong.stderr == ("evcharge admin: error: Central refused the admin token: it is not "
                            "the one Central was started with (use --admin-token-file PATH "
                            "(mode 0600) or $EVCHARGE_ADMIN_TOKEN)\n")
    refused = admin(central, "resume", "CP9")
    assert refused.returncode == 4
    assert refused.stderr == "evcharge admin: error: Central refused resume: unknown charge " \
                             "point CP9\n"
    usage = admin(central, "stop-all", "--watch")
    assert usage.returncode == 2
    assert usage.stderr == "evcharge admin: error: --watch works with list and sessions only\n"
    port = free_port()
    gone = subprocess.run([bin_path("evcharge"), "admin", "--central", f"127.0.0.1:{port}",
                           "list"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "EVCHARGE_ADMIN_TOKEN": ADMIN_TOKEN})
    assert gone.returncode == 3
    assert gone.stderr == (f"evcharge admin: error: cannot reach Central at 127.0.0.1:{port} "
                           "(Connection refused)\n")


def test_several_centrals_the_first_that_answers(central):
    dead, other = free_port(), free_port()
    env = {**os.environ, "EVCHARGE_ADMIN_TOKEN": ADMIN_TOKEN}
    listed = subprocess.run([bin_path("evcharge"), "admin", "--central",
                             f"127.0.0.1:{dead},{central.host}:{central.port}", "list"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "CP1" in listed.stdout
    gone = subprocess.run([bin_path("evcharge"), "admin", "--central",
                           f"127.0.0.1:{dead},127.0.0.1:{other}", "list"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert gone.returncode == 3
    assert gone.stderr == (f"evcharge admin: error: cannot reach Central at 127.0.0.1:{dead} "
                           f"(Connection refused); cannot reach Central at 127.0.0.1:{other} "
                           "(Connection refused)\n")


def test_json_refusal_keeps_centrals_answer_on_stdout(central):
    done = admin(central, "--json", "stop", "CP9")
    assert done.returncode == 4 and '"reason": "unknown_cp"' in done.stdout
    assert done.stderr.startswith("evcharge admin: error: Central refused stop:")


def test_stop_without_reason_keeps_it_and_resume_all_skips_it(central):
    assert admin(central, "stop", "CP1", "--reason", "cable damaged").returncode == 0
    assert admin(central, "stop", "CP1").returncode == 0
    stopped = admin(central, "stop-all", "--reason", "storm")
    assert stopped.returncode == 0
    assert stopped.stdout == "1 charge point(s) stopped (1 already stopped, left as they were)\n"
    resumed = admin(central, "resume-all")
    assert resumed.stdout == "1 charge point(s) resumed (1 stopped on their own, left stopped)\n"
    rows = {r["cp_id"]: r for r in central.admin("list_cps")["data"]}
    assert rows["CP1"]["stop_reason"] == "cable damaged" and rows["CP2"]["stop_reason"] is None


def test_list_on_a_pipe_is_plain_lines(central):
    central.admin("stop_cp", cp_id="CP2", reason="[bold]cable[/] \033[31mdamaged")
    done = admin(central, "list")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "CP   STATUS        LOCATION    PRICE  MAX KW  DRIVER  KW  KWH  COST  PROTO   NOTE\n"
        "CP1  DISCONNECTED  CP1 street  0.30   11      -       -   -    -     evwire\n"
        "CP2  DISCONNECTED  CP2 street  0.30   11      -       -   -    -     evwire  "
        "[bold]cable[/] [31mdamaged\n")


def _read_until(fd: int, words: list[str], timeout: float) -> str:
    seen, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:  # the child closed the pty
                break
        text = seen.decode(errors="replace")
        if all(w in text for w in words):
            return text
    return seen.decode(errors="replace")


def test_watch_on_a_terminal_is_a_live_rich_table(central):
    mon = central.monitor("CP1").beat()
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    env = {**os.environ, "EVCHARGE_ADMIN_TOKEN": ADMIN_TOKEN, "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([bin_path("evcharge"), "admin", "--central",
                             f"{central.host}:{central.port}", "list", "--watch"],
                            stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    try:
        # the first frame, then a redraw in place (the cursor goes back up over it)
        shown = _read_until(master, ["AVAILABLE", "DISCONNECTED", "\033[32m", "\033[1A"], 15)
        assert "CP1" in shown and "CP2" in shown, shown
        assert "\033[32m" in shown  # AVAILABLE in green
        assert "\033[90m" in shown  # DISCONNECTED in grey
        assert "─" in shown  # drawn by rich, not the plain lines
        assert "\033[1A" in shown and shown.count("Central 127.0.0.1") >= 2
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        assert proc.stderr.read() == b""
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
        os.close(master)
        mon.close()
