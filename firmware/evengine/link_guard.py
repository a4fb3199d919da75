# The Engine's side of the link handshake (evwire.link_auth): a peer proves it
# holds the CP's link key before any of its messages reach the charge point.
# Imported only when a link key is configured (RAM is scarce on a board), so
# the keyed parts of evengine.link's TcpLink and SerialLink live here too.
import evwire
from evwire import link_auth
from evwire import types as t
from evwire.compat import ticks_diff, ticks_ms
from evwire.errors import ValidationError
from evwire.trace import log, trace

UNAUTHENTICATED = "unauthenticated"
HANDSHAKE_MAX_FRAME = 512  # the handshake's frames are small: a stranger gets no more


class LinkGuard:
    """One peer's handshake. handle(msg) -> (reply, verdict): verdict None means
    go on, True authenticated, False refused (send the reply, then close)."""

    def __init__(self, key, cp_id):
        self.key = key
        self.cp_id = cp_id
        self.monitor_nonce = None
        self.engine_nonce = None

    def handle(self, msg):
        try:
            evwire.validate(msg)
        except ValidationError as exc:
            return refusal("not authenticated (%s)" % exc, msg), False
        kind = msg["type"]
        if kind == t.LINK_HELLO and self.engine_nonce is None:
            if msg["cp_id"] != self.cp_id:
                return refusal("link_hello for %s reached %s" % (msg["cp_id"], self.cp_id),
                               msg), False
            if not link_auth.nonce_ok(msg["nonce"]):
                return refusal("link_hello nonce must be %d lowercase hex characters"
                               % link_auth.NONCE_LEN, msg), False
            self.monitor_nonce = msg["nonce"]
            self.engine_nonce = link_auth.new_nonce()
            mac = link_auth.engine_mac(self.key, self.cp_id, self.monitor_nonce,
                                       self.engine_nonce)
            return evwire.make(t.LINK_CHALLENGE, msg["message_id"], nonce=self.engine_nonce,
                               mac=mac, cp_id=self.cp_id), None
        if kind == t.LINK_AUTH and self.engine_nonce is not None:
            expected = link_auth.monitor_mac(self.key, self.cp_id, self.engine_nonce,
                                             self.monitor_nonce)
            if link_auth.mac_ok(msg["mac"], expected):
                return evwire.make(t.LINK_AUTH_RESPONSE, msg["message_id"],
                                   status=t.SUCCESS), True
            return refusal("link_auth refused: wrong link key", msg), False
        return refusal("not authenticated: send link_hello, then link_auth", msg), False


def refusal(text, msg=None):
    log("warning", "link peer refused: %s" % text)
    return evwire.error_response(text, msg, UNAUTHENTICATED)


PENDING_SLOTS = 4  # peers authenticating at once: a stranger's loop cannot take them all
PENDING_GRACE_MS = 500  # a newcomer may evict a pending peer only after this


def admit(link, conn, handle, peer, now_ms):
    """A new TCP connection into one of link.pending's slots, or closed.

    Per remote address one slot: a newer connection replaces the older (a
    Monitor that reconnected). When every slot is taken, the oldest peer
    that has been pending for PENDING_GRACE_MS without a valid link_hello
    gives way; if none has, the newcomer is refused. So a stranger's connect
    loop holds one slot and cannot evict a Monitor that is mid-handshake."""
    host = peer.rpartition(":")[0]
    victim = None
    for other in link.pending:  # in arrival order: the oldest first
        if other.host == host:
            victim = other
            break
    if victim is None and len(link.pending) >= PENDING_SLOTS:
        for other in link.pending:
            if (other.guard.engine_nonce is None
                    and ticks_diff(now_ms, other.since) >= PENDING_GRACE_MS):
                victim = other
                break
        if victim is None:
            log("notice", "link peer %s refused: %d peers already authenticating"
                % (peer, PENDING_SLOTS))
            try:
                conn.close()
            except OSError:
                pass
            return None
    if victim is not None:
        log("notice", "link peer %s replaced by %s before it authenticated"
            % (victim.peer, peer))
        victim.close(link)
    pending = PendingPeer(link, conn, handle, peer, now_ms)
    link.pending.append(pending)
    return pending


class PendingPeer:
    """A TCP connection held aside until it authenticates: its own small
    decoder, its guard and when it came. A TcpLink holds a few (link.pending,
    filled by admit()); only once one authenticates does it replace the
    Monitor's connection."""

    def __init__(self, link, conn, handle, peer, now_ms=None):
        self.conn = conn
        self.handle = handle
        self.peer = peer
        self.host = peer.rpartition(":")[0]
        self.since = ticks_ms() if now_ms is None else now_ms
        self.guard = LinkGuard(link.key, link.cp_id)
        self.decoder = evwire.FrameDecoder(HANDSHAKE_MAX_FRAME)

    def housekeeping(self, link, now_ms):
        if ticks_diff(now_ms, self.since) >= link.auth_ms:
            log("notice", "link peer %s did not authenticate within %d ms: closed"
                % (self.peer, link.auth_ms))
            self.close(link)

    def receive(self, link):
        try:
            data = self.conn.recv(HANDSHAKE_MAX_FRAME)
        except OSError:
            data = b""
        if not data:
            log("notice", "link peer %s left before it authenticated" % self.peer)
            self.close(link)
            return
        verdict, rest = self.feed(data)
        if verdict is None:
            return
        if not verdict:
            self.close(link)
            return
        self.forget(link)
        log("info", "Monitor %s authenticated" % self.peer)
        link.adopt(self.conn, self.peer, self.monitor_decoder(link.max_frame))
        for msg in rest:
            trace("recv", msg)
            link.listener.on_message(msg)

    def feed(self, data):
        """(verdict, messages after the handshake): None go on, True
        authenticated, False refused (the refusal already sent)."""
        dropped = self.decoder.dropped_frames
        messages = self.decoder.feed(data)
        if self.decoder.dropped_frames != dropped:
            self._send(refusal("not authenticated (malformed frame: %s)"
                               % self.decoder.last_error))
            return False, ()
        for index in range(len(messages)):
            reply, verdict = self.guard.handle(messages[index])
            self._send(reply)
            if verdict is not None:
                return verdict, messages[index + 1:] if verdict else ()
        return None, ()

    def monitor_decoder(self, max_frame):
        """The decoder, widened to the Monitor's frame size: it goes on, as it
        may hold the start of what followed link_auth."""
        from evwire.framing import frame_bound

        self.decoder.max_len = max_frame
        self.decoder.buffer_bound = frame_bound(max_frame)
        return self.decoder

    def _send(self, msg):
        try:
            self.conn.sendall(evwire.encode_frame(msg))
        except OSError:
            pass  # it is closed next anyway, or its handshake times out

    def forget(self, link):
        if self in link.pending:
            link.pending.remove(self)

    def close(self, link):
        self.forget(link)
        try:
            self.conn.close()
        except OSError:
            pass


def serial_deliver(link, data, now_ms):
    """A SerialLink's bytes when it has a key: until a handshake passes, frames
    go to the guard (link.guard); a link_hello later is a Monitor that
    restarted, and the link is down until it passes again."""
    decoder = link.decoder
    dropped = decoder.dropped_frames
    messages = decoder.feed(data)
    if decoder.dropped_frames != dropped:
        if link.up:
            link.listener.on_malformed(decoder.last_error)
        else:
            link.guard = None
            link.write_msg(refusal("not authenticated (malformed frame: %s)" % decoder.last_error))
    for msg in messages:
        hello = isinstance(msg, dict) and msg.get("type") == t.LINK_HELLO
        if link.up and not hello:
            trace("recv", msg)
            link.listener.on_message(msg)
            continue
        if link.up:
            log("notice", "Monitor on %s starts a new handshake: link down" % link.where)
            link.up = False
            link.listener.on_disconnect()
        if hello or link.guard is None:
            link.guard = LinkGuard(link.key, link.cp_id)
        reply, verdict = link.guard.handle(msg)
        link.write_msg(reply)
        if verdict is not None:
            link.guard = None
        if verdict:
            link.up = True
            link.last_heard = now_ms
            log("info", "Monitor authenticated on %s" % link.where)
            link.listener.on_connect()
