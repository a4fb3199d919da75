"""Telemetry figures of a step: throughput, latency, loss, from what was sent and received."""
from __future__ import annotations

from evbench.drivers import DriverEvents
from evbench.metrics import rate, summarise_ms
from evbench.producers import ProducerPool


def telemetry_figures(sent_ids: set[str], events: DriverEvents,
                      window_ms: tuple[float, float], sent_in_window: int,
                      producers: ProducerPool) -> dict:
    """sent_ids: charging_data the charge points produced; events: what the drivers got;
    sent_in_window: how many of them were produced inside the window (offered load).

    Latency = arrival at the driver - the record's created_ms, for records
    created inside the measured window; throughput = forwarded records that
    arrived inside the window, per second; lost = sent but never received
    (within the drain timeout).
    """
    start, end = window_ms
    seconds = max(1e-3, (end - start) / 1000)
    records = list(events.data)
    in_window = [(arrived - created) / 1000 for created, arrived in records
                 if start <= created < end]
    arrived_in_window = sum(1 for _created, arrived in records if start <= arrived < end)
    received = len(sent_ids & events.data_ids)
    return {
        "sent": len(sent_ids),
        "received": received,
        "lost": len(sent_ids) - received,
        "duplicates": events.duplicates,
        "unexpected": len(events.data_ids - sent_ids),
        "offered_per_s": rate(sent_in_window, seconds),
        "forwarded_per_s": rate(arrived_in_window, seconds),
        "latency": summarise_ms(in_window),
        "latency_all_records": summarise_ms([(a - c) / 1000 for c, a in records]),
        "status_updates": events.status_updates,
        "producer_failed": producers.failed,
        "producer_refused": producers.refused,
    }
