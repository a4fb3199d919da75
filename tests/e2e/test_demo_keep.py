"""`evcharge demo --keep`: the network stays up for exploring until Ctrl-C."""
import json
import os
import re
import shlex
import signal
import subprocess

from evharness.procs import bin_path, port_open, wait_until

KEEP_BANNER = "The network keeps running"


def suggested(log: str, program: str) -> list[str]:
    """The command line the demo suggests for `program` (env assignments included)."""
    explore = log.split(KEEP_BANNER, 1)[1]
    line = next(line for line in explore.splitlines() if f"evcharge {program} " in line)
    words = shlex.split(line)
    env = [w for w in words if "=" in w and w.split("=")[0].isupper()]
    start = words.index("evcharge")
    return env + [bin_path("evcharge")] + words[start + 1:]


def run(words: list[str], state_home=None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("EVCHARGE_KAFKA_NAMESPACE", None)
    if state_home is not None:  # the driver's ticket book: not in the tester's home
        env["XDG_STATE_HOME"] = str(state_home)
    while words and "=" in words[0]:
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    return subprocess.run(words, capture_output=True, text=True, timeout=60, env=env)


def test_demo_keep_leaves_the_network_running_until_ctrl_c(procs, tmp_path):
    demo = procs.evcharge("demo", ["demo", "--keep", "--cps", "2",
                                   "--workdir", str(tmp_path / "demo")])
    wait_until(lambda: KEEP_BANNER in demo.log() or not demo.alive(), timeout=240,
               what="the demo's --keep banner")
    log = demo.log()
    assert demo.alive() and "PASS: every kWh" in log, log

    admin = suggested(log, "admin")
    assert admin[-2:] == ["list", "--watch"]
    listing = run(admin[:-2] + ["--json", "list"])  # one look instead of --watch
    assert listing.returncode == 0, listing.stderr
    states = {cp["cp_id"]: cp["status"] for cp in json.loads(listing.stdout)["data"]}
    assert states == {"CP1": "AVAILABLE", "CP2": "AVAILABLE"}
    driver = run(suggested(log, "driver"), state_home=tmp_path / "state")
    assert driver.returncode == 0, driver.stderr
    assert "CP1" in driver.stdout and "CP2" in driver.stdout

    central = re.search(r"--central ([\d.]+):(\d+)", log)
    os.kill(demo.pid, signal.SIGINT)  # what Ctrl-C sends
    assert demo.popen.wait(60) == 0
    assert not port_open(central[1], int(central[2]))
