"""The MQTT bridge against a real Mosquitto (password file + ACL), fed by a real
network (Central, Monitor, Engine on MicroPython, driver): what Home Assistant sees."""
from __future__ import annotations

import time

from mqtt_testkit import USERS, start_bridge

from evharness.procs import wait_until
from evhost.secretfile import write_secret_file

DISCOVERY = "homeassistant/"
PFX = "evcharge/"


def check_discovery(w, cp: str) -> dict[str, dict]:
    node = f"evcharge_{cp}"
    configs = {}
    expect = {"state": (None, "enum"), "power": ("kW", "power"),
              "energy": ("kWh", "energy"), "cost": ("EUR", "monetary"), "driver": (None, None)}
    for field, (unit, device_class) in expect.items():
        cfg = w.config(f"{DISCOVERY}sensor/{node}/{field}/config")
        assert cfg["unique_id"] == f"{node}_{field}"
        assert cfg["state_topic"] == f"{PFX}{cp}/{field}"
        assert cfg.get("unit_of_measurement") == unit
        assert cfg.get("device_class") == device_class
        assert cfg["device"]["identifiers"] == [node]
        assert cfg["device"]["manufacturer"] and cfg["device"]["model"] and cfg["device"]["name"]
        assert cfg["availability_mode"] == "all"
        assert {"topic": f"{PFX}bridge/availability"} in cfg["availability"]
        configs[field] = cfg
    assert "CHARGING" in configs["state"]["options"]
    assert configs["energy"]["state_class"] == "total_increasing"
    assert {"topic": f"{PFX}{cp}/availability"} in configs["power"]["availability"]
    for button, press in (("stop", "STOP"), ("resume", "RESUME")):
        cfg = w.config(f"{DISCOVERY}button/{node}/{button}/config")
        assert cfg["unique_id"] == f"{node}_{button}"
        assert cfg["command_topic"] == f"{PFX}{cp}/command/{button}"
        assert cfg["payload_press"] == press
        configs[button] = cfg
    return configs


def test_ha_sees_a_charge_stops_it_and_survives_broker_restart_and_bridge_kill(
        make_network, mosquitto, watchers, procs, tmp_path):
    net = make_network()
    pw = write_secret_file(tmp_path / "mqtt-pass", USERS["bridge"])
    bridge_args = ("--mqtt", mosquitto.address, "--mqtt-username", "bridge",
                   "--mqtt-password-file", str(pw), "--central", net.central_address,
                   "--admin-token-file", str(net.spec.admin_token_file))
    bridge = start_bridge(procs, net.kafka, *bridge_args)
    ha = watchers(mosquitto.port, "ha")
    configs = check_discovery(ha, "CP1")
    ha.wait(f"{PFX}bridge/availability", lambda v: v == "online")
    ha.wait(f"{PFX}CP1/state", lambda v: v == "AVAILABLE")
    ha.wait(f"{PFX}CP1/availability", lambda v: v == "online")

    net.start_driver("D1", "charge", "CP1")
    ha.wait(f"{PFX}CP1/state", lambda v: v == "CHARGING")
    ha.wait(f"{PFX}CP1/power", lambda v: float(v) > 0)
    first = float(ha.wait(f"{PFX}CP1/energy", lambda v: float(v) > 0))
    ha.wait(f"{PFX}CP1/energy", lambda v: float(v) > first)
    assert ha.get(f"{PFX}CP1/driver") == "D1"

    # Bad input from MQTT changes nothing and is logged once each.
    ha.publish(f"{PFX}CP1/command/stop", "\x00garbage")
    ha.publish(f"{PFX}NOPE/command/stop", "STOP")
    viewer = watchers(mosquitto.port, "viewer")
    viewer.publish(f"{PFX}CP1/command/stop", "STOP")  # the broker's ACL drops it
    wait_until(lambda: bridge.log().count("ignored") >= 2, timeout=10, what="bad input logged")
    time.sleep(1.0)  # the viewer's press, had the ACL let it through, would act by now
    assert net.cp_state("CP1") == "CHARGING"
    assert ha.get(f"{PFX}CP1/state") == "CHARGING"
    log = bridge.log()
    assert log.count("payload b'\\x00garbage' is not 'STOP'") == 1, log
    assert log.count("unknown CP NOPE ignored") == 1, log
    assert "stop_cp CP1" not in log

    # HA presses Stop.
    ha.publish(configs["stop"]["command_topic"], configs["stop"]["payload_press"])
    net.wait_state("CP1", "STOPPED")
    ha.wait(f"{PFX}CP1/state", lambda v: v == "STOPPED")
    ha.wait(f"{PFX}CP1/power", lambda v: float(v) == 0)

    # A broker restart (memory only: every retained value lost) loses nothing.
    ha.close()
    mosquitto.kill()
    mosquitto.start()
    fresh = watchers(mosquitto.port, "ha")
    check_discovery(fresh, "CP1")
    fresh.wait(f"{PFX}CP1/state", lambda v: v == "STOPPED", timeout=60)
    fresh.wait(f"{PFX}bridge/availability", lambda v: v == "online")

    # Resume from HA, then kill the bridge: its last will marks it unavailable.
    fresh.publish(configs["resume"]["command_topic"], "RESUME")
    net.wait_state("CP1", "AVAILABLE", timeout=30)
    bridge.kill()
    fresh.wait(f"{PFX}bridge/availability", lambda v: v == "offline", timeout=60)
