# The hardware watchdog (machine.WDT on a board). It is fed by one check
# that every task of the loop reported recently: the tick (meter, relay,
# session) and the link service. If either stalls, or keeps failing, the
# feeding stops and the board resets, opening the relay on the way up.
from evwire.compat import ticks_diff
from evwire.trace import log


def hardware_wdt(timeout_ms):
    """machine.WDT if this port has one, else None (the unix port, CPython)."""
    try:
        import machine

        return machine.WDT(timeout=timeout_ms)
    except (ImportError, AttributeError):
        log("notice", "no hardware watchdog on this port; checking tasks only")
        return None


class Watchdog:
    def __init__(self, limits, wdt=None):
        """limits: {task name: longest allowed silence in ms}; wdt: has feed()."""
        self.limits = limits
        self.wdt = wdt
        self.last = {}
        self.starving = None  # the task that stopped reporting, once logged

    def alive(self, task, now_ms):
        self.last[task] = now_ms

    def stalled_task(self, now_ms):
        for task in self.limits:
            seen = self.last.get(task)
            if seen is None or ticks_diff(now_ms, seen) > self.limits[task]:
                return task
        return None

    def check(self, now_ms):
        """Feed the watchdog only if every task is alive; returns whether it fed."""
        stalled = self.stalled_task(now_ms)
        if stalled is not None:
            if self.starving != stalled:
                log("error", "task '%s' stalled: watchdog not fed" % stalled)
                self.starving = stalled
            return False
        if self.starving is not None:
            log("notice", "task '%s' alive again" % self.starving)
            self.starving = None
        if self.wdt is not None:
            self.wdt.feed()
        return True
