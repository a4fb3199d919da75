# The Engine's config: defaults filled, the first bad key named.
from engine_fakes import raises

from evengine.config import ConfigError, check, load
from evengine.link import parse_host_port


def test_defaults_are_filled():
    config = check({"cp_id": "CP1", "meter": "/dev/ttyUSB0", "listen": "127.0.0.1:5000"})
    assert config["tick_s"] == 1.0
    assert config["monitor_grace_s"] == 10
    assert config["ev_full_kw"] == 0.05
    assert config["meter_fail_polls"] == 3
    assert config["vehicle_unit"] == config["relay_unit"] == 2


def test_required_keys_are_named():
    exc = raises(ConfigError, check, {"meter": "/dev/x", "listen": "h:1"})
    assert "cp_id" in str(exc)


def test_unknown_key_is_named():
    exc = raises(ConfigError, check, {"cp_id": "CP1", "meter": "/dev/x", "listen": "h:1",
                                      "tick": 1})
    assert "unknown config key 'tick'" in str(exc)


def test_wrong_kind_is_named():
    exc = raises(ConfigError, check, {"cp_id": "CP1", "meter": "/dev/x", "listen": "h:1",
                                      "tick_s": "fast"})
    assert "'tick_s' must be a number" in str(exc)


def test_non_positive_timer_is_refused():
    exc = raises(ConfigError, check, {"cp_id": "CP1", "meter": "/dev/x", "listen": "h:1",
                                      "monitor_grace_s": 0})
    assert "monitor_grace_s" in str(exc)


def test_a_link_is_required():
    exc = raises(ConfigError, check, {"cp_id": "CP1", "meter": "/dev/x"})
    assert "listen" in str(exc) and "serial_link" in str(exc)


def test_gpio_relay_needs_a_pin():
    exc = raises(ConfigError, check, {"cp_id": "CP1", "meter": "/dev/x", "listen": "h:1",
                                      "relay": "gpio"})
    assert "relay_pin" in str(exc)


def test_listen_address_parsing():
    assert parse_host_port("127.0.0.1:5000") == ("127.0.0.1", 5000)
    assert parse_host_port(":5000") == ("0.0.0.0", 5000)
    assert "HOST:PORT" in str(raises(ValueError, parse_host_port, "5000"))
    assert "number" in str(raises(ValueError, parse_host_port, "h:port"))
    assert "1-65535" in str(raises(ValueError, parse_host_port, "h:70000"))
    exc = raises(ConfigError, check, {"cp_id": "CP1", "meter": "/dev/x", "listen": "h:0"})
    assert "1-65535" in str(exc)


def test_load_names_a_missing_file_and_bad_json():
    assert "cannot read config" in str(raises(ConfigError, load, "/nonexistent/config.json"))
    path = "/tmp/evengine-bad-config.json"
    with open(path, "w") as f:
        f.write("{not json")
    assert "not valid JSON" in str(raises(ConfigError, load, path))


KEY = "6b" * 32


def test_listening_beyond_loopback_needs_a_link_key():
    for listen in ("0.0.0.0:5000", ":5000", "192.168.4.20:5000", "example.net:1"):
        exc = raises(ConfigError, check, {"cp_id": "CP1", "meter": "/dev/x", "listen": listen})
        assert "needs a link key" in str(exc) and "loopback" in str(exc)
        config = check({"cp_id": "CP1", "meter": "/dev/x", "listen": listen, "link_key": KEY})
        assert config["link_key"] == KEY and config["link_auth_s"] == 5
    for listen in ("127.0.0.1:5000", "127.3.2.1:5000", "localhost:5000", "::1:5000"):
        assert check({"cp_id": "CP1", "meter": "/dev/x", "listen": listen})["link_key"] is None
    # A serial link without a key stays allowed: physical access.
    assert check({"cp_id": "CP1", "meter": "/dev/x", "serial_link": "/dev/ttyACM0"})


def test_a_weak_or_odd_link_key_is_refused_without_echoing_it():
    for key in ("short", "x" * 15, "has space " * 3, "tab\t" * 8, "caf\u00e9" * 8, 42):
        exc = raises(ConfigError, check, {"cp_id": "CP1", "meter": "/dev/x",
                                          "listen": "0.0.0.0:1", "link_key": key})
        assert "link_key" in str(exc)
        if isinstance(key, str):
            assert key not in str(exc)
    exc = raises(ConfigError, check, {"cp_id": "CP1", "meter": "/dev/x", "listen": "h:1",
                                      "link_key": KEY, "link_auth_s": 0})
    assert "link_auth_s" in str(exc)
