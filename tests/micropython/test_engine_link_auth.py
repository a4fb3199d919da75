# The link handshake (evwire.link_auth, evengine.link_guard) and a serial link
# with a key, on both interpreters: known-answer MACs (from CPython's hmac),
# the guard's verdicts, and SerialLink over a fake port.
import evwire
from evengine.link import SerialLink
from evengine.link_guard import LinkGuard
from evwire import link_auth

KEY = "6b" * 32
M_NONCE = "a" * 32
E_NONCE = "b" * 32
# hmac.new(KEY, b"link|engine|CP1|aaa...|bbb...", sha256) and the Monitor's, on CPython.
ENGINE_MAC = "5660316cc7c96d8cdc673fdd370742665cf69a5c69a78d8d6ac4286379ac7f84"
MONITOR_MAC = "bfbe209ab41c749ce883dca748e5613f6c452a0d52f1d68da0e49056cbcafd5f"


def msg(kind, **fields):
    return evwire.make(kind, **fields)


def test_macs_match_the_known_answers():
    assert link_auth.engine_mac(KEY, "CP1", M_NONCE, E_NONCE) == ENGINE_MAC
    assert link_auth.monitor_mac(KEY, "CP1", E_NONCE, M_NONCE) == MONITOR_MAC
    assert link_auth.engine_mac("7" * 64, "CP1", M_NONCE, E_NONCE) != ENGINE_MAC


def test_nonces_are_fresh_hex_and_checked():
    first, second = link_auth.new_nonce(), link_auth.new_nonce()
    assert first != second and link_auth.nonce_ok(first) and link_auth.nonce_ok(second)
    for bad in ("abc", "A" * 32, "g" * 32, "a" * 33, 42, None):
        assert not link_auth.nonce_ok(bad)
    assert link_auth.mac_ok(ENGINE_MAC, ENGINE_MAC)
    assert not link_auth.mac_ok(MONITOR_MAC, ENGINE_MAC)
    assert not link_auth.mac_ok(ENGINE_MAC[:-1], ENGINE_MAC)
    assert not link_auth.mac_ok(None, ENGINE_MAC)


def handshake(guard, key=KEY, nonce=M_NONCE):
    """Drive a guard as a Monitor holding key would; returns the last verdict and reply."""
    challenge, verdict = guard.handle(msg("link_hello", cp_id="CP1", nonce=nonce))
    assert verdict is None and challenge["type"] == "link_challenge"
    assert challenge["mac"] == link_auth.engine_mac(KEY, "CP1", nonce, challenge["nonce"])
    reply, verdict = guard.handle(msg("link_auth", mac=link_auth.monitor_mac(
        key, "CP1", challenge["nonce"], nonce)))
    return reply, verdict


def refused(result):
    reply, verdict = result
    assert verdict is False, result
    assert reply["type"] == "error_response" and reply["code"] == "unauthenticated"
    return reply


def test_the_guard_accepts_the_right_key_only():
    reply, verdict = handshake(LinkGuard(KEY, "CP1"))
    assert verdict is True and reply["type"] == "link_auth_response"
    assert reply["status"] == "success"
    assert "wrong link key" in refused(handshake(LinkGuard(KEY, "CP1"), key="7" * 64))["error"]


def test_the_guard_refuses_anything_out_of_turn():
    start = msg("start_charging_command", cp_id="CP1", session_id="S1", driver_id="D1",
                price_per_kwh=0.3, max_charging_rate_kw=11.0)
    reply = refused(LinkGuard(KEY, "CP1").handle(start))
    assert reply["message_id"] == start["message_id"]
    refused(LinkGuard(KEY, "CP1").handle(msg("link_auth", mac=MONITOR_MAC)))
    refused(LinkGuard(KEY, "CP1").handle(msg("link_hello", cp_id="CP2", nonce=M_NONCE)))
    refused(LinkGuard(KEY, "CP1").handle(msg("link_hello", cp_id="CP1", nonce="short")))
    refused(LinkGuard(KEY, "CP1").handle([1, 2, 3]))
    refused(LinkGuard(KEY, "CP1").handle({"type": "link_hello"}))
    guard = LinkGuard(KEY, "CP1")
    guard.handle(msg("link_hello", cp_id="CP1", nonce=M_NONCE))
    refused(guard.handle(msg("link_hello", cp_id="CP1", nonce=M_NONCE)))  # only one per peer


class FakePort:
    def __init__(self):
        self.incoming = bytearray()
        self.written = evwire.FrameDecoder()
        self.out = []

    def read(self, size, timeout_ms):
        data = bytes(self.incoming[:size])
        self.incoming = self.incoming[size:]
        return data

    def write(self, data):
        self.out += self.written.feed(data)

    def close(self):
        pass


class Recorder:
    def __init__(self):
        self.events = []

    def on_connect(self):
        self.events.append("connect")

    def on_disconnect(self):
        self.events.append("disconnect")

    def on_message(self, message):
        self.events.append(message["type"])

    def on_malformed(self, reason):
        self.events.append("malformed")


def exchange(link, port, message, now=1000):
    port.incoming += evwire.encode_frame(message)
    link.housekeeping(now)
    return port.out.pop() if port.out else None


def test_a_serial_link_with_a_key_authenticates_first():
    port, listener = FakePort(), Recorder()
    link = SerialLink(port, listener, silence_s=5, key=KEY, cp_id="CP1")
    reply = exchange(link, port, msg("health_check_request", id="CP1"))
    assert reply["code"] == "unauthenticated" and listener.events == [] and not link.connected()
    nonce = link_auth.new_nonce()
    challenge = exchange(link, port, msg("link_hello", cp_id="CP1", nonce=nonce))
    ok = exchange(link, port, msg("link_auth", mac=link_auth.monitor_mac(
        KEY, "CP1", challenge["nonce"], nonce)))
    assert ok["status"] == "success" and listener.events == ["connect"] and link.connected()
    exchange(link, port, msg("health_check_request", id="CP1"))
    assert listener.events == ["connect", "health_check_request"]
    # A Monitor that restarted says hello again: the link is down until it passes.
    challenge = exchange(link, port, msg("link_hello", cp_id="CP1", nonce=nonce))
    assert challenge["type"] == "link_challenge" and not link.connected()
    assert listener.events[-1] == "disconnect"
    reply = exchange(link, port, msg("link_auth", mac=MONITOR_MAC))
    assert reply["code"] == "unauthenticated" and not link.connected()


def test_a_serial_link_without_a_key_stays_open():
    port, listener = FakePort(), Recorder()
    link = SerialLink(port, listener, silence_s=5)
    exchange(link, port, msg("health_check_request", id="CP1"))
    assert listener.events == ["connect", "health_check_request"] and port.out == []
