# Client of the virtual hardware's control channel (`evcharge sim-hw`): one
# command line out, one JSON reply line back, over a Unix socket. The key
# menu uses it to plug and unplug the simulated car, exactly as a person
# would plug a real one: the Engine then sees it through its Modbus input.
import json
import socket

from evwire.compat import unix_socket_address

_MAX_REPLY = 4096


class SimControlError(Exception):
    pass


def sim_command(path, command, timeout_s=2):
    """Send one command; return the simulator's reply (a dict with "ok")."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        sock.connect(unix_socket_address(path))
        sock.sendall(command.encode() + b"\n")
        data = b""
        while b"\n" not in data:
            chunk = sock.recv(512)
            if not chunk or len(data) + len(chunk) > _MAX_REPLY:
                break
            data += chunk
    except OSError as exc:
        raise SimControlError("simulator control %s: %s" % (path, exc))
    finally:
        sock.close()
    try:
        reply = json.loads(data.split(b"\n")[0])
    except ValueError:
        raise SimControlError("simulator control %s: unreadable reply %r" % (path, data[:80]))
    if not isinstance(reply, dict):
        raise SimControlError("simulator control %s: reply is not an object" % path)
    return reply
