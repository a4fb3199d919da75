"""`evcharge demo --keep`: the network stays up for exploring until Ctrl-C."""
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from evharness.procs import ROOT, port_open, wait_until

KEEP_BANNER = "The network keeps running"
VENV_BIN = str(Path(sys.executable).parent)


def suggested(log: str, program: str) -> str:
    """The command line the demo suggests for `program`, exactly as printed."""
    explore = log.split(KEEP_BANNER, 1)[1]
    return next(line for line in explore.splitlines() if f"evcharge {program} " in line).strip()


def run(line: str, state_home=None) -> subprocess.CompletedProcess:
    """The line typed into a shell in the repository, the venv not activated."""
    env = dict(os.environ)
    env.pop("EVCHARGE_KAFKA_NAMESPACE", None)
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = os.pathsep.join(d for d in env.get("PATH", "").split(os.pathsep)
                                  if d and Path(d).resolve() != Path(VENV_BIN).resolve())
    if state_home is not None:  # the driver's ticket book: not in the tester's home
        env["XDG_STATE_HOME"] = str(state_home)
    return subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=60,
                          env=env, cwd=ROOT)


def test_demo_keep_leaves_the_network_running_until_ctrl_c(procs, tmp_path):
    demo = procs.evcharge("demo", ["demo", "--keep", "--cps", "2",
                                   "--workdir", str(tmp_path / "demo")])
    wait_until(lambda: KEEP_BANNER in demo.log() or not demo.alive(), timeout=240,
               what="the demo's --keep banner")
    log = demo.log()
    assert demo.alive() and "PASS: every kWh" in log, log

    admin = suggested(log, "admin")
    assert admin.endswith(" list --watch")
    listing = run(admin.removesuffix(" list --watch") + " --json list")  # one look
    assert listing.returncode == 0, listing.stderr
    cps = json.loads(listing.stdout)["data"]
    states = {cp["cp_id"]: cp["status"] for cp in cps}
    assert states == {"CP1": "AVAILABLE", "CP2": "AVAILABLE"}
    # MAX KW is what the CP delivers to the demo's car: 11 and 7.4 kW, as charged.
    assert {cp["cp_id"]: cp["max_charging_rate_kw"] for cp in cps} == {"CP1": 11, "CP2": 7.4}
    driver = run(suggested(log, "driver"), state_home=tmp_path / "state")
    assert driver.returncode == 0, driver.stderr
    assert "CP1" in driver.stdout and "CP2" in driver.stdout

    central = re.search(r"--central ([\d.]+):(\d+)", log)
    os.kill(demo.pid, signal.SIGINT)  # what Ctrl-C sends
    assert demo.popen.wait(60) == 0
    assert not port_open(central[1], int(central[2]))


def test_demo_cps_register_the_power_they_deliver(tmp_path):
    """Central's MAX KW for each demo CP equals what its simulated CP gives the car."""
    from evharness import commands
    from evharness.demo import network_spec, parse

    spec = network_spec(parse(["--cps", "3"]), tmp_path)
    for cp in spec.cps:
        assert cp.max_kw == min(cp.power_kw, cp.car_max_kw), cp
        sim = commands.sim_hw(cp, tmp_path, spec.timers)
        assert sim[sim.index("--car-max-kw") + 1] == f"{cp.car_max_kw:g}"
