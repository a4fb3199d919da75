"""The simulated fleet's Monitor timing is the Monitor's own (evbench.monitor_model)."""
from evbench import monitor_model as model
from evmonitor import central_link
from evmonitor.config import MonitorConfig


def test_the_fleet_keeps_the_monitors_link_timing():
    defaults = MonitorConfig()
    assert (model.HEARTBEAT_S, model.BACKOFF_BASE_S, model.BACKOFF_CAP_S,
            model.BACKOFF_RESET_S) == (defaults.heartbeat_interval, defaults.backoff_base,
                                       defaults.backoff_cap, defaults.backoff_reset)
    assert (model.CONNECT_TIMEOUT_S, model.HANDSHAKE_TIMEOUT_S, model.SILENCE_BEATS,
            model.MIN_SILENCE_S) == (central_link.CONNECT_TIMEOUT_S,
                                     central_link.HANDSHAKE_TIMEOUT_S,
                                     central_link.SILENCE_BEATS, central_link.MIN_SILENCE_S)
