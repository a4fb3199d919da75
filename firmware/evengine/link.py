# The Monitor link: frames of evwire over TCP (the Engine listens; one
# Monitor at a time) or over a serial line (USB CDC on a board, a pty on a
# PC). Both report to a listener:
#   on_connect(), on_disconnect(), on_message(msg), on_malformed(reason)
# With a link key (evengine.link_guard) a peer counts only once it has passed
# the handshake: until then it hears nothing but error_response unauthenticated.
# Without one, TCP listens on loopback only (evengine.config, and TcpLink
# checks what it binds) and a newer connection replaces the older.
import socket

import evwire
from evwire.compat import ticks_diff, ticks_ms
from evwire.trace import log, trace

_RECV_SIZE = 512
_SERIAL_CHUNK = 256
_DRAIN_READS = 16  # bounded: a flooding old peer cannot stall the new one
_BACKLOG = 5  # a stranger's connect loop must not fill the queue the Monitor waits in


def poll_handle(obj):
    """What to register with poll(): the fd where there is one (CPython would
    report it anyway, and it stays valid to unregister after a close), else
    the object itself (sockets on a board have no fileno)."""
    fileno = getattr(obj, "fileno", None)
    return fileno() if fileno is not None else obj


def parse_host_port(text):
    """"HOST:PORT" -> (host, port); raises ValueError naming the problem."""
    if not isinstance(text, str) or ":" not in text:
        raise ValueError("listen address must be HOST:PORT, got %r" % (text,))
    host, _, port_text = text.rpartition(":")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError("listen port must be a number, got %r" % port_text)
    if not 0 < port < 65536:
        raise ValueError("listen port must be 1-65535, got %d" % port)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # "[::1]:5000"
    return host or "0.0.0.0", port


_LOOPBACK6 = b"\0" * 15 + b"\1"


def is_loopback(host):
    """Whether a listen host is reachable from this machine only: it resolves,
    and to loopback addresses only (127.0.0.0/8, ::1). Resolved, not read as
    text: "localhost" counts, "127.evil.example" is what DNS says it is."""
    try:
        infos = socket.getaddrinfo(host, 0)
    except (OSError, ValueError):  # unresolvable (or odd text): not loopback
        return False
    for info in infos:
        if not sockaddr_is_loopback(info[0], info[-1]):
            return False
    return len(infos) > 0


def sockaddr_is_loopback(family, addr):
    """A getaddrinfo() result's address: (text, port...) on CPython and on a
    board; the raw sockaddr bytes on MicroPython unix."""
    try:
        if isinstance(addr, tuple):
            text = addr[0].split("%", 1)[0]
            if family == socket.AF_INET:
                return text.split(".")[0] == "127"
            return text == "::1"  # getaddrinfo hands back the canonical text
        if family == socket.AF_INET:
            return addr[4] == 127
        return bytes(addr[8:24]) == _LOOPBACK6
    except (AttributeError, IndexError, TypeError):
        return False


def describe_peer(addr):
    if isinstance(addr, tuple):
        return "%s:%d" % (addr[0], addr[1])
    # MicroPython unix: a raw sockaddr_in (family, port big-endian, address),
    # or sockaddr_in6 (the address after 4 bytes of flow info), in hex groups.
    try:
        if len(addr) >= 24 and addr[0] != socket.AF_INET:
            groups = ["%x" % (addr[i] << 8 | addr[i + 1]) for i in range(8, 24, 2)]
            return "%s:%d" % (":".join(groups), addr[2] << 8 | addr[3])
        return "%d.%d.%d.%d:%d" % (addr[4], addr[5], addr[6], addr[7], addr[2] << 8 | addr[3])
    except (IndexError, TypeError):
        return str(addr)


class _Framed:
    """Shared by both links: decode incoming bytes, report what they held."""

    def __init__(self, listener, max_frame):
        self.listener = listener
        self.max_frame = max_frame
        self.decoder = evwire.FrameDecoder(max_frame)

    def _deliver(self, data):
        decoder = self.decoder
        dropped = decoder.dropped_frames
        messages = decoder.feed(data)
        if decoder.dropped_frames != dropped:
            log("warning", "dropped %d malformed frame(s) (%s); %d so far" % (
                decoder.dropped_frames - dropped, decoder.last_error, decoder.dropped_frames))
            self.listener.on_malformed(decoder.last_error)
        for msg in messages:
            trace("recv", msg)
            self.listener.on_message(msg)


class TcpLink(_Framed):
    """A Monitor sends a health check every second: one that says nothing for
    `silence_s` is gone even if its TCP connection never closed (a Pi that
    lost power sends no FIN), and its connection is dropped.

    With `key` a new connection is held aside (a few at a time, one per
    remote address: link_guard.admit) until it authenticates, within `auth_s`;
    only then does it replace the Monitor, so a stranger cannot displace an
    authenticated one, nor starve a Monitor that is authenticating."""

    def __init__(self, host, port, listener, send_timeout_s=2, max_frame=evwire.DEFAULT_MAX,
                 silence_s=5, key=None, cp_id=None, auth_s=5):
        _Framed.__init__(self, listener, max_frame)
        self.key = key
        self.cp_id = cp_id
        self.auth_ms = int(auth_s * 1000)
        self.pending = []  # link_guard.PendingPeer, being authenticated
        self.send_timeout_s = send_timeout_s
        self.silence_ms = int(silence_s * 1000)
        self.last_heard = 0
        info = socket.getaddrinfo(host, port)[0]
        if key is None and not sockaddr_is_loopback(info[0], info[-1]):
            # config.check said loopback; this is what is bound (a name may
            # resolve differently now), and without a key it must be loopback.
            raise OSError("listening on %s needs a link key: it is not loopback" % host)
        server = socket.socket(info[0], socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(info[-1])
        server.listen(_BACKLOG)
        self.server = server
        self.server_handle = poll_handle(server)
        self.conn = None
        self.conn_handle = None
        self.peer = None
        self.where = "%s:%d" % (host, port)

    def connected(self):
        return self.conn is not None

    def pollables(self):
        found = [self.server]
        if self.conn is not None:
            found.append(self.conn)
        for pending in self.pending:
            found.append(pending.conn)
        return found

    def service(self, handle, now_ms):
        """Handle poll readiness of one of our pollables (by poll_handle)."""
        if handle == self.server_handle:
            self._accept()
        elif self.conn is not None and handle == self.conn_handle:
            self._receive()
        else:
            for pending in self.pending:
                if handle == pending.handle:
                    pending.receive(self)
                    return

    def housekeeping(self, now_ms):
        for index in range(len(self.pending) - 1, -1, -1):  # backwards: it may close
            self.pending[index].housekeeping(self, now_ms)
        if self.conn is not None and ticks_diff(now_ms, self.last_heard) >= self.silence_ms:
            log("notice", "Monitor %s silent for %d ms: dropping the connection"
                % (self.peer, self.silence_ms))
            self._drop()

    def send(self, msg):
        if self.conn is None:
            return False
        try:
            self.conn.sendall(evwire.encode_frame(msg))
        except OSError as exc:
            log("warning", "Monitor %s: send failed (%s); dropping the connection"
                % (self.peer, exc))
            self._drop()
            return False
        trace("send", msg)
        return True

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        while self.pending:
            self.pending[-1].close(self)
        self.server.close()

    def _accept(self):
        try:
            conn, addr = self.server.accept()
        except OSError as exc:
            log("warning", "accept failed: %s" % exc)
            return
        conn.settimeout(self.send_timeout_s)
        peer = describe_peer(addr)
        if self.key is not None:  # held aside until it authenticates (evengine.link_guard)
            from evengine.link_guard import admit

            admit(self, conn, poll_handle(conn), peer, ticks_ms())
            return
        self.adopt(conn, peer, evwire.FrameDecoder(self.max_frame))

    def adopt(self, conn, peer, decoder):
        """conn becomes the Monitor's connection, replacing any older one."""
        if self.conn is not None:
            log("notice", "Monitor connection from %s replaces the one from %s"
                % (peer, self.peer))
            self._drain()
        if self.conn is not None:
            self.conn.close()
        else:
            log("info", "Monitor connected from %s" % peer)
        self.conn = conn
        self.conn_handle = poll_handle(conn)
        self.last_heard = ticks_ms()
        self.peer = peer
        self.decoder = decoder
        self.listener.on_connect()

    def _receive(self):
        try:
            data = self.conn.recv(_RECV_SIZE)
        except OSError as exc:
            log("warning", "Monitor %s: receive failed (%s)" % (self.peer, exc))
            data = b""
        if not data:
            log("notice", "Monitor %s disconnected" % self.peer)
            self._drop()
            return
        self.last_heard = ticks_ms()
        self._deliver(data)

    def _drain(self):
        # What the old Monitor sent before it went (an ack, say) still counts.
        conn = self.conn
        conn.settimeout(0)
        for _ in range(_DRAIN_READS):
            try:
                data = conn.recv(_RECV_SIZE)
            except OSError:
                return
            if not data:
                return
            self._deliver(data)
            if self.conn is not conn:
                return  # a reply to it failed and dropped it

    def _drop(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None
            self.listener.on_disconnect()


class SerialLink(_Framed):
    """A serial line has no connect event: the Monitor counts as connected
    while its frames keep arriving (it sends a health check every second)
    and as gone after `silence_s` without any. With `key` the line is
    authenticated too (without one it stays allowed: physical access)."""

    def __init__(self, port, listener, silence_s=5, max_frame=evwire.DEFAULT_MAX, name="serial",
                 key=None, cp_id=None):
        _Framed.__init__(self, listener, max_frame)
        self.key = key
        self.cp_id = cp_id
        self.guard = None  # a link_guard.LinkGuard while a handshake runs
        self.port = port
        self.silence_ms = int(silence_s * 1000)
        self.last_heard = None
        self.up = False
        self.where = name

    def connected(self):
        return self.up

    def pollables(self):
        return ()  # the adapter has no pollable handle; housekeeping reads it

    def service(self, handle, now_ms):
        pass

    def housekeeping(self, now_ms):
        data = self.port.read(_SERIAL_CHUNK, 0)
        if data:
            frames_before = self.decoder.frames
            if self.key is not None:  # authenticated first (evengine.link_guard)
                from evengine.link_guard import serial_deliver

                serial_deliver(self, data, now_ms)
            elif not self.up:
                self._deliver_first(data, now_ms)
            else:
                self._deliver(data)
            if self.decoder.frames != frames_before:
                self.last_heard = now_ms
        if self.up and ticks_diff(now_ms, self.last_heard) >= self.silence_ms:
            log("notice", "Monitor silent on %s for %d ms: link down" % (self.where,
                                                                       self.silence_ms))
            self.up = False
            self.listener.on_disconnect()

    def _deliver_first(self, data, now_ms):
        # The first good frame after a silence is a (new) Monitor connecting:
        # announce it before the frame is handled, so resends follow at once.
        messages = self.decoder.feed(data)
        if messages:
            self.up = True
            self.last_heard = now_ms
            log("info", "Monitor heard on %s" % self.where)
            self.listener.on_connect()
        for msg in messages:
            trace("recv", msg)
            self.listener.on_message(msg)

    def send(self, msg):
        if not self.up:
            return False
        return self.write_msg(msg)

    def write_msg(self, msg):
        try:
            self.port.write(evwire.encode_frame(msg))
        except OSError as exc:
            log("warning", "serial link %s: write failed (%s)" % (self.where, exc))
            return False
        trace("send", msg)
        return True

    def close(self):
        self.port.close()
