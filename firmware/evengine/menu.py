# The charge point's key menu (the original assignment's CP menu), read from
# stdin when it is a terminal: type a key and Enter. On a PC with virtual
# hardware, plug/unplug go to the simulator's control channel so the Engine
# sees the car through its real input; on a board they stand in for the
# plug sensor. A walk-up request takes an id after its key: `c D42` asks to
# charge driver D42, `r 04A1B2C3` presents that card (to the simulated
# reader when there is one, so it goes the way a real swipe goes).
import sys

from evengine.simcontrol import SimControlError, sim_command
from evwire.compat import stdin_bytes, ticks_ms
from evwire.trace import log

HELP = ("keys (then Enter): p plug in, u unplug, c ID charge driver ID, r UID present card UID,"
        " k fault (KO), o recover (OK), s status, q quit")
MAX_ID = 64  # Central's limit for driver ids; card UIDs are shorter
ASKS = {"c": "driver id", "r": "card UID"}


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
    def __init__(self, chargepoint, hardware, sim_control=None, out=None, walkup=None):
        self.cp = chargepoint
        self.hw = hardware
        self.sim_control = sim_control
        self.walkup = walkup
        self.stream = stdin_bytes()
        self.pollable = sys.stdin
        self.out = out or print
        self.open = True
        self.typing = None  # [key, text so far, prompted] while an id is typed

    def start(self):
        self.out(HELP)

    def service(self):
        """Read one key; returns "quit", "changed" (run a tick now, then show_status:
        the status line must show the change, not the state before it), or None."""
        key = self.stream.read(1)
        if not key:
            self.open = False  # stdin closed: the Engine runs on without a menu
            return None
        char = chr(key[0])
        if self.typing is not None:
            return self._type(char)
        key = char.lower()
        if key in "\r\n ":
            return None
        result = self.handle(key)
        if result is None and self.typing is None:
            self.show_status()
        return result

    def show_status(self):
        self.out(self.status_line())

    def handle(self, key):
        if key == "q":
            log("notice", "quit from the key menu")
            return "quit"
        if key == "p":
            return self._vehicle(True)
        if key == "u":
            return self._vehicle(False)
        if key in ASKS and self.walkup is not None:
            self.typing = [key, "", False]  # the id follows, up to Enter
            return None
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

    def _type(self, char):
        key, text, prompted = self.typing
        if char in "\r\n":
            if text:  # the request's own lines follow, then its answer
                self.typing = None
                return self._ask(key, text)
            if prompted:  # a second empty line: the driver changed their mind
                self.typing = None
                self.out("menu: cancelled")
            else:
                self.typing[2] = True
                self.out("%s, then Enter:" % ASKS[key])
            return None
        if char == " " and not text:
            return None  # the space between the key and the id
        if not " " < char <= "~" or len(text) >= MAX_ID:
            self.typing = None
            self.out("menu: a %s is 1-%d printable characters without spaces: cancelled"
                     % (ASKS[key], MAX_ID))
            return None
        self.typing[1] = text + char
        return None

    def _ask(self, key, text):
        if key == "c":
            self.walkup.request(ticks_ms(), driver_id=text)
            return None
        if self.sim_control is not None and self.hw.card_reader is not None:
            return self._sim("swipe " + text)  # read back by the Engine's reader
        self.walkup.request(ticks_ms(), card_uid=text)
        return None

    def _vehicle(self, plugged):
        if self.sim_control is None:
            self.hw.vehicle_override = plugged
            return "changed"
        return self._sim("plug" if plugged else "unplug")

    def _sim(self, command):
        try:
            reply = sim_command(self.sim_control, command)
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
        elif health["waiting_for_vehicle"]:
            state = "waiting for vehicle %s" % health["session_id"]
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
