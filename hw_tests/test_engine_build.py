"""`make firmware` and `make flash`: the bundle builds, runs under the
MicroPython unix port from its .mpy files alone, and the flashing command is
what mpremote needs (dry run: no board here)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from evengine.probe import MonitorProbe
from evharness.engine import wait_ready
from evharness.procs import ROOT, free_port, micropython_binary
from evharness.sim import start_sim

TOOLS = ROOT / "tools"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("firmware") / "bundle"
    done = subprocess.run([sys.executable, str(TOOLS / "build_firmware.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return out, done.stdout


def test_bundle_holds_every_portable_module_compiled(bundle):
    out, report = bundle
    # Left out: what runs on CPython only, and evwire.auth (the Monitor's).
    for package, folder, left_out in (
            ("evengine", ROOT / "firmware" / "evengine",
             {"cli", "probe", "harness", "serial_pyserial"}),
            ("evwire", ROOT / "shared" / "evwire", {"cbor2_codec", "auth"})):
        compiled = {p.stem for p in (out / package).glob("*.mpy")}
        sources = {p.stem for p in folder.glob("*.py")} - left_out
        assert compiled == sources
        assert not list((out / package).glob("*.py"))
    assert (out / "main.py").read_text() == (ROOT / "firmware" / "main.py").read_text()
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    assert f"{total} bytes" in report  # the size `make firmware` prints is the real one


def test_the_bundle_runs_a_session_under_micropython(bundle, procs, tmp_path):
    out, _report = bundle
    sim = start_sim(procs, tmp_path, "--time-scale", "30")
    port = free_port()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"cp_id": "CP1", "listen": f"127.0.0.1:{port}",
                                  "meter": str(sim.link), "state_dir": str(tmp_path / "state"),
                                  "tick_s": 0.3, "menu": "off"}))
    # Only the bundle on the path, run from an empty directory: no source file can help.
    empty = tmp_path / "cwd"
    empty.mkdir()
    proc = procs.start("engine-mpy", [micropython_binary(), "-X", "heapsize=256k",
                                      str(out / "main.py"), str(config)],
                       env={"MICROPYPATH": str(out)}, cwd=empty)
    wait_ready(proc)
    probe = MonitorProbe("127.0.0.1", port)
    assert probe.health()["engine_status"] == "OK"
    assert probe.start("S1")["status"] == "success"
    assert probe.wait_type("charging_data")["session_id"] == "S1"
    assert probe.stop("S1")["status"] == "success"
    done = probe.wait_type("charge_completion")
    assert done["meter_stop_kwh"] > done["meter_start_kwh"]
    assert "heap in use at start" in proc.log()


def _flash(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOLS / "flash_board.py"), *args],
                          capture_output=True, text=True, timeout=60)


def test_flash_dry_run_shows_the_mpremote_command(bundle):
    out, _report = bundle
    config = ROOT / "firmware" / "board_config.example.json"
    done = _flash("--port", "/dev/ttyUSB7", "--config", str(config), "--bundle", str(out),
                  "--dry-run")
    assert done.returncode == 0, done.stderr
    command = done.stdout.strip()
    assert "connect /dev/ttyUSB7 fs cp -r" in command
    assert f"{out / 'evengine'} {out / 'evwire'} :" in command
    assert f"fs cp {config} :config.json" in command and command.endswith("+ reset")
    done = _flash("--port", "/dev/ttyUSB7", "--config", str(config), "--bundle", str(out),
                  "--dry-run", "--romfs")
    assert "romfs --no-mpy deploy" in done.stdout
    assert (out / "rom" / "evengine" / "app.mpy").exists()


def test_flash_refuses_a_bad_config_or_a_missing_bundle(tmp_path):
    bad = tmp_path / "board.json"
    bad.write_text('{"cp_id": "CP1", "meter": "uart:1", "listen": "0.0.0.0:5000", "relay": "x"}')
    done = _flash("--port", "/dev/ttyUSB0", "--config", str(bad), "--dry-run")
    assert done.returncode == 2 and "'relay' must be one of modbus, gpio" in done.stderr
    assert "Traceback" not in done.stderr
    good = ROOT / "firmware" / "board_config.example.json"
    done = _flash("--port", "/dev/ttyUSB0", "--config", str(good), "--bundle",
                  str(tmp_path / "nothing"), "--dry-run")
    assert done.returncode == 1 and "make firmware" in done.stderr
