"""A simulated OCPP 1.6J wallbox in a network (`evcharge demo --ocpp`, docs/OCPP.md):
provisioned at Central like any CP (`evcharge central add-cp`, its secret in a
0600 file), then `python -m evsim.ocpp_charger` connects to Central's --ocpp
listener. Its energy register, in a JSON file, is the billing witness."""
from __future__ import annotations

import json
import secrets
import subprocess
import sys

from evharness.network import Network, NetworkError, wait_ready
from evharness.procs import Proc, bin_path
from evhost.secretfile import write_secret_file


def charger_url(net: Network) -> str:
    scheme = "wss" if net.tls is not None else "ws"
    return f"{scheme}://{net.spec.hub.address}:{net.ocpp_port}/ocpp"


def meter_kwh(net: Network, cp_id: str) -> float:
    """The wallbox's energy register (0 before its first transaction)."""
    try:
        state = json.loads((net.spec.cp_dir(cp_id) / "meter.json").read_text())
    except (OSError, ValueError):
        return 0.0
    return float(state.get("meter_wh", 0.0)) / 1000.0


def start_wallbox(net: Network, cp_id: str, location: str, power_kw: float) -> Proc:
    """Provision cp_id at Central and start its simulated wallbox; returns once booted."""
    if not net.spec.ocpp:
        raise NetworkError("the network's Central runs without --ocpp (NetworkSpec.ocpp)")
    cp_dir = net.spec.cp_dir(cp_id)
    cp_dir.mkdir(parents=True, exist_ok=True)
    secret_file = write_secret_file(cp_dir / "secret", secrets.token_urlsafe(24))
    done = subprocess.run([bin_path("evcharge"), "central", "add-cp", cp_id, *net.spec.db_args(),
                           "--location", location, "--max-kw",
                           f"{power_kw:g}", "--secret-file", str(secret_file)],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise NetworkError(f"add-cp {cp_id} failed: {(done.stderr or done.stdout).strip()}")
    args = [sys.executable, "-m", "evsim.ocpp_charger", "--url", charger_url(net),
            "--cp-id", cp_id, "--secret-file", str(secret_file), "--power-kw", f"{power_kw:g}",
            "--time-scale", f"{net.spec.timers.time_scale:g}", "--meter-interval", "1",
            "--state-file", str(cp_dir / "meter.json")]
    if net.tls is not None:
        args += ["--ca", str(net.tls.ca)]
    proc = net.group.start(f"ocpp-{cp_id}", args, env=net.env)
    net.procs[f"ocpp-{cp_id}"] = proc
    wait_ready(proc, 30)
    return proc
