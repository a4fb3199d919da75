"""Dead letters: records Central set aside, with the reason and where they came from.

Each goes to the dead-letter topic (evkafka.names.dead_letter(); value = a
`dead_letter` message whose `value` is the record's raw bytes) and, once the
broker confirmed it, into a bounded table for `evcharge admin dead-letters`.
A poison record costs exactly that record: the consumer moves on. The offset
of a batch is committed only after its dead letters are delivered, so a crash
in between sets the record aside again after a restart; the table remembers
it, and the copy already delivered is not published twice.
"""
from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from evcentral.db import Database
from evcentral.store.dialect import replace_into
from evcentral.telemetry import Record
from evkafka import names
from evwire import dumps, make
from evwire import types as t
from evwire.compat import unix_time
from evwire.trace import log

KEEP_ROWS = 10000  # the table keeps the newest this many (the topic keeps them all)
# A stranger chooses the value: the copies are bounded so that a record near the
# broker's size limit can still be set aside (its dead letter adds fields, and one
# over the limit could never be delivered, stalling the consumer) and so that the
# table cannot grow the database by gigabytes. The size and a SHA-256 of the whole
# value go with each copy.
TOPIC_VALUE_MAX = 64 * 1024  # bytes of a record's value in its dead letter
STORED_VALUE_MAX = 1024  # bytes of a record's value kept in the table
REASON_MAX = 300  # characters (the catalogue allows 512)
KEY_MAX = 256
LIST_LIMIT = 200
PREVIEW_BYTES = 32

# The table's columns written per letter; a letter replaces the row of its source offset.
_COLUMNS = ("at", "reason", "source_topic", "source_partition", "source_offset", "record_key",
            "value", "value_size")
_SOURCE = ("source_topic", "source_partition", "source_offset")

Publish = Callable[[str, str, bytes], asyncio.Future]  # (topic, key, value) -> delivery


@dataclass
class Letter:
    record: Record
    reason: str
    at: int
    delivery: asyncio.Future | None = None

    @property
    def key_text(self) -> str | None:
        key = self.record.key
        return None if key is None else printable(key.decode("utf-8", "replace"))[:KEY_MAX]

    @property
    def raw(self) -> bytes:
        return self.record.value or b""

    def message(self) -> dict:
        return make(t.DEAD_LETTER, reason=self.reason, source_topic=self.record.topic,
                    source_partition=self.record.partition,
                    source_offset=self.record.offset, key=self.key_text,
                    value=self.raw[:TOPIC_VALUE_MAX], value_size=len(self.raw),
                    value_sha256=hashlib.sha256(self.raw).hexdigest(), at=self.at)


class DeadLetters:
    def __init__(self, db: Database, publish: Publish):
        self.db = db
        self.publish = publish
        self.topic = names.dead_letter()
        self.pending: list[Letter] = []

    def add(self, rec: Record, reason: str) -> None:
        """Set rec aside; published by send_pending, stored once delivered."""
        reason = printable(reason)[:REASON_MAX]
        log("warning", f"dead letter {rec.topic}[{rec.partition}]@{rec.offset}: {reason}")
        if self._stored_before(rec):
            return  # set aside (and delivered) before a restart: not published twice
        self.pending.append(Letter(rec, reason, unix_time()))

    def send_pending(self) -> list[asyncio.Future]:
        """Publish every pending letter not yet in flight (again, if its delivery failed)."""
        started = []
        for letter in self.pending:
            if letter.delivery is None or _failed(letter.delivery):
                letter.delivery = self.publish(self.topic, letter.key_text or "",
                                               dumps(letter.message()))
                started.append(letter.delivery)
        return started

    async def settle(self) -> None:
        """Wait for the deliveries; store the delivered; raise if one failed (transient:
        the batch is retried and only the failed letters are published again)."""
        futures = [letter.delivery for letter in self.pending if letter.delivery is not None]
        results = await asyncio.gather(*futures, return_exceptions=True)
        failed = [r for r in results if isinstance(r, Exception)]
        delivered = [x for x in self.pending if x.delivery is not None and x.delivery.done()
                     and not _failed(x.delivery)]
        self._store(delivered)
        gone = {id(x) for x in delivered}
        self.pending = [x for x in self.pending if id(x) not in gone]
        if failed:
            raise failed[0]

    def _stored_before(self, rec: Record) -> bool:
        row = self.db.conn.execute(
            "SELECT value FROM dead_letters WHERE source_topic = ? AND source_partition = ?"
            " AND source_offset = ?", (rec.topic, rec.partition, rec.offset)).fetchone()
        # The same offset with another value: the topic was recreated (a fresh broker).
        return row is not None and bytes(row["value"] or b"") == (rec.value or b"")[
            :STORED_VALUE_MAX]

    def _store(self, letters: list[Letter]) -> None:
        if not letters:
            return
        with self.db.transaction() as c:
            c.executemany(
                replace_into(c.dialect, "dead_letters", _COLUMNS, _SOURCE, renumber="id"),
                [(x.at, x.reason, x.record.topic, x.record.partition, x.record.offset,
                  x.key_text, x.raw[:STORED_VALUE_MAX], len(x.raw)) for x in letters])
            c.execute("DELETE FROM dead_letters WHERE id <= (SELECT MAX(id) FROM dead_letters)"
                      " - ?", (KEEP_ROWS,))



def _failed(delivery: asyncio.Future) -> bool:
    return delivery.done() and (delivery.cancelled() or delivery.exception() is not None)


def printable(text: str) -> str:
    """Text from a stranger, safe for a log line or an operator's terminal."""
    return "".join(c if c.isprintable() else "\\x%02x" % (ord(c) & 0xFF) for c in text)


def recent(db: Database, limit: int = LIST_LIMIT) -> list[dict]:
    """The newest dead letters, newest first, for admin (value as a short hex preview)."""
    rows = db.conn.execute(
        "SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [{"at": r["at"], "reason": r["reason"], "source_topic": r["source_topic"],
             "source_partition": r["source_partition"], "source_offset": r["source_offset"],
             "key": r["record_key"],
             "size": r["value_size"] if r["value_size"] is not None else len(r["value"] or b""),
             "value_hex": bytes(r["value"] or b"")[:PREVIEW_BYTES].hex()} for r in rows]
