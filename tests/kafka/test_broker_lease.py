"""The lease that lets one xdist worker restart the shared Apache broker safely.

No broker needed: the lease is a pair of flocks in the script's run folder,
held here by real child processes.
"""
from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from evharness.procs import Proc, ProcessGroup, wait_until
from evkafka import apache

FAKE_BOOTSTRAP = "127.0.0.1:1"
HOLDER = """
import sys
from evkafka import apache
with apache.lease(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


@pytest.fixture
def run_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(apache.ENV_RUN_DIR, str(tmp_path))
    monkeypatch.setattr(apache, "LEASE_WAIT", 30.0)
    (tmp_path / "broker.env").write_text(f"BOOTSTRAP={FAKE_BOOTSTRAP}\nVERSION=4.4.0\n")
    yield tmp_path
    apache.release()


def holder(procs: ProcessGroup) -> Proc:
    """A process that takes the shared lease, says `held`, and lets go on a newline."""
    return procs.start("holder", [sys.executable, "-c", HOLDER, FAKE_BOOTSTRAP],
                       stdin=subprocess.PIPE)


def has_lease(proc: Proc) -> bool:
    return "held" in proc.log()


def let_go(proc: Proc) -> None:
    proc.popen.stdin.write(b"\n")
    proc.popen.stdin.flush()


def test_lease_applies_only_to_the_scripts_broker(run_folder):
    assert apache.controls(FAKE_BOOTSTRAP)
    assert apache.version() == "4.4.0"
    assert not apache.controls("127.0.0.1:2")
    assert not apache.controls(None)


def test_a_restart_waits_for_users_and_new_users_wait_for_the_restart(run_folder, procs):
    first = holder(procs)
    wait_until(lambda: has_lease(first), what="first holder has the lease")

    exclusive = threading.Event()
    restarter = threading.Thread(target=lambda: (apache._lease.make_exclusive(), exclusive.set()))
    restarter.start()
    # The restarter is queued behind the first user; a user arriving now queues behind it.
    assert not exclusive.wait(1.0)
    second = holder(procs)
    assert not exclusive.wait(0.5) and not has_lease(second)

    let_go(first)
    wait_until(exclusive.is_set, what="restarter has the exclusive lease")
    restarter.join(5)
    assert not has_lease(second)  # still kept out while the broker "restarts"

    apache.release()
    wait_until(lambda: has_lease(second), what="second holder has the lease")
    let_go(second)
    assert first.popen.wait(10) == 0 and second.popen.wait(10) == 0
