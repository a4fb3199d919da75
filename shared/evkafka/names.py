"""Kafka topic and group names, with an optional namespace prefix.

EVCHARGE_KAFKA_NAMESPACE (default empty) prefixes every topic and consumer
group, so that several networks (or parallel tests) can share one broker.
Every tier asks this module for names; none spells a topic itself.
"""
from __future__ import annotations

import os

from evwire import types as t

ENV_NAMESPACE = "EVCHARGE_KAFKA_NAMESPACE"


def namespace() -> str:
    return os.environ.get(ENV_NAMESPACE, "")


def cp_events() -> str:
    return namespace() + t.TOPIC_CP_EVENTS


def driver_events() -> str:
    return namespace() + t.TOPIC_DRIVER_EVENTS


def driver_requests() -> str:
    return namespace() + t.TOPIC_DRIVER_REQUESTS


def dead_letter() -> str:
    """Records Central set aside (undecodable, invalid, unverified, or whose handler
    failed for good), each a dead_letter message naming the reason and the source."""
    return namespace() + t.TOPIC_DEAD_LETTER


def cp_status() -> str:
    """Compacted: the latest cp_status record of each CP (key cp_id), for readers
    other than Central (the MQTT bridge); created by evcentral.status_feed."""
    return namespace() + t.TOPIC_CP_STATUS


def central_relay() -> str:
    """Requests between Centrals for a CP another Central holds (hub/evcentral/relay.py),
    keyed by the owning Central's id; read by Centrals only."""
    return namespace() + "evcharge.central-relay"


def central_group() -> str:
    return namespace() + t.CENTRAL_GROUP


def driver_group(driver_id: str) -> str:
    return namespace() + "evcharge-driver-" + driver_id


def all_topics() -> list[str]:
    return [cp_events(), driver_events(), driver_requests(), dead_letter()]
