"""Who may connect (HTTP Basic at the upgrade: 401 otherwise), and bad frames:
each answered with the proper CALLERROR, the connection and Central unharmed."""
from __future__ import annotations

import asyncio
import json
import subprocess

import pytest
import websockets
from ocpp.v16 import call
from sim_charger import basic
from websockets.exceptions import InvalidStatus

from evharness.procs import bin_path, wait_until
from evhost.tlsclient import client_context


def _upgrade_status(url: str, headers: dict, subprotocols=("ocpp1.6",)) -> int:
    async def attempt() -> int:
        try:
            async with websockets.connect(url, subprotocols=list(subprotocols) or None,
                                          additional_headers=headers, open_timeout=10):
                return 101
        except InvalidStatus as refused:
            return refused.response.status_code

    return asyncio.run(attempt())


def test_unknown_cp_and_wrong_password_are_refused_at_the_upgrade(ocpp_network):
    net = ocpp_network(cps=("WB1",))
    url = net.ocpp_url
    assert _upgrade_status(f"{url}/WB1", {"Authorization": basic("WB1", "wrong")}) == 401
    assert _upgrade_status(f"{url}/WB9", {"Authorization": basic("WB9", "secret-WB9")}) == 401
    assert _upgrade_status(f"{url}/WB1", {}) == 401  # profile 1 needs credentials
    # the right password, but for another charger's URL
    assert _upgrade_status(f"{url}/WB9", {"Authorization": basic("WB1", "secret-WB1")}) == 401
    assert _upgrade_status(f"{url}/WB1", {"Authorization": "Basic %%%"}) == 401
    assert _upgrade_status(f"{url}/WB1", {"Authorization": basic("WB1", "secret-WB1")}) == 101
    audit = net.admin("audit")
    refusals = [e for e in audit if e["action"] == "ocpp auth" and e["result"] == "refused"]
    assert len(refusals) == 5
    assert {"wrong password", "unknown_cp"} <= {e["detail"] for e in refusals}
    assert all("secret" not in e["detail"] for e in refusals)
    assert net.cp("WB1")["status"] == "DISCONNECTED"


def test_bad_frames_get_callerror_and_cost_only_themselves(ocpp_network):
    net = ocpp_network(cps=("WB1",))

    async def session() -> list:
        async with websockets.connect(f"{net.ocpp_url}/WB1", subprotocols=["ocpp1.6"],
                                      additional_headers={"Authorization":
                                                          basic("WB1", "secret-WB1")}) as ws:
            answers = []
            for frame in ["this is not json", json.dumps({"a": 1}),
                          json.dumps([2, "m1", "BootNotification"]),
                          json.dumps([2, "m2", "BootNotification", {"chargePointVendor": 5}]),
                          json.dumps([2, "m3", "BootNotification", {}]),
                          json.dumps([2, "m4", "NoSuchAction", {}]),
                          json.dumps([2, "m5", "GetConfiguration", {}]),
                          json.dumps([2, ["m6"], "Heartbeat", {}]),
                          json.dumps([7, "m7"]), b"\x00binary"]:
                await ws.send(frame)
                answers.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            await ws.send(json.dumps([3, "never-asked", {}]))  # a result for nothing: dropped
            await ws.send(json.dumps([2, "ok", "Heartbeat", {}]))
            answers.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            return answers

    answers = asyncio.run(session())
    codes = [(a[0], a[1], a[2]) for a in answers[:-1]]
    assert codes == [
        (4, "-1", "FormationViolation"), (4, "-1", "FormationViolation"),
        (4, "m1", "ProtocolError"), (4, "m2", "TypeConstraintViolation"),
        (4, "m3", "ProtocolError"), (4, "m4", "NotSupported"),  # OCPP-J: incomplete
        (4, "m5", "NotImplemented"), (4, "-1", "ProtocolError"),
        (4, "m7", "ProtocolError"), (4, "-1", "FormationViolation")]
    assert answers[-1][:2] == [3, "ok"] and "currentTime" in answers[-1][2]
    assert net.central.alive()
    assert "Traceback" not in net.central.log()


def test_callerror_from_the_charger_costs_that_start_only(ocpp_network):
    net = ocpp_network(cps=("WB1",), drivers={"D1": "CARD1"})
    rig = net.charger("WB1", remote_start=False).connect()  # answers NotImplemented
    net.wait_state("WB1", "AVAILABLE")
    failed = net.driver("D1", "charge", "WB1", "--json")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "RemoteStartTransaction" in failed.stdout + failed.stderr
    wait_until(lambda: [s for s in net.sessions_of("D1") if s["status"] == "failed"],
               timeout=15, what="the start failed")
    assert rig.call(call.Heartbeat()) is not None  # the connection is unharmed
    net.wait_state("WB1", "AVAILABLE")


@pytest.mark.parametrize("subprotocols", [(), ("ocpp2.0.1",)])
def test_without_the_ocpp16_subprotocol_the_upgrade_is_refused(ocpp_network, subprotocols):
    net = ocpp_network(cps=("WB1",))
    status = _upgrade_status(f"{net.ocpp_url}/WB1", {"Authorization": basic("WB1", "secret-WB1")},
                             subprotocols)
    assert status == 400
    assert "Traceback" not in net.central.log()


def test_security_profile_2_basic_auth_over_tls(ocpp_network, tmp_path):
    ca = tmp_path / "ca"
    for argv in (["init", "--dir", str(ca)],
                 ["server", "--dir", str(ca), "--name", "central.test", "--ip", "127.0.0.1"]):
        done = subprocess.run([bin_path("evcharge"), "pki", *argv], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    net = ocpp_network(cps=("WB1",), scheme="wss", extra=(
        "--tls-cert", str(ca / "central.test.pem"), "--tls-key", str(ca / "central.test.key")))
    trust = client_context(str(ca / "ca.pem"))
    rig = net.charger("WB1", ssl=trust).connect()
    assert rig.interval == 60
    assert rig.call(call.Heartbeat()) is not None
    wrong = net.charger("WB1", password="wrong", ssl=trust)
    with pytest.raises(InvalidStatus) as refused:
        wrong.connect()
    assert refused.value.response.status_code == 401
    plain = net.ocpp_url.replace("wss://", "ws://")
    with pytest.raises((OSError, websockets.InvalidHandshake, TimeoutError)):
        _upgrade_status(f"{plain}/WB1", {"Authorization": basic("WB1", "secret-WB1")})
    wait_until(lambda: "WB1 connected over OCPP 1.6J" in net.central.log(), timeout=10,
               what="the TLS charger at Central")


def test_connections_per_address_are_capped_at_the_upgrade(ocpp_network):
    """--max-connections-per-address holds on the OCPP port as on the wire port: one
    address cannot hold every connection Central has (loopback counted: --cap-loopback)."""
    net = ocpp_network(cps=("WB1", "WB2", "WB3"),
                       extra=("--max-connections-per-address", "2", "--cap-loopback"))
    url = net.ocpp_url

    async def attempt() -> list[int]:
        statuses, open_ = [], []
        for cp_id in ("WB1", "WB2", "WB3"):
            try:
                ws = await websockets.connect(
                    f"{url}/{cp_id}", subprotocols=["ocpp1.6"], open_timeout=10,
                    additional_headers={"Authorization": basic(cp_id, f"secret-{cp_id}")})
                open_.append(ws)
                statuses.append(101)
            except InvalidStatus as refused:
                statuses.append(refused.response.status_code)
        for ws in open_:
            await ws.close()
        return statuses

    assert asyncio.run(attempt()) == [101, 101, 503]
    wait_until(lambda: "refused: 2 connections from that address" in net.central.log(),
               timeout=10, what="the refusal logged")
    # Closed ones no longer count: the third charger gets in now.
    wait_until(lambda: _upgrade_status(f"{url}/WB3",
                                       {"Authorization": basic("WB3", "secret-WB3")}) == 101,
               timeout=15, what="WB3 admitted once the others closed")
