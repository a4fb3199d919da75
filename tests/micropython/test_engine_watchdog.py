# The watchdog is fed only when every task of the loop reported in time.
from evengine.watchdog import Watchdog


class FakeWdt:
    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


def test_fed_only_when_every_task_is_alive():
    wdt = FakeWdt()
    dog = Watchdog({"tick": 3000, "link": 3000}, wdt)
    assert not dog.check(0)  # nothing reported yet
    dog.alive("tick", 100)
    assert not dog.check(200)
    dog.alive("link", 150)
    assert dog.check(200) and wdt.feeds == 1
    dog.alive("link", 5000)
    assert dog.stalled_task(5000) == "tick"
    assert not dog.check(5000) and wdt.feeds == 1
    dog.alive("tick", 5100)
    assert dog.check(5200) and wdt.feeds == 2
