"""`evcharge demo`: a whole charging network on this machine, with a story.

Starts the local broker (its own process), Central with a fresh database,
N charge points (virtual meter/relay/car + an Engine under MicroPython + a
Monitor each) and two drivers working through services files; mid-run an
Engine is killed and rebooted and an operator stops and resumes a CP. Ends
with a summary and the check that billed energy equals what the meters
measured (exit 0 on PASS, 1 on FAIL), then stops everything with SIGTERM.
--keep leaves the network running for exploring until Ctrl-C.
"""
from __future__ import annotations

import argparse
import os
import select
import shlex
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from evharness import billing
from evharness.central_client import CommandRefused
from evharness.narrative import Narrator, OutputClosed
from evharness.network import Network, NetworkError
from evharness.procs import bin_path, wait_until
from evharness.scenario import DemoRun, Plan
from evharness.spec import CpSpec, NetworkSpec, Timers
from evharness.summary import report
from evhost.logsetup import ENV_LOG_FORMAT, ENV_LOG_LEVEL, add_log_options, setup_logging
from evkafka.broker import parse_hostport

DRIVERS = ["D1", "D2"]
CP_POWERS_KW = [11.0, 7.4, 22.0]
CAR_MAX_KW = 22.0  # the simulated car's own limit at every CP
MAX_CPS = 9
OCPP_CP = "WB1"  # the demo's OCPP wallbox (--ocpp)
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Stop(Exception):
    """SIGTERM, SIGINT or SIGHUP (the terminal closed) asked the demo to stop."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evcharge demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--keep", action="store_true",
                   help="leave the network running after the story, until Ctrl-C")
    p.add_argument("--cps", type=int, default=3, help=f"charge points, 1..{MAX_CPS} (default 3)")
    p.add_argument("--workdir", type=Path,
                   help="where databases, state and logs go (default: a new temp dir)")
    p.add_argument("--runtime", choices=("micropython", "cpython"), default="micropython",
                   help="the Engines' interpreter (default micropython)")
    p.add_argument("--kafka", metavar="HOST:PORT",
                   help="use this Kafka broker instead of starting a local one")
    p.add_argument("--time-scale", type=float, default=30.0,
                   help="simulated seconds per real second on the virtual hardware (default 30)")
    p.add_argument("--kwh", type=float, default=0.8, help="energy per service (default 0.8)")
    p.add_argument("--mqtt", nargs="?", const="embedded", metavar="HOST:PORT",
                   help="also run the MQTT bridge (docs/MQTT.md): on this broker, or without"
                        " HOST:PORT on its embedded one at 127.0.0.1:1883")
    p.add_argument("--ocpp", action="store_true",
                   help=f"add a commercial OCPP 1.6J wallbox ({OCPP_CP}, simulated) beside the "
                        "MicroPython charge points (docs/OCPP.md)")
    add_log_options(p)  # for every process of the network; the story stays on stdout
    return p


def parse(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 1 <= args.cps <= MAX_CPS:
        parser.error(f"--cps must be 1..{MAX_CPS}, got {args.cps}")
    if not 1.0 <= args.time_scale <= 600.0:
        parser.error(f"--time-scale must be 1..600, got {args.time_scale:g}")
    if not 0.05 <= args.kwh <= 20.0:
        parser.error(f"--kwh must be 0.05..20, got {args.kwh:g}")
    if args.kafka:
        try:
            parse_hostport(args.kafka)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"--kafka: {exc}")
    if args.mqtt and args.mqtt != "embedded":
        try:
            parse_hostport(args.mqtt)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"--mqtt: {exc}")
    if args.workdir is not None and (args.workdir / "central.sqlite3").exists():
        parser.error(f"--workdir {args.workdir} holds an earlier network: give a new folder")
    return args


def network_spec(args: argparse.Namespace, workdir: Path) -> NetworkSpec:
    # Central's MAX KW (max_kw) is what the CP delivers to the demo's car: the CP's
    # own limit, which the car (CAR_MAX_KW) never undercuts. A CP registered at 22 kW
    # charging at 11 contradicted the live kW the story shows.
    powers = [CP_POWERS_KW[i % len(CP_POWERS_KW)] for i in range(args.cps)]
    cps = [CpSpec(f"CP{i + 1}", location=f"Plaza Mayor, bay {i + 1}", power_kw=power,
                  car_max_kw=CAR_MAX_KW, max_kw=min(power, CAR_MAX_KW))
           for i, power in enumerate(powers)]
    # On a shared broker a fresh topic prefix keeps earlier runs' records out.
    namespace = f"demo{uuid.uuid4().hex[:8]}." if args.kafka else ""
    return NetworkSpec(workdir, cps=cps, drivers=list(DRIVERS), runtime=args.runtime,
                       kafka=args.kafka, kafka_namespace=namespace, ocpp=args.ocpp,
                       timers=Timers(time_scale=args.time_scale), http=True)


def evcharge_command() -> str:
    """`evcharge` as the user must type it: the bare name only when the shell finds this
    very script on PATH (an activated venv), else its absolute path (works anywhere)."""
    path = bin_path("evcharge")
    return "evcharge" if shutil.which("evcharge") == path else shlex.quote(path)


def explore_help(net: Network) -> str:
    ns = net.spec.kafka_namespace
    env = f"EVCHARGE_KAFKA_NAMESPACE={ns} " if ns else ""
    cp1 = net.spec.cps[0].cp_id
    d1 = f"--id D1 --secret-file {net.spec.driver_secret_file('D1')}"
    ev = evcharge_command()
    return "\n".join([
        "The network keeps running. Explore it from another terminal:",
        f"  {ev} admin --central {net.central_address} "
        f"--admin-token-file {net.spec.admin_token_file} list --watch",
        f"  {env}{ev} driver {d1} --central {net.central_address} --kafka {net.kafka} list",
        f"  {env}{ev} driver {d1} --central {net.central_address} --kafka {net.kafka} "
        f"charge {cp1} --kwh 1",
        f"  {ev} sim-hw --control {net.control_path(cp1)} --send unplug   (the car leaves)",
        f"  web console: {net.http_url} (admin token in {net.spec.admin_token_file}); "
        f"driver page: {net.http_url}driver (D1's secret in "
        f"{net.spec.driver_secret_file('D1')})",
        f"Logs: {net.workdir / 'logs'}. Ctrl-C stops everything.",
    ])


def tell(net: Network, say: Narrator, args: argparse.Namespace) -> bool:
    """The whole story; True when billing matched the meters."""
    broker = f"the broker at {args.kafka}" if args.kafka else "a local broker"
    say.say(f"starting the network in {net.workdir}: {broker}, Central, {args.cps} charge "
            f"point(s) with Engines on {args.runtime}, drivers {', '.join(DRIVERS)}")
    net.start()
    say.say(f"network up: Central at {net.central_address}, Kafka at {net.kafka}, price "
            f"{net.spec.price_per_kwh:.2f} EUR/kWh")
    say.say(f"web console at {net.http_url} (sign in with the admin token in "
            f"{net.spec.admin_token_file})")
    if args.mqtt:
        from evharness.mqtt_demo import start_bridge, watch_help

        start_bridge(net, args.mqtt)
        say.say("MQTT bridge up (Home Assistant discovery under homeassistant/)")
        say.plain(watch_help(args.mqtt))
    meters_before = {cp.cp_id: net.meter_kwh(cp.cp_id) for cp in net.spec.cps}
    if args.ocpp:
        from evharness import ocpp

        ocpp.start_wallbox(net, OCPP_CP, "Plaza Mayor, wallbox", 11.0)
        say.say(f"OCPP wallbox {OCPP_CP} connected at {ocpp.charger_url(net)} (OCPP 1.6J, "
                "HTTP Basic)")
        meters_before[OCPP_CP] = ocpp.meter_kwh(net, OCPP_CP)
    cp_ids = [cp.cp_id for cp in net.spec.cps]
    story = DemoRun(net, say, Plan(kwh_per_service=args.kwh, crash_cp=cp_ids[0],
                                   stop_cp=cp_ids[-1]))
    story.play(net.workdir)
    if args.ocpp:
        say.say(f"D1 charges {args.kwh:g} kWh at the OCPP wallbox {OCPP_CP}: RemoteStart, "
                "MeterValues, RemoteStop, StopTransaction")
        done = net.driver("D1", "charge", OCPP_CP, "--kwh", f"{args.kwh:g}", timeout=300)
        if done.returncode != 0:
            say.say(f"charging at {OCPP_CP} failed: {done.stderr.strip()[-300:]}", "fail")
    say.say("both drivers are done; waiting until Central has finalised every session")
    wait_until(lambda: all(s["finalised"] for s in net.db_sessions()), timeout=60,
               what="every session finalised at Central")
    meters_after = {cp_id: net.meter_kwh(cp_id) for cp_id in cp_ids}
    if args.ocpp:
        meters_after[OCPP_CP] = ocpp.meter_kwh(net, OCPP_CP)
    sessions = net.db_sessions()
    checks = billing.meter_checks(sessions, meters_before, meters_after)
    return report(say, sessions, DRIVERS, checks, story.driver_problems())


def output_closed(stream: TextIO) -> bool:
    """True when the stream is a pipe whose reader has gone (poll says POLLERR)."""
    try:
        poller = select.poll()
        poller.register(stream.fileno(), 0)  # 0: only error and hang-up events
        return bool(poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False


def wait_for_stop(stream: TextIO = sys.stdout) -> None:
    """Until a signal raises Stop; a closed output (`| tee` ended by the same Ctrl-C)
    stops the network too, even when no signal reaches the demo."""
    while not output_closed(stream):
        time.sleep(1.0)
    raise OutputClosed()


_signalled: list[int] = []


def _raise_stop(signum: int, frame: object) -> None:
    # Once: a second signal (SIGHUP then SIGTERM when a terminal closes) must not
    # interrupt the handler of the first before the shutdown has begun.
    if not _signalled:
        _signalled.append(signum)
        raise Stop()


def quietly(say: Callable[..., None], *args: str) -> None:
    """A line that may find stdout closed: the shutdown goes on regardless."""
    try:
        say(*args)
    except OutputClosed:
        pass


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="evcharge-demo-"))
    # Through the environment every program reads (evhost.logsetup, the Engine's runner,
    # the Monitor's config), so each process the harness starts logs alike.
    os.environ[ENV_LOG_LEVEL], os.environ[ENV_LOG_FORMAT] = args.log_level, args.log_format
    setup_logging(args, "evcharge-demo")
    say = Narrator()
    net = Network(network_spec(args, workdir))
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise_stop)
    code = EXIT_FAILED
    finished = False
    try:
        code = EXIT_OK if tell(net, say, args) else EXIT_FAILED
        finished = True
        if args.keep:
            say.plain()
            say.plain(explore_help(net))
            wait_for_stop()
    except Stop:
        quietly(say.say, "stopping on request")
        code = code if finished else EXIT_INTERRUPTED
    except OutputClosed:  # nobody reads the story any more: stop, do not orphan the network
        code = code if finished else EXIT_INTERRUPTED
    except (NetworkError, CommandRefused, TimeoutError, OSError) as exc:
        quietly(say.say, f"evcharge demo: {exc}", "fail")
        code = EXIT_FAILED
    finally:
        # A second Ctrl-C (or the SIGHUP of a closing terminal) must not cut the
        # shutdown short.
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        quietly(say.say, "stopping every process (SIGTERM)")
        net.close()
        quietly(say.say, f"stopped; logs and databases kept in {workdir}")
    return code


if __name__ == "__main__":
    sys.exit(main())
