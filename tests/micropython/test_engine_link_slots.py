# The Engine's pending-peer slots (evengine.link_guard.admit) and its loopback
# test (evengine.link.is_loopback), on both interpreters: one slot per remote
# address, a few slots in all, eviction only of a peer that dawdled past the
# grace without a link_hello, and loopback decided by resolving the name.
import evwire
from evengine import link as link_module
from evengine.link import is_loopback, parse_host_port, sockaddr_is_loopback
from evengine.link_guard import PENDING_GRACE_MS, PENDING_SLOTS, admit
from evwire import link_auth

KEY = "6b" * 32


class FakeConn:
    def __init__(self):
        self.closed = False
        self.out = evwire.FrameDecoder()
        self.got = []

    def sendall(self, data):
        self.got += self.out.feed(data)

    def close(self):
        self.closed = True


class FakeLink:
    """What admit() and PendingPeer use of a TcpLink."""

    def __init__(self):
        self.pending = []
        self.key = KEY
        self.cp_id = "CP1"
        self.auth_ms = 5000


def arrive(link, host, now, port=40000):
    conn = FakeConn()
    peer = admit(link, conn, None, "%s:%d" % (host, port), now)
    return conn, peer


def test_one_slot_per_address_the_newer_wins():
    link = FakeLink()
    first, _ = arrive(link, "10.0.0.9", 1000)
    second, peer = arrive(link, "10.0.0.9", 1001, port=40001)
    assert first.closed and not second.closed
    assert link.pending == [peer] and peer.host == "10.0.0.9"


def test_full_slots_refuse_a_newcomer_until_a_peer_dawdles_past_the_grace():
    link = FakeLink()
    conns = [arrive(link, "10.0.0.%d" % n, 1000 + n)[0] for n in range(PENDING_SLOTS)]
    assert len(link.pending) == PENDING_SLOTS and not [c for c in conns if c.closed]
    late, peer = arrive(link, "10.0.1.1", 1000 + PENDING_GRACE_MS - 1)
    assert peer is None and late.closed and len(link.pending) == PENDING_SLOTS
    # The oldest that said nothing gives way once its grace is over.
    now = 1000 + PENDING_GRACE_MS
    newcomer, peer = arrive(link, "10.0.1.2", now)
    assert conns[0].closed and not newcomer.closed and link.pending[-1] is peer
    assert len(link.pending) == PENDING_SLOTS and not [c for c in conns[1:] if c.closed]


def test_a_peer_that_sent_a_valid_hello_is_not_evicted():
    link = FakeLink()
    talking, peer = arrive(link, "10.0.0.1", 0)
    hello = evwire.make("link_hello", cp_id="CP1", nonce=link_auth.new_nonce())
    assert peer.feed(evwire.encode_frame(hello)) == (None, ())
    assert talking.got[-1]["type"] == "link_challenge"
    silent = [arrive(link, "10.0.0.%d" % n, 10)[0] for n in range(2, PENDING_SLOTS + 1)]
    later = 10 + PENDING_GRACE_MS * 4
    arrive(link, "10.0.2.1", later)
    assert not talking.closed and silent[0].closed  # the oldest silent one, not the talker
    for n in range(3):  # each further newcomer takes the next silent peer's slot
        arrive(link, "10.0.3.%d" % n, later)
    assert not talking.closed and peer in link.pending
    assert len(link.pending) == PENDING_SLOTS


def test_closing_a_pending_peer_frees_its_slot():
    link = FakeLink()
    conn, peer = arrive(link, "10.0.0.1", 0)
    peer.close(link)
    assert conn.closed and link.pending == []
    peer.close(link)  # twice is harmless
    assert link.pending == []


def test_loopback_is_resolved_not_read():
    for host in ("127.0.0.1", "127.3.2.1", "localhost", "::1"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.4.20", "127.evil.example", "", "[::1]"):
        assert not is_loopback(host), host
    assert parse_host_port("[::1]:5000") == ("::1", 5000)


class FakeSocketModule:
    """Stands in for `socket` in evengine.link: getaddrinfo answers from a table."""
    AF_INET = 2
    AF_INET6 = 10

    def __init__(self, table):
        self.table = table

    def getaddrinfo(self, host, port):
        if host not in self.table:
            raise OSError(-2)
        return [(family, 1, 6, "", (text, port)) for family, text in self.table[host]]


def test_a_name_counts_only_if_all_it_resolves_to_is_loopback():
    real = link_module.socket
    link_module.socket = FakeSocketModule({
        "127.evil.example": [(2, "93.184.216.34")],
        "monitor.lan": [(2, "127.0.0.1"), (2, "10.0.0.5")],
        "pi.local": [(10, "::1"), (2, "127.0.1.1")],
        "empty.example": [],
    })
    try:
        assert not is_loopback("127.evil.example") and not is_loopback("monitor.lan")
        assert not is_loopback("empty.example") and not is_loopback("unknown.example")
        assert is_loopback("pi.local")
    finally:
        link_module.socket = real


def test_raw_sockaddrs_from_micropython_unix_are_read_too():
    v4 = bytearray(b"\x02\x00\x13\x88\x7f\x00\x00\x01" + b"\x00" * 8)
    assert sockaddr_is_loopback(2, v4)
    v4[4] = 10
    assert not sockaddr_is_loopback(2, v4)
    v6 = bytearray(b"\x0a\x00\x13\x88" + b"\x00" * 4 + b"\x00" * 15 + b"\x01" + b"\x00" * 4)
    assert sockaddr_is_loopback(10, v6)
    v6[23] = 2
    assert not sockaddr_is_loopback(10, v6)
    assert not sockaddr_is_loopback(2, None)
    assert link_module.describe_peer(bytes(v4)) == "10.0.0.1:5000"
    assert link_module.describe_peer(bytes(v6)) == "0:0:0:0:0:0:0:2:5000"
