"""Full-jitter exponential back-off: the shape of the delays and when it resets."""
from __future__ import annotations

import random

from evhost.backoff import Backoff


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def upper(low: float, high: float) -> float:
    return high  # the ceiling itself, to read the exponential envelope


def test_ceiling_doubles_from_the_base_up_to_the_cap():
    backoff = Backoff(0.5, 30.0, rng=upper)
    delays = [backoff.next_delay() for _ in range(10)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]


def test_delays_are_uniform_between_zero_and_the_ceiling():
    backoff = Backoff(0.5, 30.0, rng=random.Random(7).uniform)
    for _ in range(200):
        ceiling = backoff.ceiling()
        delay = backoff.next_delay()
        assert 0.0 <= delay <= ceiling
    spread = [Backoff(0.5, 30.0, rng=random.Random(s).uniform) for s in range(50)]
    for b in spread:
        b.attempt = 10
    firsts = [b.next_delay() for b in spread]
    assert min(firsts) < 10 and max(firsts) > 20  # jitter spreads a fleet's reconnects


def test_a_link_that_stayed_up_long_enough_resets_the_back_off():
    clock = Clock()
    backoff = Backoff(0.5, 30.0, reset_after=10.0, rng=upper, clock=clock)
    for _ in range(5):
        backoff.next_delay()
    backoff.link_up()
    clock.now += 10.0
    backoff.link_down()
    assert backoff.next_delay() == 0.5


def test_a_flapping_link_keeps_backing_off():
    clock = Clock()
    backoff = Backoff(0.5, 30.0, reset_after=10.0, rng=upper, clock=clock)
    for _ in range(3):
        backoff.next_delay()
    backoff.link_up()
    clock.now += 4.0
    backoff.link_down()
    assert backoff.next_delay() == 4.0


def test_a_very_long_outage_does_not_overflow():
    backoff = Backoff(0.5, 30.0, rng=upper)
    backoff.attempt = 5000
    assert backoff.next_delay() == 30.0
