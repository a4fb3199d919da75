"""`evcharge demo` (what `make demo` runs), started as a user would."""
import os
import re
import subprocess

import pytest

from evharness.procs import bin_path, port_open


def run_demo(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "EVCHARGE_KAFKA_NAMESPACE"}
    return subprocess.run([bin_path("evcharge"), "demo", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def addresses(output: str) -> list[tuple[str, int]]:
    """Central's and the broker's addresses from the 'network up' line."""
    found = re.search(r"Central at ([\d.]+):(\d+), Kafka at ([\d.]+):(\d+)", output)
    assert found, output
    return [(found[1], int(found[2])), (found[3], int(found[4]))]


def test_demo_tells_the_story_checks_billing_and_stops_everything(tmp_path):
    workdir = tmp_path / "demo"
    done = run_demo("--workdir", str(workdir))
    out = done.stdout
    assert done.returncode == 0, out[-4000:] + done.stderr[-2000:]
    for step in ("D1 asks CP1 for a charge", "kill -9 the Engine of CP1",
                 "CP1 CHARGING -> FAULTED", "CP1 FAULTED -> AVAILABLE",
                 "evcharge admin stop CP3", "CP3 STOPPED -> AVAILABLE", "ticket from CP1",
                 "Per driver:", "meter measured", "PASS: every kWh"):
        assert step in out, f"{step!r} missing from the narrative:\n{out}"
    assert len(re.findall(r"^  CP\d: .* PASS$", out, re.M)) == 3
    assert "Traceback" not in out + done.stderr
    # Everything stopped: nothing listens any more, and the logs stay for reading.
    for host, port in addresses(out):
        assert not port_open(host, port), f"{host}:{port} still open after the demo"
    for name in ("broker", "central", "engine-CP1", "engine-CP1.1", "monitor-CP3"):
        assert (workdir / "logs" / f"{name}.log").stat().st_size > 0
    assert (workdir / "drivers" / "D2" / "events.jsonl").stat().st_size > 0


@pytest.mark.parametrize("args, complaint", [
    (["--cps", "0"], "--cps must be 1..9"),
    (["--runtime", "java"], "invalid choice: 'java'"),
    (["--kafka", "nowhere"], "--kafka: expected HOST:PORT"),
    (["--kwh", "-1"], "--kwh must be"),
])
def test_demo_bad_arguments_get_a_usage_error(args, complaint):
    done = run_demo(*args, timeout=30)
    assert done.returncode == 2
    assert complaint in done.stderr and "Traceback" not in done.stderr


def test_demo_refuses_a_workdir_that_holds_an_earlier_network(tmp_path):
    (tmp_path / "central.sqlite3").write_text("")
    done = run_demo("--workdir", str(tmp_path), timeout=30)
    assert done.returncode == 2 and "holds an earlier network" in done.stderr


def test_demo_with_an_unreachable_broker_fails_with_one_clear_line(tmp_path):
    done = run_demo("--kafka", "127.0.0.1:1", "--workdir", str(tmp_path / "d"), timeout=60)
    assert done.returncode == 1
    assert "cannot reach the Kafka broker at 127.0.0.1:1" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
