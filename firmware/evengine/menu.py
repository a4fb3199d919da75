# The charge point's key menu (the original assignment's CP menu), read from
# stdin when it is a terminal: type a key and Enter. On a PC with virtual
# hardware, plug/unplug go to the simulator's control channel so the Engine
# sees the car through its real input; on a board they stand in for the
# plug sensor.
import sys

from evengine.simcontrol import SimControlError, sim_command
from evwire.compat import stdin_bytes
from evwire.trace import log

HELP = "keys (then Enter): p plug in, u unplug, k fault (KO), o recover (OK), s status, q quit"


def stdin_is_terminal():
    try:
        import termios

        termios.tcgetattr(0)
        return True
    except Exception:  # no termios (a board), or stdin is a file/pipe/null
        return False


def wanted(setting):
    """config "menu": on, off, or auto (= stdin is a terminal)."""
    if setting == "auto":
        return stdin_is_terminal()
    return setting == "on"


class KeyMenu:
    def __init__(self, chargepoint, hardware, sim_control=None, out=None):
        self.cp = chargepoint
        self.hw = hardware
        self.sim_control = sim_control
        self.stream = stdin_bytes()
        self.pollable = sys.stdin
        self.out = out or print
        self.open = True

    def start(self):
        self.out(HELP)

    def service(self):
        """Read one key; returns "quit", "changed" (run a tick now), or None."""
        key = self.stream.read(1)
        if not key:
            self.open = False  # stdin closed: the Engine runs on without a menu
            return None
        key = chr(key[0]).lower()
        if key in "\r\n ":
            return None
        result = self.handle(key)
        if result != "quit":
            self.out(self.status_line())
        return result

    def handle(self, key):
        if key == "q":
            log("notice", "quit from the key menu")
            return "quit"
        if key == "p":
            return self._vehicle(True)
        if key == "u":
            return self._vehicle(False)
        if key == "k":
            log("notice", "fault forced from the key menu")
            self.cp.faults.force(True)
            return "changed"
        if key == "o":
            log("notice", "forced fault cleared from the key menu")
            self.cp.faults.force(False)
            return "changed"
        if key != "s":
            self.out(HELP)
        return None

    def _vehicle(self, plugged):
        if self.sim_control is None:
            self.hw.vehicle_override = plugged
            return "changed"
        try:
            reply = sim_command(self.sim_control, "plug" if plugged else "unplug")
        except SimControlError as exc:
            self.out("menu: %s" % exc)
            return None
        if not reply.get("ok"):
            self.out("menu: simulator refused: %s" % reply.get("error"))
        return "changed"

    def status_line(self):
        cp = self.cp
        health = cp.health()
        if health["is_charging"]:
            state = "charging %s" % health["session_id"]
        elif cp.session is not None:
            state = "ending %s" % cp.session.session_id
        else:
            state = "idle"
        meter = health["meter_energy_kwh"]
        return "%s %s%s | %s | vehicle %s | meter %s | Monitor %s | %d completion(s) pending" % (
            cp.cp_id, health["engine_status"],
            " (%s)" % health["fault_type"] if health["fault_type"] else "",
            state, "plugged in" if health["vehicle_connected"] else "unplugged",
            "%.3f kWh" % meter if meter is not None else "unknown",
            "connected" if cp.monitor_up else "not connected", len(cp.pending))
