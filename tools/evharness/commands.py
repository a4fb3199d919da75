"""The command lines of every program, in one place (docs/INTERNALS.md, as the code has them).

Each function returns the argv after `evcharge`; `on_host` puts the console
script (and a host's `ip netns exec NS` prefix) in front.
"""
from __future__ import annotations

from pathlib import Path

from evharness.procs import bin_path
from evharness.spec import CpSpec, Host, NetworkSpec, Timers
from evkafka.names import ENV_NAMESPACE

ENV_KAFKA_NAMESPACE = ENV_NAMESPACE


def on_host(host: Host, args: list[str]) -> list[str]:
    return [*host.prefix, bin_path("evcharge"), *args]


def _num(value: float) -> str:
    return f"{value:g}"


def broker(listen: str) -> list[str]:
    return ["broker", "--listen", listen]


def provisioning(spec: NetworkSpec) -> list[list[str]]:
    """One `evcharge central add-cp` per CP and `add-driver` per driver."""
    db = spec.db_args()
    steps = [["central", "add-site", site, *db, "--max-kw", _num(max_kw)]
             for site, max_kw in spec.sites.items()]
    for cp in spec.cps:
        steps.append(["central", "add-cp", cp.cp_id, *db, "--location", cp.location,
                      "--max-kw", _num(cp.max_kw),
                      "--secret-file", str(spec.cp_secret_file(cp.cp_id))]
                     + (["--site", cp.site] if cp.site else []))
    for driver_id in spec.drivers:  # Network.provision writes each secret file first
        steps.append(["central", "add-driver", driver_id, *db,
                      "--secret-file", str(spec.driver_secret_file(driver_id))])
    return steps


def central(spec: NetworkSpec, listen: str, kafka: str) -> list[str]:
    args = ["central", "--listen", listen, *spec.db_args(), "--kafka", kafka,
            "--price-per-kwh", _num(spec.price_per_kwh),
            "--admin-token-file", str(spec.admin_token_file),
            "--heartbeat-timeout", _num(spec.timers.heartbeat_timeout_s),
            # the virtual hardware runs time_scale times faster: so may its energy
            "--time-scale", _num(spec.timers.time_scale)]
    if spec.require_known_drivers:
        args.append("--require-known-drivers")
    return args


def meter_link(cp_dir: Path) -> Path:
    """The simulator's pty link, which the Engine opens as its Modbus bus."""
    return cp_dir / "meter"


def sim_control(cp_dir: Path) -> Path:
    """The simulator's control socket (a Unix socket: keep the path short)."""
    return cp_dir / "meter.ctl"


def sim_hw(cp: CpSpec, cp_dir: Path, timers: Timers, meter_start: float = 0.0,
           plugged: bool | None = None) -> list[str]:
    """The CP's virtual hardware; meter_start and plugged restart it as it was
    (the simulator keeps nothing on disk: a power cut is given its register back)."""
    args = ["sim-hw", "--link", str(meter_link(cp_dir)), "--control", str(sim_control(cp_dir)),
            "--power-kw", _num(cp.power_kw), "--car-max-kw", _num(cp.car_max_kw),
            "--battery-kwh", _num(cp.battery_kwh),
            "--soc", _num(cp.soc), "--time-scale", _num(timers.time_scale)]
    if meter_start:
        args += ["--meter-start", repr(meter_start)]
    if not (cp.plugged if plugged is None else plugged):
        args.append("--unplugged")
    return args


def engine(spec: NetworkSpec, cp_id: str, listen: str) -> list[str]:
    cp_dir = spec.cp_dir(cp_id)
    return ["engine", "--cp-id", cp_id, "--listen", listen, "--meter", str(meter_link(cp_dir)),
            "--state-dir", str(cp_dir / "engine-state"), "--runtime", spec.runtime,
            "--link-key-file", str(spec.link_key_file(cp_id)),
            "--monitor-grace", _num(spec.timers.engine_grace_s),
            "--ev-full-s", _num(spec.timers.ev_full_s), "--menu", "off",
            # `evcharge sim-hw` serves a card reader on unit 3: walk-up swipes work.
            "--card-reader-unit", "3"]


def monitor(spec: NetworkSpec, cp_id: str, engine_at: str, central_at: str,
            kafka: str) -> list[str]:
    cp = spec.cp(cp_id)
    t = spec.timers
    return ["monitor", "--cp-id", cp_id, "--secret-file", str(spec.cp_secret_file(cp_id)),
            "--engine", engine_at, "--engine-key-file", str(spec.link_key_file(cp_id)),
            "--central", central_at, "--kafka", kafka,
            "--outbox", str(spec.cp_dir(cp_id) / "outbox.sqlite3"),
            "--location", cp.location, "--max-kw", _num(cp.max_kw),
            "--heartbeat-interval", _num(t.heartbeat_s), "--health-interval", _num(t.health_s),
            "--engine-timeout", _num(t.engine_timeout_s),
            "--backoff-base", _num(t.backoff_base_s), "--backoff-cap", _num(t.backoff_cap_s),
            "--engine-backoff-cap", _num(t.backoff_cap_s)]


def driver(driver_id: str, central_at: str, kafka: str, state_dir: Path,
           args: list[str], secret_file: Path | None = None) -> list[str]:
    """A driver command with --json output; its ticket book lives in state_dir, its
    secret in secret_file (0600; never the secret itself in argv)."""
    secret = ["--secret-file", str(secret_file)] if secret_file is not None else []
    return ["driver", "--id", driver_id, "--central", central_at, "--kafka", kafka, "--json",
            "--state-dir", str(state_dir), *secret, *args]


def admin(central_at: str, token_file: Path, args: list[str]) -> list[str]:
    """An admin command; the token stays in its 0600 file, never in argv."""
    return ["admin", "--central", central_at, "--admin-token-file", str(token_file), "--json",
            *args]
