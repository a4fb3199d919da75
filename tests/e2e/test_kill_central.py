"""Kill matrix 4: Central dies mid-session (grading guide)."""
import socket
import time

from e2ekit import assert_billed_once, json_lines, session_id_of, wait_charging, wait_finalised

from evharness.procs import wait_until


def assert_fails_cleanly(done, exit_code: int) -> str:
    """One error line (a JSON result for the driver), the given exit code, no traceback."""
    assert done.returncode == exit_code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_central_killed_mid_session_the_session_completes_and_is_billed_after_restart(
        make_network):
    net = make_network(cps=("CP1", "CP2"), drivers=("D1", "D2"))
    meter_before = net.meter_kwh("CP1")
    run = net.start_driver("D1", "charge", "CP1")
    session_id = session_id_of(run)
    wait_charging(run)

    net.kill_central()
    # New requests fail cleanly, and at once, while Central is down (its port refuses).
    started = time.monotonic()
    listing = net.driver("D2", "--timeout", "3", "list")
    line = assert_fails_cleanly(listing, 3)
    assert "cannot reach Central" in line and "Connection refused" in line
    assert time.monotonic() - started < 3, "a refused port is said at once, not after --timeout"
    assert [e["result"] for e in json_lines(listing.stdout) if "result" in e] == ["error"]
    assert "cannot reach Central" in assert_fails_cleanly(net.admin("list"), 3)

    net.sim("CP1", "unplug")  # the session ends at the CP while Central is away
    wait_until(lambda: not net.sim("CP1", "status")["relay_closed"], timeout=20,
               what="the Engine ending the session")
    assert run.alive(), "the driver keeps waiting for its ticket"

    net.start_central()
    net.wait_state("CP1", "AVAILABLE", timeout=30)
    net.wait_state("CP2", "AVAILABLE", timeout=30)
    session = wait_finalised(net, session_id)
    assert session["reason"] == "unplugged"
    assert run.wait(60) == 0, run.proc.log()
    assert_billed_once(net, "CP1", meter_before, run.events())


def test_a_charge_request_refused_while_central_is_down_does_not_start_later(make_network):
    net = make_network(drivers=("D2",))
    net.kill_central()
    # A hung Central (its port accepts, nothing answers): the driver's socket times out
    # and the request really goes by Kafka, where it waits on driver-requests.
    hung = socket.create_server((net.central_address.rsplit(":", 1)[0], net.central_port))
    try:
        # Long enough for a loaded broker to take the record (a shorter one can end
        # before the produce is acknowledged, and then there is no request to expire).
        refused = net.driver("D2", "--timeout", "8", "charge", "CP1")
    finally:
        hung.close()
    line = assert_fails_cleanly(refused, 3)
    # Both paths were tried and Kafka took the request: only the answer did not come.
    assert "did not answer on Kafka" in line, line

    central = net.start_central()
    # The driver was told the request failed: no session may start behind its back
    # (the Kafka fallback left the request on driver-requests for Central to find).
    # Central reads it at once on its restart, often before CP1 is back, when "CP1 is
    # disconnected" would refuse it anyway: so wait for the expiry itself, Central's
    # line for it, not for a time that proves nothing (the request may still be unread).
    wait_until(lambda: "from D2 expired: expired" in central.log(), timeout=30,
               what="Central refusing the stale request as expired")
    net.wait_state("CP1", "AVAILABLE", timeout=30)
    assert net.db_sessions() == []
    assert net.cp_state("CP1") == "AVAILABLE"
