# Joining Wi-Fi on a board before the Monitor link opens (config "wifi":
# {"ssid": ..., "password": ..., "timeout_s": 20}). Ports without the
# network module (the unix port, CPython) already have their network.
from evwire.compat import sleep_ms
from evwire.trace import log


def connect(settings):
    """True once connected (or when there is no Wi-Fi to join here)."""
    try:
        import network
    except ImportError:
        log("info", "no network module here: using the host's network")
        return True
    ssid = settings.get("ssid")
    if not ssid:
        log("error", "config 'wifi' needs an 'ssid'")
        return False
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if not wlan.isconnected():
        wlan.connect(ssid, settings.get("password", ""))
        waited = 0
        limit = int(settings.get("timeout_s", 20) * 1000)
        while not wlan.isconnected():
            if waited >= limit:
                log("error", "Wi-Fi %s: not connected after %d s" % (ssid, limit // 1000))
                return False
            sleep_ms(200)
            waited += 200
    log("info", "Wi-Fi %s: address %s" % (ssid, wlan.ifconfig()[0]))
    return True
