"""A full charging flow across three hosts: hub, charge point and driver each in its
own network namespace with its own address, joined by a bridge (made and removed
by the test). Needs root and iproute2; skipped with the reason otherwise."""
import subprocess

import pytest
from e2ekit import assert_billed_once, session_id_of, wait_charging, wait_finalised

from evharness import netns
from evharness.network import Network
from evharness.spec import CpSpec, Host, NetworkSpec


@pytest.fixture
def lab(procs):
    reason = netns.unavailable_reason()
    if reason:
        pytest.skip(f"three-host test skipped: {reason}")
    hosts = netns.NetnsLab("hub", "cp", "driver").create()
    yield hosts
    procs.close()  # stop the processes before their namespaces go
    hosts.remove()
    assert not hosts.exists(), "the test's namespaces were not removed"


def host(lab: netns.NetnsLab, name: str) -> Host:
    return Host(name, address=lab.address(name), prefix=lab.prefix(name),
                namespace=lab.namespace(name))


def tcp_peers(lab: netns.NetnsLab, name: str) -> set[str]:
    """Addresses of the hosts with an established TCP connection to `name`."""
    done = subprocess.run([*lab.prefix(name), "ss", "-Htn", "state", "established"],
                          capture_output=True, text=True, check=True)
    return {line.split()[-1].rpartition(":")[0] for line in done.stdout.splitlines()}


def test_full_flow_with_hub_charge_point_and_driver_on_separate_hosts(lab, procs, tmp_path,
                                                                       kafka_ns):
    spec = NetworkSpec(tmp_path / "n", cps=[CpSpec("CP1")], drivers=["D1"],
                       hub=host(lab, "hub"), cp_host=host(lab, "cp"),
                       driver_host=host(lab, "driver"))
    with Network(spec, group=procs) as net:
        assert net.kafka.startswith(lab.address("hub"))  # the broker runs on the hub
        # A hub on its own address: Central serves TLS (certificates from evcharge pki),
        # Monitor, driver and operator verify it with --ca.
        assert net.tls is not None and "--tls-cert" in net.proc("central").popen.args
        meter_before = net.meter_kwh("CP1")
        run = net.start_driver("D1", "charge", "CP1", "--kwh", "0.3")
        session_id = session_id_of(run)
        wait_charging(run, 0.05)
        # Central and the broker hear the Monitor from the CP's address and the
        # driver from the driver's: real routing between hosts, no loopback.
        assert {lab.address("cp"), lab.address("driver")} <= tcp_peers(lab, "hub")
        assert run.wait(60) == 0, run.proc.log()
        session = wait_finalised(net, session_id)
        assert session["reason"] == "stopped"
        assert_billed_once(net, "CP1", meter_before, run.events())


def test_a_charge_point_cut_off_the_network_goes_disconnected_then_comes_back(lab, procs,
                                                                             tmp_path, kafka_ns):
    spec = NetworkSpec(tmp_path / "n", cps=[CpSpec("CP1")], hub=host(lab, "hub"),
                       cp_host=host(lab, "cp"), driver_host=host(lab, "driver"))
    with Network(spec, group=procs) as net:
        lab.set_link("cp", up=False)  # no FIN, no RST: only the silence tells
        net.wait_state("CP1", "DISCONNECTED", timeout=15)
        assert net.proc("monitor-CP1").alive()
        lab.set_link("cp", up=True)
        net.wait_state("CP1", "AVAILABLE", timeout=30)
