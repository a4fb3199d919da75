"""`evcharge engine`: run the Engine firmware on a PC, under CPython or MicroPython.

Builds the firmware's JSON config from the options, writes it to the state
directory, and runs firmware/main.py's Engine in this process (--runtime
cpython) or under the micropython binary (--runtime micropython), forwarding
SIGTERM and the exit code. --sim starts the virtual hardware as a child and
stops it with the Engine. Every option works with either runtime, except the
GPIO/PWM ones (--relay gpio, --relay-pin, --vehicle-pin, --pilot pwm), which
need a board's `machine` module. This runner is CPython (not in the board bundle).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from evengine.config import ConfigError, check
from evhost.cliout import CommandError, ConfigProblem, UsageError

ROOT = Path(__file__).resolve().parents[2]
MAIN_PY = ROOT / "firmware" / "main.py"
MAX_SOCKET_PATH = 100  # sockaddr_un holds 107 bytes; keep a margin
SIM_READY_TIMEOUT_S = 20.0
SIM_CARD_READER_UNIT = 3  # `evcharge sim-hw` serves a card reader there


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise UsageError(message)


def _heapsize(text: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]*[kKmM]?", text):
        raise argparse.ArgumentTypeError(f"heap size must look like 64k or 2M, not {text!r}")
    return text


def parser() -> argparse.ArgumentParser:
    """The options (for `evcharge completion`)."""
    return build_parser()


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="evcharge engine", description=__doc__.split("\n\n")[0])
    p.add_argument("--cp-id", required=True, help="this charge point's id, e.g. CP1")
    p.add_argument("--listen", help="HOST:PORT where the Monitor connects")
    p.add_argument("--serial-link", help="run the Monitor link over this tty/pty instead")
    p.add_argument("--serial-baud", type=int, default=115200, help="serial link speed")
    p.add_argument("--link-key-file", metavar="FILE",
                   help="file (mode 0600) holding the link key the Monitor must prove it holds; "
                        "without one the Engine listens on loopback only")
    p.add_argument("--link-auth-timeout", type=float, default=5.0,
                   help="seconds a new Monitor connection has to authenticate")
    p.add_argument("--meter", help="serial device of the Modbus bus (meter, relay module)")
    p.add_argument("--meter-unit", type=int, default=1, help="the meter's Modbus unit id")
    p.add_argument("--meter-baud", type=int, default=9600, help="Modbus bus speed")
    p.add_argument("--relay", choices=("modbus", "gpio"), default="modbus",
                   help="contactor on a Modbus relay module or a GPIO pin (gpio: a board only)")
    p.add_argument("--relay-unit", type=int, default=2, help="the relay module's unit id")
    p.add_argument("--relay-coil", type=int, default=0, help="the contactor's coil address")
    p.add_argument("--relay-pin", type=int, help="GPIO pin of the contactor (--relay gpio)")
    p.add_argument("--vehicle-pin", type=int,
                   help="GPIO pin of the plugged-in signal (else the relay module's input 0)")
    p.add_argument("--card-reader-unit", type=int,
                   help="Modbus unit of an RFID card reader on the bus (with --sim: 3)")
    p.add_argument("--connection-timeout", type=float, default=60.0,
                   help="seconds an authorised session waits for a vehicle to be plugged in "
                        "(reason no_vehicle after that; a start command's "
                        "connection_timeout_s wins)")
    p.add_argument("--state-dir", help="where the session state is kept "
                   "(default ~/.local/state/evcharge/engine-CP_ID)")
    p.add_argument("--runtime", choices=("cpython", "micropython"), default="cpython",
                   help="run the firmware in this process or under the micropython binary")
    p.add_argument("--heapsize", type=_heapsize, default="256k",
                   help="micropython -X heapsize (micropython runtime)")
    p.add_argument("--sim", action="store_true", help="start the virtual hardware too")
    p.add_argument("--sim-unplugged", action="store_true", help="no car plugged in at start")
    p.add_argument("--sim-time-scale", type=float, default=1.0,
                   help="simulated seconds per real second")
    p.add_argument("--sim-power-kw", type=float, help="the simulated supply's power limit")
    p.add_argument("--sim-battery-kwh", type=float, help="the simulated car's battery")
    p.add_argument("--sim-soc", type=float, help="the simulated car's state of charge, %%")
    p.add_argument("--sim-control", help="the simulator's control socket (key menu plug/unplug)")
    p.add_argument("--monitor-grace", type=float, default=10.0,
                   help="seconds without a Monitor before a session ends (monitor_lost)")
    p.add_argument("--monitor-silence", type=float, default=5.0,
                   help="seconds of silence after which a Monitor counts as gone")
    p.add_argument("--tick", type=float, default=1.0,
                   help="seconds between hardware polls and charging_data")
    p.add_argument("--ev-full-kw", type=float, default=0.05,
                   help="power below which the car counts as finished")
    p.add_argument("--ev-full-s", type=float, default=10.0,
                   help="... for this many seconds (reason ev_full)")
    p.add_argument("--meter-fail-polls", type=int, default=3,
                   help="consecutive failed meter polls that make a fault")
    p.add_argument("--meter-estimate-s", type=float, default=60.0,
                   help="how long a finished session waits for a final meter reading")
    p.add_argument("--safe-limit-kw", type=float, default=4.2,
                   help="the power offered when a site limit is not renewed in time")
    p.add_argument("--limit-hold", type=float, default=60.0,
                   help="seconds a set_charging_limit without hold_s is kept")
    p.add_argument("--phases", type=int, choices=(1, 3), default=3,
                   help="phases wired to the EVSE (kW -> amperes per phase)")
    p.add_argument("--max-current", type=float, default=32.0,
                   help="the CP's maximum current per phase, A")
    p.add_argument("--pilot", choices=("modbus", "pwm", "none"), default="modbus",
                   help="the control pilot: EVSE holding register, PWM pin, or none")
    p.add_argument("--menu", choices=("auto", "on", "off"), default="auto",
                   help="the key menu (auto: when stdin is a terminal)")
    p.add_argument("--log-level", choices=LOG_LEVELS, default=env_log_level(),
                   help="least severe line logged (default: $EVCHARGE_LOG_LEVEL, else info); "
                        "debug traces every message by message_id")
    return p


# The same option and environment variable as every other program (evhost.logsetup,
# which this runner does not import: the firmware's contract allows it only secret
# files and the binary's path).
LOG_LEVELS = ("debug", "info", "notice", "warning", "error")


def env_log_level() -> str:
    value = os.environ.get("EVCHARGE_LOG_LEVEL", "").strip().lower()
    return value if value in LOG_LEVELS else "info"


def engine_config(args: argparse.Namespace, state_dir: Path) -> dict:
    """The firmware's config for these options (checked by the firmware's rules)."""
    if args.sim and args.meter:
        raise UsageError("--sim starts its own virtual meter: leave out --meter")
    if not args.sim and not args.meter:
        raise UsageError("--meter PATH is required (or --sim for virtual hardware)")
    for flag in ("sim_unplugged", "sim_power_kw", "sim_battery_kwh", "sim_soc"):
        if getattr(args, flag) not in (None, False) and not args.sim:
            raise UsageError(f"--{flag.replace('_', '-')} needs --sim")
    if args.sim_time_scale != 1.0 and not args.sim:
        raise UsageError("--sim-time-scale needs --sim")
    raw = {
        "cp_id": args.cp_id, "listen": args.listen, "serial_link": args.serial_link,
        "serial_baud": args.serial_baud, "link_key": link_key(args.link_key_file),
        "link_auth_s": args.link_auth_timeout, "meter": args.meter or str(state_dir / "sim.link"),
        "meter_unit": args.meter_unit, "meter_baud": args.meter_baud, "relay": args.relay,
        "relay_unit": args.relay_unit, "relay_coil": args.relay_coil,
        "relay_pin": args.relay_pin, "vehicle_pin": args.vehicle_pin,
        "card_reader_unit": args.card_reader_unit if args.card_reader_unit is not None
        else (SIM_CARD_READER_UNIT if args.sim else None),
        "connection_timeout_s": args.connection_timeout,
        "state_dir": str(state_dir), "tick_s": args.tick,
        "monitor_grace_s": args.monitor_grace, "monitor_silence_s": args.monitor_silence,
        "ev_full_kw": args.ev_full_kw,
        "ev_full_s": args.ev_full_s, "meter_fail_polls": args.meter_fail_polls,
        "meter_estimate_s": args.meter_estimate_s, "menu": args.menu,
        "sim_control": args.sim_control or (str(sim_control_path(state_dir, args.cp_id))
                                            if args.sim else None),
        "log_level": args.log_level,
        "safe_limit_kw": args.safe_limit_kw, "limit_hold_s": args.limit_hold,
        "phases": args.phases, "max_current_a": args.max_current, "pilot": args.pilot,
    }
    try:
        return check(raw)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def link_key(path: str | None) -> str | None:
    """The link key from its file (0600; a key never goes on the command line)."""
    if path is None:
        return None
    from evhost.secretfile import SecretFileError, read_secret_file

    try:
        return read_secret_file(path)
    except SecretFileError as exc:
        raise ConfigProblem(f"--link-key-file: {exc}") from None


def write_private(path: Path, text: str) -> None:
    """The config holds the link key: readable by its owner only, also if it existed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(text)


def sim_control_path(state_dir: Path, cp_id: str) -> Path:
    path = state_dir / "sim.ctl"
    if len(str(path).encode()) <= MAX_SOCKET_PATH:
        return path
    # A Unix socket path has a hard length limit; deep state dirs fall back to /tmp.
    return Path(tempfile.gettempdir()) / f"evcharge-sim-{cp_id}-{os.getpid()}.ctl"


def start_simulator(args: argparse.Namespace, config: dict) -> subprocess.Popen:
    link = Path(config["meter"])
    if link.is_symlink():
        link.unlink()  # left by a simulator that was killed
    argv = [sys.executable, "-m", "evcharge.cli", "sim-hw", "--link", str(link),
            "--control", config["sim_control"], "--time-scale", str(args.sim_time_scale)]
    if args.sim_unplugged:
        argv.append("--unplugged")
    for flag, value in (("--power-kw", args.sim_power_kw), ("--battery-kwh", args.sim_battery_kwh),
                        ("--soc", args.sim_soc)):
        if value is not None:
            argv += [flag, str(value)]
    sim = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    ready = threading.Event()
    threading.Thread(target=_relay_output, args=(sim, ready), daemon=True).start()
    deadline = time.monotonic() + SIM_READY_TIMEOUT_S
    while not ready.wait(0.05) and time.monotonic() < deadline and sim.poll() is None:
        pass
    if not ready.is_set():
        stop_process(sim)
        raise RuntimeError("the virtual hardware did not start (exit code %s)" % sim.returncode)
    return sim


def _relay_output(sim: subprocess.Popen, ready: threading.Event) -> None:
    # Pass the simulator's stdout on (its "ready" line first) so its pipe never fills.
    for line in sim.stdout:
        sys.stdout.write("sim: " + line)
        sys.stdout.flush()
        if "ready" in line:
            ready.set()


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def run_cpython(config: dict) -> int:
    from evengine.app import run

    def interrupt(_signum, _frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        return run(config)
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_micropython(config_path: Path, heapsize: str) -> int:
    from evhost.ports import micropython_binary

    env = dict(os.environ, MICROPYPATH=f"{ROOT / 'firmware'}:{ROOT / 'shared'}")
    argv = [micropython_binary(), "-X", f"heapsize={heapsize}", str(MAIN_PY), str(config_path)]
    try:
        child = subprocess.Popen(argv, env=env)
    except OSError as exc:
        raise RuntimeError(f"cannot start micropython: {exc}") from None

    stopping = []

    def forward(_signum, _frame):
        # The unix port has no signal module: SIGINT is what it turns into
        # KeyboardInterrupt, so the Engine shuts down cleanly (relay open).
        stopping.append(True)
        if child.poll() is None:
            child.send_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                return micropython_exit(child.wait(), bool(stopping))
            except KeyboardInterrupt:
                # Ctrl-C at the terminal reached the child too (same process
                # group, which it needs to read the key menu): just wait for it.
                stopping.append(True)
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)


def micropython_exit(returncode: int, stopping: bool) -> int:
    """This command's exit status for the micropython child's. A SIGTERM to the whole
    process group (systemd, a supervisor's killpg) reaches the child too, and the unix
    port dies of it at once: asked to stop, that is a stop (0), as with --runtime
    cpython; any other death by signal N is 128 + N, as a shell reports it (not the
    256 - N a negative status would become)."""
    if returncode >= 0:
        return returncode
    signum = -returncode
    if stopping and signum in (signal.SIGTERM, signal.SIGINT):
        return 0
    return 128 + signum


def main(argv: list[str]) -> int:
    # Typed errors (evhost.cliout) become the one `evcharge engine: error:` line in
    # hub/evcharge/cli.py, with their exit code.
    args = build_parser().parse_args(argv)
    state_dir = Path(args.state_dir or f"~/.local/state/evcharge/engine-{args.cp_id}")
    state_dir = state_dir.expanduser().resolve()
    config = engine_config(args, state_dir)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        config_path = state_dir / "config.json"
        write_private(config_path, json.dumps(config, indent=2) + "\n")
    except OSError as exc:
        raise ConfigProblem(f"cannot write to {state_dir}: {exc.strerror}") from None
    sim = None
    try:
        if args.sim:
            sim = start_simulator(args, config)
        if args.runtime == "micropython":
            return run_micropython(config_path, args.heapsize)
        return run_cpython(config)
    except RuntimeError as exc:
        raise CommandError(str(exc)) from None
    finally:
        if sim is not None:
            stop_process(sim)
