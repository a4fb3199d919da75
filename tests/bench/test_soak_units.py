"""The soak benchmark's arithmetic: RSS growth, the warm-up sample, p99 steadiness, buckets."""
from __future__ import annotations

from evbench.soak_figures import (
    IntervalLatencies,
    growth_percent,
    rss_growth,
    steadiness,
    table_rows,
    verdicts,
    warm_index,
)


def sample(t_s: float, central: float, broker: float = 100.0, p99: float | None = 10.0) -> dict:
    return {"t_s": t_s, "sent": 60, "received": 60,
            "latency": {"count": 60, "p50_ms": 5.0, "p99_ms": p99, "max_ms": p99},
            "central": {"rss_mib": central, "cpu_percent": 10.0},
            "broker": {"rss_mib": broker, "cpu_percent": 20.0},
            "generator": {"rss_mib": 50.0, "cpu_percent": 30.0}}


def test_growth_is_last_minus_warm_over_warm():
    assert growth_percent(100.0, 104.0) == 4.0
    assert growth_percent(80.0, 76.0) == -5.0
    assert growth_percent(None, 10.0) is None
    assert growth_percent(0.0, 10.0) is None


def test_warm_sample_is_the_first_after_five_minutes_unless_the_run_is_short():
    times = [60.0 * k for k in range(1, 61)]
    assert warm_index(times, 3600) == 4  # t = 300 s
    assert warm_index([20.0, 40.0, 60.0], 120) == 0
    assert warm_index([], 3600) is None


def test_rss_growth_uses_the_warm_sample_not_the_first():
    samples = [sample(60.0 * k, central=50.0 if k < 5 else 100.0) for k in range(1, 61)]
    samples[-1]["central"]["rss_mib"] = 106.0
    growth = rss_growth(samples, 3600)
    assert growth["central"]["warm_mib"] == 100.0
    assert growth["central"]["growth_percent"] == 6.0
    assert growth["broker"]["growth_percent"] == 0.0
    results = {v["name"]: v["ok"] for v in verdicts(growth, [], steadiness([10.0] * 60))}
    assert results == {"central RSS growth < 5 %": False, "broker RSS growth < 5 %": True,
                       "0 lost": True, "p99 steady": True}


def test_p99_is_steady_up_to_twice_the_first_thirds_median():
    assert steadiness([10.0, 12.0, 11.0, 15.0, 20.0, 22.0])["steady"] is True
    unsteady = steadiness([10.0, 12.0, 11.0, 15.0, 20.0, 23.0])
    assert unsteady["steady"] is False
    assert unsteady["first_third_median_ms"] == 11.0
    assert unsteady["last_third_max_ms"] == 23.0
    assert steadiness([10.0, None, 12.0])["steady"] is None  # fewer than 3 with records


def test_latencies_are_bucketed_by_creation_interval():
    lat = IntervalLatencies(start_ms=1000.0, sample_s=10.0, window_s=25.0)
    assert len(lat.buckets) == 3  # 10 s, 10 s and the last 5 s
    lat.add([(999.0, 1500.0),  # created before the window: not counted
             (1000.0, 1010.0), (10999.0, 11049.0),  # interval 0: 10 ms, 50 ms
             (11000.0, 11200.0),  # interval 1: 200 ms
             (25999.0, 26006.0),  # interval 2 (the short last one): 7 ms
             (26000.0, 26001.0)])  # created after the window: not counted
    assert [len(b) for b in lat.buckets] == [2, 1, 1]
    assert lat.summary(0)["p99_ms"] == 50.0
    assert lat.summary(0)["p50_ms"] == 10.0
    assert lat.summary(1)["p99_ms"] == 200.0
    assert lat.summary(2)["max_ms"] == 7.0


def test_table_keeps_every_nth_minute_plus_first_warm_and_last():
    samples = [sample(60.0 * k, 100.0) for k in range(1, 13)]
    rows = [s["t_s"] for s in table_rows(samples, every_s=300.0, warm=4)]
    assert rows == [60.0, 300.0, 600.0, 720.0]
