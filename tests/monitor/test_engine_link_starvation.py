"""A stranger running a connect loop against a keyed Engine's port (a real
process, from another loopback address) must not starve the Monitor: the
Engine keeps a few pending slots, one per remote address, so the Monitor's
handshake is never evicted by the loop and it authenticates at once; once in,
the loop does not displace it either. Both Engine runtimes, real processes."""
from __future__ import annotations

import socket
import sys
import time

import pytest

from evengine.probe import MonitorProbe
from evharness.engine import RUNTIMES, start_engine
from evharness.procs import wait_until
from evharness.sim import start_sim
from evwire import FrameDecoder, encode_frame, make
from evwire import types as t

KEY = "5f" * 32
STRANGER_ADDRESS = "127.0.0.2"  # Linux routes all of 127.0.0.0/8 to loopback

# Connect, send nothing or garbage, reset (SO_LINGER 0: no TIME_WAIT pile-up),
# again, as fast as it can, on a few threads; prints how many connections it made.
STRANGER = r"""
import socket, struct, sys, threading, time
port, source = int(sys.argv[1]), sys.argv[2]
made = [0]

def loop():
    while True:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        try:
            s.bind((source, 0))
            s.connect(("127.0.0.1", port))
            if made[0] % 2:
                s.send(b"\x00garbage\xff" * 4)
            made[0] += 1
        except OSError:
            pass
        s.close()

for _ in range(4):
    threading.Thread(target=loop, daemon=True).start()
while True:
    time.sleep(0.2)
    print("connections", made[0], flush=True)
"""


def connections_made(proc) -> int:
    lines = [line for line in proc.log().splitlines() if line.startswith("connections ")]
    return int(lines[-1].split()[1]) if lines else 0


def loop_connection_answered(port: int) -> None:
    """One more of the loop's connections, made at a moment of the test's
    choosing: it speaks out of turn and waits for the Engine's refusal, so the
    Engine has accepted it (and the single-slot Engine evicted whoever was
    pending for it)."""
    with socket.socket() as sock:
        sock.settimeout(10)
        sock.bind((STRANGER_ADDRESS, 0))
        sock.connect(("127.0.0.1", port))
        sock.sendall(encode_frame(make(t.HEALTH_CHECK_REQUEST, id="CP1")))
        decoder, answers = FrameDecoder(), []
        while not answers:
            data = sock.recv(4096)
            assert data, "the Engine closed the stranger without a word"
            answers = decoder.feed(data)
        assert answers[0]["code"] == "unauthenticated"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_connect_loop_does_not_starve_the_monitor(procs, tmp_path, runtime):
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    engine = start_engine(procs, tmp_path / "state", sim.link, runtime, "--tick", "0.3",
                          link_key=KEY)  # link_auth_s 5: the Monitor has time enough
    stranger = procs.start("stranger", [sys.executable, "-c", STRANGER, str(engine.port),
                                        STRANGER_ADDRESS])
    wait_until(lambda: connections_made(stranger) >= 20, timeout=10,
               what="the stranger's loop running")
    wait_until(lambda: f"link peer {STRANGER_ADDRESS}:" in engine.log(), timeout=10,
               what="the Engine seeing the loop")

    started = time.monotonic()
    monitor = MonitorProbe("127.0.0.1", engine.port, connect_timeout=5, heartbeat=None)
    # The loop's next connections arrive while the Monitor is mid-handshake
    # (as they would in a real loop on a slow link): made certain, not left to timing.
    for _ in range(3):
        loop_connection_answered(engine.port)
    reply = monitor.authenticate(KEY)
    assert reply.get("status") == "success", reply
    assert time.monotonic() - started < 10
    before = connections_made(stranger)
    for _ in range(3):  # in, and it stays in while the loop goes on
        assert monitor.health()["engine_status"] == "OK"
        time.sleep(0.5)
    assert stranger.alive() and connections_made(stranger) > before
    assert not monitor.closed_by_peer
    log = engine.log()
    assert "Monitor 127.0.0.1:" in log and "authenticated" in log
    assert "Monitor connection from" not in log  # nothing replaced the Monitor
