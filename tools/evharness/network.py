"""A whole charging network as real processes: start it, break it, ask it how it is.

    spec = NetworkSpec(workdir, cps=[CpSpec("CP1")], drivers=["D1"])
    with Network(spec) as net:            # broker, Central, per CP sim-hw + Engine + Monitor
        net.wait_state("CP1", "AVAILABLE")
        run = net.start_driver("D1", "charge", "CP1", "--kwh", "0.5")
        net.kill_engine("CP1"); net.start_engine("CP1")
        run.wait(); net.db_sessions(); net.meter_kwh("CP1")

Used by `evcharge demo`, the end-to-end tests and the benchmarks. Every
process is started through its console command, as a user would, and logs to
a file in the workdir; kill_*() is SIGKILL (a crash), stop_*() is SIGTERM.
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from evcentral.admin_client import AdminClient
from evcentral.tls import is_loopback
from evharness import centraldb, commands
from evharness.central_client import (
    CentralClient,
    CentralUnavailable,
    NamespacedAdminClient,
)
from evharness.drivers import DriverRun
from evharness.procs import Proc, ProcessGroup, free_port, port_open, wait_until
from evharness.spec import Host, NetworkSpec
from evharness.tls import NetworkTLS
from evhost.secretfile import write_secret_file
from evsim.control import ControlClient


class NetworkError(RuntimeError):
    """A process of the network failed to start or misbehaved; the text says which."""


def wait_ready(proc: Proc, timeout: float = 30.0, word: str = "ready") -> None:
    """Wait until the process logged a line containing `word` (every service does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if word in proc.log():
            return
        if not proc.alive():
            tail = "\n".join(proc.log().splitlines()[-15:])
            raise NetworkError(f"{proc.name} exited with {proc.popen.returncode} before "
                               f"it was ready; last lines of {proc.log_path}:\n{tail}")
        time.sleep(0.05)
    raise NetworkError(f"{proc.name} not ready within {timeout}s (log: {proc.log_path})")


class Network:
    def __init__(self, spec: NetworkSpec, group: ProcessGroup | None = None):
        self.spec = spec
        self.workdir = Path(spec.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.group = group or ProcessGroup(self.workdir / "logs")
        self._owns_group = group is None
        self.procs: dict[str, Proc] = {}
        self.central_port = free_port()
        self.broker_port = free_port()
        self.engine_ports = {cp.cp_id: free_port() for cp in spec.cps}
        self.kafka = spec.kafka or f"{spec.hub.address}:{self.broker_port}"
        self.central_address = f"{spec.hub.address}:{self.central_port}"
        self.standby_port = free_port() if spec.standby_central else None
        # What the clients are given: Central, then the standby's address if any.
        self.central_targets = self.central_address + (
            f",{spec.hub.address}:{self.standby_port}" if self.standby_port else "")
        self.http_port = free_port()  # used when spec.http
        self.peer_http_port = free_port()  # the second Central's, with start_peer_central
        self.ocpp_port = free_port()  # used when spec.ocpp
        # TLS to Central (spec.tls; by default when the hub is a separate host):
        # a CA and certificates for the hub's address, made before any client.
        use_tls = spec.tls if spec.tls is not None else not is_loopback(spec.hub.address)
        self.tls = NetworkTLS.create(spec.pki_dir, spec.hub.address,
                                     [cp.cp_id for cp in spec.cps]) if use_tls else None
        self.env: dict[str, str] = {}
        if spec.kafka_namespace is not None:
            self.env[commands.ENV_KAFKA_NAMESPACE] = spec.kafka_namespace
        self.central = CentralClient(self._admin_client())
        self.sims = {cp.cp_id: ControlClient(self.control_path(cp.cp_id)) for cp in spec.cps}

    # ----- whole network -------------------------------------------------
    def start(self, wait_available: bool = True) -> Network:
        for cp in self.spec.cps:
            self.spec.cp_dir(cp.cp_id).mkdir(parents=True, exist_ok=True)
        for driver_id in self.spec.drivers:
            self.spec.driver_dir(driver_id).mkdir(parents=True, exist_ok=True)
        if self.spec.kafka is None:
            self.start_broker()
        else:
            self.check_kafka()
        self.provision()
        self.start_central()
        for cp in self.spec.cps:
            self.start_sim(cp.cp_id)
        for cp in self.spec.cps:
            self.start_engine(cp.cp_id)
        for cp in self.spec.cps:
            self.start_monitor(cp.cp_id)
        if wait_available:
            for cp in self.spec.cps:
                self.wait_state(cp.cp_id, "AVAILABLE", timeout=60)
        return self

    def close(self) -> None:
        """SIGTERM everything, clients first and the broker last."""
        self.central.close()
        for control in self.sims.values():
            control.close()
        order = ("driver-", "monitor-", "ocpp-", "engine-", "sim-", "central", "broker")
        for prefix in order:
            for name, proc in list(self.procs.items()):
                if name.startswith(prefix):
                    proc.terminate(timeout=10)
        if self._owns_group:
            self.group.close()

    def __enter__(self) -> Network:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ----- processes -----------------------------------------------------
    def _start(self, name: str, host: Host, args: list[str], ready: bool = True,
               timeout: float = 30.0) -> Proc:
        old = self.procs.get(name)
        if old is not None and old.alive():
            raise NetworkError(f"{name} is already running (pid {old.pid})")
        proc = self.group.start(name, commands.on_host(host, args), env=self.env)
        self.procs[name] = proc
        if ready:
            wait_ready(proc, timeout)
        return proc

    def proc(self, name: str) -> Proc:
        return self.procs[name]

    def kill(self, name: str) -> None:
        """SIGKILL: the process gets no chance to clean up, as in a crash."""
        self.procs[name].kill()

    def stop(self, name: str) -> int | None:
        return self.procs[name].terminate(timeout=10)

    def start_broker(self) -> Proc:
        return self._start("broker", self.spec.hub, commands.broker(self.kafka))

    def kill_broker(self) -> None:
        self.kill("broker")

    def check_kafka(self, timeout: float = 10.0) -> None:
        """Fail early and clearly when a given broker does not answer at all."""
        first = self.kafka.split(",")[0]
        host, _, port = first.rpartition(":")
        deadline = time.monotonic() + timeout
        while not port_open(host, int(port)):
            if time.monotonic() > deadline:
                raise NetworkError(f"cannot reach the Kafka broker at {self.kafka} "
                                   f"(nothing listens there after {timeout:g} s)")
            time.sleep(0.2)

    def write_secrets(self) -> None:
        """Every secret in its 0600 file: CP secrets, driver secrets, the admin token
        (none goes on a command line, where anyone on the host could read it)."""
        write_secret_file(self.spec.admin_token_file, self.spec.admin_token)
        for cp in self.spec.cps:
            self.spec.cp_dir(cp.cp_id).mkdir(parents=True, exist_ok=True)
            write_secret_file(self.spec.cp_secret_file(cp.cp_id), cp.secret)
            write_secret_file(self.spec.link_key_file(cp.cp_id), cp.link_key)

    def provision(self) -> None:
        """A fresh Central database with this network's CPs and drivers."""
        self.write_secrets()
        for driver_id in self.spec.drivers:
            self.spec.driver_dir(driver_id).mkdir(parents=True, exist_ok=True)
            write_secret_file(self.spec.driver_secret_file(driver_id),
                              self.spec.driver_secret(driver_id))
        for args in commands.provisioning(self.spec):
            done = subprocess.run(commands.on_host(self.spec.hub, args), capture_output=True,
                                  text=True, env={**os.environ, **self.env}, timeout=60)
            if done.returncode != 0:
                raise NetworkError(f"provisioning failed: {' '.join(args[:3])}: "
                                   f"{(done.stderr or done.stdout).strip()}")

    def start_central(self) -> Proc:
        args = commands.central(self.spec, self.central_address, self.kafka)
        if self.tls is not None:
            args += self.tls.central_args()
        if self.spec.http:
            args += ["--http", f"{self.spec.hub.address}:{self.http_port}"]
        if self.spec.ocpp:
            args += ["--ocpp", f"{self.spec.hub.address}:{self.ocpp_port}"]
        return self._start("central", self.spec.hub, args, timeout=60)

    @property
    def http_url(self) -> str:
        """The web console's URL (spec.http): https when Central serves TLS."""
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.spec.hub.address}:{self.http_port}/"

    def start_standby_central(self) -> Proc:
        """Central again, on the standby address (spec.standby_central): a second host's
        Central taking over the same database and Kafka once the first is gone."""
        if self.standby_port is None:
            raise NetworkError("no standby address: NetworkSpec(standby_central=True)")
        self.central_port = self.standby_port
        self.central_address = f"{self.spec.hub.address}:{self.standby_port}"
        self.central = CentralClient(self._admin_client())  # what the harness asks: B now
        return self.start_central()

    @property
    def peer_address(self) -> str:
        if self.standby_port is None:
            raise NetworkError("no second address: NetworkSpec(standby_central=True)")
        return f"{self.spec.hub.address}:{self.standby_port}"

    def start_peer_central(self) -> Proc:
        """A second Central, active beside the first on the standby address, sharing its
        PostgreSQL database and Kafka (docs/DEPLOY.md); its process is "central-b"."""
        args = commands.central(self.spec, self.peer_address, self.kafka)
        if self.tls is not None:
            args += self.tls.central_args()
        if self.spec.http:
            args += ["--http", f"{self.spec.hub.address}:{self.peer_http_port}"]
        return self._start("central-b", self.spec.hub, args, timeout=60)

    @property
    def peer_http_url(self) -> str:
        """The second Central's web console (spec.http)."""
        return self.http_url.replace(f":{self.http_port}/", f":{self.peer_http_port}/")

    def ask_peer_central(self) -> None:
        """The harness's own questions (states, sessions) go to the second Central now."""
        self.central.close()
        self.central_port = self.standby_port
        self.central_address = self.peer_address
        self.central = CentralClient(self._admin_client())

    def kill_central(self) -> None:
        self.central.close()
        self.kill("central")

    def control_path(self, cp_id: str) -> Path:
        return commands.sim_control(self.spec.cp_dir(cp_id))

    def start_sim(self, cp_id: str, meter_start: float = 0.0,
                  plugged: bool | None = None) -> Proc:
        """The CP's simulator; after a power cut, with its register and plug as they were."""
        args = commands.sim_hw(self.spec.cp(cp_id), self.spec.cp_dir(cp_id), self.spec.timers,
                               meter_start, plugged)
        return self._start(f"sim-{cp_id}", self.spec.cp_host, args)

    def start_engine(self, cp_id: str) -> Proc:
        args = commands.engine(self.spec, cp_id, self.engine_address(cp_id))
        return self._start(f"engine-{cp_id}", self.spec.cp_host, args)

    def kill_engine(self, cp_id: str) -> None:
        self.kill(f"engine-{cp_id}")

    def engine_address(self, cp_id: str) -> str:
        return f"127.0.0.1:{self.engine_ports[cp_id]}"  # the Monitor sits beside its Engine

    def start_monitor(self, cp_id: str) -> Proc:
        args = commands.monitor(self.spec, cp_id, self.engine_address(cp_id),
                                self.central_targets, self.kafka)
        if self.tls is not None:
            args += self.tls.monitor_args(cp_id)
        return self._start(f"monitor-{cp_id}", self.spec.cp_host, args)

    def kill_monitor(self, cp_id: str) -> None:
        self.kill(f"monitor-{cp_id}")

    # ----- drivers -------------------------------------------------------
    def driver_args(self, driver_id: str, *args: str, central: str | None = None) -> list[str]:
        secret_file = self.spec.driver_secret_file(driver_id)
        if not secret_file.exists():  # a driver Central does not know: its secret is made up
            secret_file.parent.mkdir(parents=True, exist_ok=True)
            write_secret_file(secret_file, self.spec.driver_secret(driver_id))
        argv = commands.driver(driver_id, central or self.central_targets, self.kafka,
                               self.spec.driver_dir(driver_id) / "state", list(args),
                               self.spec.driver_secret_file(driver_id))
        return self.tls.client_args(argv) if self.tls is not None else argv

    def driver(self, driver_id: str, *args: str, timeout: float = 60.0
               ) -> subprocess.CompletedProcess:
        """Run one driver command to its end (e.g. `list`, `history`), output captured."""
        argv = commands.on_host(self.spec.driver_host, self.driver_args(driver_id, *args))
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **self.env}, cwd=self.workdir)

    def start_driver(self, driver_id: str, *args: str, central: str | None = None) -> DriverRun:
        """A driver command in the background; its --json lines are read as they come."""
        name = f"driver-{driver_id}"
        old = self.procs.get(name)
        if old is not None and old.alive():
            raise NetworkError(f"{name} is already running (pid {old.pid})")
        argv = commands.on_host(self.spec.driver_host,
                                self.driver_args(driver_id, *args, central=central))
        run = DriverRun.start(self.group, name, argv, self.env,
                              self.spec.driver_dir(driver_id), cwd=self.workdir)
        self.procs[name] = run.proc
        return run

    def kill_driver(self, driver_id: str) -> None:
        self.kill(f"driver-{driver_id}")

    # ----- the operator's console ------------------------------------------
    def admin_args(self, *args: str) -> list[str]:
        argv = commands.admin(self.central_targets, self.spec.admin_token_file, list(args))
        return self.tls.client_args(argv) if self.tls is not None else argv

    def admin(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        """`evcharge admin --json ...` as an operator types it, output captured."""
        argv = commands.on_host(self.spec.driver_host, self.admin_args(*args))
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **self.env}, cwd=self.workdir)

    # ----- what the network says -----------------------------------------
    def _admin_client(self) -> AdminClient:
        """Central's admin client, connecting from the operator's (driver's) host."""
        host, port, token = self.spec.hub.address, self.central_port, self.spec.admin_token
        namespace = self.spec.driver_host.namespace
        ctx = self.tls.context() if self.tls is not None else None
        if namespace is None:
            return AdminClient(host, port, token, ssl_context=ctx)
        return NamespacedAdminClient(namespace, host, port, token, ssl_context=ctx)

    def cp_states(self) -> dict[str, str]:
        """{cp_id: state} as Central shows them."""
        return {cp["cp_id"]: cp["status"] for cp in self.cp_rows()}

    def cp_state(self, cp_id: str) -> str | None:
        try:
            return self.cp_states().get(cp_id)
        except CentralUnavailable:
            return None

    def wait_state(self, cp_id: str, state: str, timeout: float = 20.0) -> float:
        """Wait until Central shows `state` for the CP; return the seconds it took."""
        started = time.monotonic()
        wait_until(lambda: self.cp_state(cp_id) == state, timeout=timeout, interval=0.1,
                   what=f"{cp_id} {state} at Central")
        return time.monotonic() - started

    def cp_rows(self) -> list[dict]:
        """Central's full view of every CP (status, live session, fault) via list_cps."""
        return list(self.central.manual("list_cps") or [])

    def sim(self, cp_id: str, command: str) -> dict:
        """A command on a CP's virtual hardware (plug, unplug, status, ...): its JSON reply."""
        reply = self.sims[cp_id].command(command)
        if not reply.get("ok"):
            raise NetworkError(f"sim-hw of {cp_id} refused {command!r}: {reply.get('error')}")
        return reply

    def meter_kwh(self, cp_id: str) -> float:
        """The virtual meter's own energy register: the witness independent of the Engine."""
        return float(self.sim(cp_id, "status")["meter_kwh"])

    def db_sessions(self) -> list[dict]:
        """Session rows straight from Central's database (also while Central is down)."""
        return centraldb.sessions(self.spec.db_url or self.spec.db_path)
