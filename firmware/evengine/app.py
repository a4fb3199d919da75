# The Engine's main loop: single-threaded, select.poll over the listening
# socket, the Monitor connection and stdin (key menu), with a timeout to the
# next tick. Each tick polls the hardware, updates the session and sends
# charging_data; every message goes through the one Dispatcher.
import gc
import select

import evwire
from evengine.chargepoint import ChargePoint
from evengine.handlers import ACCEPTS, EngineHandlers
from evengine.link import SerialLink, TcpLink, parse_host_port, poll_handle
from evengine.store import StateStore
from evengine.walkup import WalkUp
from evengine.watchdog import Watchdog, hardware_wdt
from evwire import trace
from evwire.compat import IS_MICROPYTHON, ticks_diff, ticks_ms
from evwire.dispatch import Dispatcher
from evwire.trace import log

_SERIAL_POLL_MS = 20  # a serial adapter is read by polling, not by poll()
_POLL_BAD = select.POLLHUP | select.POLLERR


class EngineApp:
    def __init__(self, config, hardware, store=None, link=None):
        self.config = config
        self.hw = hardware
        self.cp = ChargePoint(config, hardware, store or StateStore(config["state_dir"]))
        self.walkup = WalkUp(self.cp, self.send_to_monitor, self.show_on_menu)
        self.dispatcher = Dispatcher(EngineHandlers(self.cp, self.walkup), ACCEPTS)
        self.link = link if link is not None else make_link(config, self)
        self.menu = None
        if config["menu"] != "off":  # imported only when it may be used: RAM is scarce
            from evengine import menu as keymenu

            if keymenu.wanted(config["menu"]):
                self.menu = keymenu.KeyMenu(self.cp, hardware, config["sim_control"],
                                            walkup=self.walkup)
                self.menu_handle = poll_handle(self.menu.pollable)
        self.tick_ms = int(config["tick_s"] * 1000)
        # The tick may include several Modbus timeouts when hardware is silent.
        tick_limit = 3 * self.tick_ms + 20 * config["modbus_timeout_ms"]
        wdt = hardware_wdt(config["watchdog_ms"]) if config["watchdog_ms"] else None
        self.watchdog = Watchdog({"tick": tick_limit, "link": tick_limit}, wdt)
        self.running = False
        self.heap_live = 0  # most heap in use right after a tick's collect
        self.heap_at_tick = 0  # most in use at a tick, garbage included
        self.poller = select.poll()
        self.registered = []  # poll handles currently registered

    # -- link listener -----------------------------------------------------
    def on_connect(self):
        self.cp.monitor_connected()
        self.flush_completions()

    def on_disconnect(self):
        self.cp.monitor_disconnected(ticks_ms())
        self.walkup.monitor_lost()

    def send_to_monitor(self, msg):
        return self.link.send(msg)

    def show_on_menu(self, text):
        if self.menu is not None:
            self.menu.out(text)

    def on_message(self, msg):
        reply = self.dispatcher.handle(msg)
        if reply is not None:
            self.link.send(reply)
        self.flush_completions()  # e.g. the completion that follows a stop's response

    def on_malformed(self, reason):
        self.link.send(evwire.error_response("malformed frame: %s" % reason, None,
                                             "decode_error"))

    def flush_completions(self):
        for completion in self.cp.take_unsent():
            if not self.link.send(completion):
                break  # the link went down; the next Monitor gets it again

    # -- the loop ----------------------------------------------------------
    def run(self):
        self.cp.boot()
        self.walkup.boot()
        self.running = True
        if IS_MICROPYTHON:
            gc.collect()
            log("info", "heap in use at start: %d bytes" % gc.mem_alloc())
        trace.announce("ready %s" % ready_text(self.link))  # whatever --log-level
        if self.menu is not None:
            self.menu.start()
        last_tick = ticks_ms() - self.tick_ms
        try:
            while self.running:
                now = ticks_ms()
                if ticks_diff(now, last_tick) >= self.tick_ms:
                    last_tick = now
                    self._guarded(self.tick, now)
                wait = self.tick_ms - ticks_diff(ticks_ms(), last_tick)
                self._guarded(self.wait_and_service, max(0, wait))
                self.watchdog.check(ticks_ms())
        except KeyboardInterrupt:
            log("notice", "stopping (interrupt)")
        finally:
            self.close()
        return 0

    def _guarded(self, step, arg):
        # One bad message or driver bug must not stop the charge point: log it
        # and go on; a step that keeps failing starves the watchdog instead.
        try:
            step(arg)
        except Exception as exc:  # the loop's last line of defence
            log("error", "%s failed: %s: %s" % (step.__name__, type(exc).__name__, exc))

    def tick(self, now):
        for msg in self.cp.tick(now):
            self.link.send(msg)
        self.flush_completions()
        self.walkup.tick(now)
        if IS_MICROPYTHON:
            self.heap_at_tick = max(self.heap_at_tick, gc.mem_alloc())
            gc.collect()  # a small heap stays unfragmented between ticks
            self.heap_live = max(self.heap_live, gc.mem_alloc())
        self.watchdog.alive("tick", ticks_ms())

    def wait_and_service(self, wait_ms):
        self._sync_registrations()
        if isinstance(self.link, SerialLink):
            wait_ms = min(wait_ms, _SERIAL_POLL_MS)
        for handle, events in self.poller.poll(wait_ms):
            if self.menu is not None and handle == self.menu_handle:
                self._service_menu(events)
            else:
                self.link.service(handle, ticks_ms())
        self.link.housekeeping(ticks_ms())
        self.watchdog.alive("link", ticks_ms())

    def _service_menu(self, events):
        if events & select.POLLIN:
            result = self.menu.service()
        else:
            result = None
            self.menu.open = events & _POLL_BAD == 0
        if result == "quit":
            self.running = False
        elif result == "changed":
            self.tick(ticks_ms())  # applies the key's change...
            self.menu.show_status()  # ...so the status line shows it
        if not self.menu.open:
            self.menu = None

    def _sync_registrations(self):
        # The connection comes and goes: keep poll()'s set equal to what is open.
        wanted = [poll_handle(obj) for obj in self.link.pollables()]
        if self.menu is not None:
            wanted.append(self.menu_handle)
        for handle in list(self.registered):
            if handle not in wanted:
                self.poller.unregister(handle)
                self.registered.remove(handle)
        for handle in wanted:
            if handle not in self.registered:
                self.poller.register(handle, select.POLLIN)
                self.registered.append(handle)

    def close(self):
        try:
            self.cp.shutdown()
            self.flush_completions()
        finally:
            self.link.close()
            self.hw.close()
            if IS_MICROPYTHON:
                log("info", heap_report(self.heap_live, self.heap_at_tick))
            log("info", "stopped")


def make_link(config, listener):
    if config["serial_link"] is not None:
        from evengine.serialport import open_serial

        port = open_serial(config["serial_link"], baudrate=config["serial_baud"])
        return SerialLink(port, listener, silence_s=config["monitor_silence_s"],
                          max_frame=config["max_frame"], name=config["serial_link"],
                          key=config["link_key"], cp_id=config["cp_id"])
    host, port = parse_host_port(config["listen"])
    return TcpLink(host, port, listener, config["send_timeout_s"], config["max_frame"],
                   config["monitor_silence_s"], key=config["link_key"], cp_id=config["cp_id"],
                   auth_s=config["link_auth_s"])


def heap_report(live, at_tick):
    """One line for the logs and the benchmark (MicroPython heap figures)."""
    import micropython

    mem_peak = getattr(micropython, "mem_peak", None)  # only builds with memory stats
    return "heap: live peak %d bytes, at-tick peak %d, allocator peak %s, heap %d bytes" % (
        live, at_tick, mem_peak() if mem_peak else "n/a", gc.mem_alloc() + gc.mem_free())


def ready_text(link):
    auth = "" if getattr(link, "key", None) is None else " (link key required)"
    if isinstance(link, TcpLink):
        return "listening on %s%s" % (link.where, auth)
    return "serial link on %s%s" % (link.where, auth)


def run(config, card_reader=None):
    """Build the Engine from a checked config and run it; returns the exit code.

    card_reader: on a board, a reader of another kind than the Modbus one
    (config card_reader_unit): any object whose poll() returns the UID text of
    a card presented since the last poll, or None."""
    from evengine.hardware import build

    trace.configure(tier="engine", level=config["log_level"])
    try:
        hardware = build(config)
    except (OSError, ValueError) as exc:
        log("error", "cannot open the hardware: %s" % exc)
        return 1
    if card_reader is not None:
        hardware.card_reader = card_reader
    try:
        store = StateStore(config["state_dir"])
    except OSError as exc:
        hardware.close()
        log("error", "cannot use the state directory %s: %s" % (config["state_dir"], exc))
        return 1
    try:
        app = EngineApp(config, hardware, store)
    except OSError as exc:
        hardware.close()
        log("error", "cannot open the Monitor link: %s" % exc)
        return 1
    return app.run()
