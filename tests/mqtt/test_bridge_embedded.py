"""The bridge with its embedded broker (amqtt), fed cp-status records straight into
Kafka as Central writes them; paho subscribes as Home Assistant would."""
from __future__ import annotations

import json

from mqtt_testkit import status

from evharness.procs import wait_until
from evmqtt.topics import Topics
from evmqtt.views import CpView

PFX = "evcharge/"


def test_embedded_broker_values_bad_records_and_last_will(embedded, watchers):
    bridge, produce = embedded.bridge, embedded.produce
    ha = watchers(embedded.port, "homeassistant", password=embedded.password())
    cfg = json.loads(ha.wait("homeassistant/sensor/evcharge_CP7/power/config", bool))
    assert (cfg["unit_of_measurement"], cfg["device_class"]) == ("kW", "power")
    ha.wait(f"{PFX}CP7/state", lambda v: v == "AVAILABLE")
    ha.wait(f"{PFX}bridge/availability", lambda v: v == "online")

    produce("CP7", b"\xff not cbor")  # one bad record costs only itself
    produce("CP8", status("CP7", "CHARGING"))  # key and cp_id disagree
    produce("CP7", status("CP7", "CHARGING", "session_live", session_id="s1", driver_id="D9",
                          power_kw=7.4, energy_kwh=1.25, cost=0.38))
    ha.wait(f"{PFX}CP7/state", lambda v: v == "CHARGING")
    assert float(ha.wait(f"{PFX}CP7/power", lambda v: float(v) > 0)) == 7.4
    ha.wait(f"{PFX}CP7/energy", lambda v: v == "1.250")
    ha.wait(f"{PFX}CP7/cost", lambda v: v == "0.38")
    ha.wait(f"{PFX}CP7/driver", lambda v: v == "D9")
    assert "CP8" not in "".join(ha.values)
    log = bridge.log()
    assert log.count("cp-status record ignored") == 2, log

    produce("CP7", status("CP7", "DISCONNECTED"))
    ha.wait(f"{PFX}CP7/availability", lambda v: v == "offline")
    ha.wait(f"{PFX}CP7/power", lambda v: v == "0.000")
    ha.wait(f"{PFX}CP7/driver", lambda v: v == "none")
    assert ha.get(f"{PFX}CP7/energy") == "1.250"  # the last session's, until the next one

    ha.publish(f"{PFX}CP7/command/explode", "STOP")
    wait_until(lambda: "not a command topic" in bridge.log(), timeout=10, what="logged")

    bridge.kill()  # SIGKILL: the broker publishes the bridge's last will
    ha.wait(f"{PFX}bridge/availability", lambda v: v == "offline", timeout=30)


def test_discovery_and_views_are_what_ha_expects():
    topics = Topics("site1", "ha")
    configs = topics.discovery_configs("CP.1:a", "Garage", 11.0)
    state = json.loads(configs["ha/sensor/evcharge_CP_1_a/state/config"])
    assert state["options"] == ["AVAILABLE", "CHARGING", "STOPPED", "FAULTED", "DISCONNECTED"]
    assert state["state_topic"] == "site1/CP.1:a/state"
    energy = json.loads(configs["ha/sensor/evcharge_CP_1_a/energy/config"])
    assert energy["state_class"] == "total_increasing" and energy["unit_of_measurement"] == "kWh"
    assert topics.parse_command("site1/CP.1:a/command/stop") == ("CP.1:a", "stop")
    for bad in ("site1/CP1/command/explode", "other/CP1/command/stop", "site1/CP1/stop",
                "site1/a/b/command/stop"):
        assert topics.parse_command(bad) is None
    view = CpView("CP1")
    live = dict(cp_id="CP1", state="CHARGING", event="session_live", timestamp=1,
                session_id="s", power_kw=3.0, energy_kwh=2.0, cost=0.6, driver_id="D")
    assert view.apply(live)["power"] == "3.000"
    assert view.apply(live) == {}  # nothing changed: nothing to publish
    ended = view.apply({**live, "event": "session_end", "state": "AVAILABLE"})
    assert ended == {"state": "AVAILABLE", "power": "0.000"}


def test_clean_exit_says_offline_itself(embedded, watchers):
    bridge = embedded.bridge
    ha = watchers(embedded.port, "homeassistant", password=embedded.password())
    ha.wait(f"{PFX}bridge/availability", lambda v: v == "online")
    assert bridge.terminate() == 0, bridge.log()
    ha.wait(f"{PFX}bridge/availability", lambda v: v == "offline", timeout=10)
    assert "stopped" in bridge.log()
