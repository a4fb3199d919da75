"""One connection interface for both engines: execute, executemany, transaction().

Statements are written in SQLite's dialect; PgStore translates them (dialect.py).
Cursors have fetchone/fetchall/rowcount and iterate; rows read by column name.
Outside transaction() every statement commits on its own (autocommit), as before.
"""
from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from psycopg import conninfo

from evcentral.store import dialect
from evcentral.store.rows import row_factory
from evcentral.store.target import is_postgres

BUSY_TIMEOUT_S = 10.0  # SQLite waits this long for a lock; PostgreSQL's lock_timeout too
CONNECT_TIMEOUT_S = 10
STATEMENT_TIMEOUT_S = 60
Params = Sequence[Any] | None


class Store(ABC):
    """The interface (SqliteStore, PgStore); `dialect` is dialect.SQLITE or POSTGRESQL."""

    dialect: str
    target: str

    @abstractmethod
    def execute(self, sql: str, params: Params = None) -> Any: ...

    @abstractmethod
    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Any: ...

    def executescript(self, script: str) -> None:
        """DDL statements one by one (in the current transaction, if any)."""
        for statement in dialect.statements(script):
            self.execute(statement)

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Store]:
        """All statements inside commit together, or none (an exception rolls back)."""

    @abstractmethod
    def close(self) -> None: ...


class SqliteStore(Store):
    """WAL mode so the provisioning CLI can write while Central runs; synchronous=FULL
    because a finalised session must survive a power cut once its Kafka offset is
    committed."""

    dialect = dialect.SQLITE

    def __init__(self, path: str):
        self.target = path
        self.raw = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        self.raw.row_factory = sqlite3.Row
        self.raw.execute("PRAGMA journal_mode=WAL")
        self.raw.execute("PRAGMA synchronous=FULL")

    def execute(self, sql: str, params: Params = None) -> sqlite3.Cursor:
        return self.raw.execute(sql, () if params is None else params)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        return self.raw.executemany(sql, seq)

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        self.raw.execute("BEGIN IMMEDIATE")  # the write lock now: writers never deadlock
        try:
            yield self
        except BaseException:
            self.raw.execute("ROLLBACK")
            raise
        self.raw.execute("COMMIT")

    def close(self) -> None:
        self.raw.close()


class PgStore(Store):
    """psycopg 3, autocommit between transactions. Bounded: connect_timeout, lock_timeout
    (like SQLite's busy wait) and statement_timeout; each raises psycopg.OperationalError,
    which Central treats as transient (errors.TRANSIENT_ERRORS). A lost connection is
    opened again by the next statement outside a transaction."""

    dialect = dialect.POSTGRESQL

    def __init__(self, url: str):
        self.target = url
        params = conninfo.conninfo_to_dict(url)
        options = (f"-c lock_timeout={int(BUSY_TIMEOUT_S * 1000)} "
                   f"-c statement_timeout={STATEMENT_TIMEOUT_S * 1000} "
                   + str(params.get("options") or "")).strip()  # the URL's own come last
        self._conninfo = conninfo.make_conninfo(
            url, options=options, application_name=params.get("application_name") or "evcharge",
            connect_timeout=params.get("connect_timeout") or CONNECT_TIMEOUT_S)
        self._in_transaction = False
        self.raw = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self._conninfo, autocommit=True, row_factory=row_factory)

    def _live(self) -> psycopg.Connection[Any]:
        if self.raw.broken or self.raw.closed:
            if self._in_transaction:
                raise psycopg.OperationalError("connection to PostgreSQL lost in a transaction")
            self.raw = self._connect()
        return self.raw

    def execute(self, sql: str, params: Params = None) -> psycopg.Cursor[Any]:
        with_params = params is not None and len(params) > 0
        statement = dialect.pg_statement(sql, with_params)
        return self._live().execute(statement, _values(params) if with_params else None)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> psycopg.Cursor[Any]:
        cursor = self._live().cursor()
        cursor.executemany(dialect.pg_statement(sql, True), (_values(p) for p in seq))
        return cursor

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        conn = self._live()
        self._in_transaction = True
        try:
            with conn.transaction():
                yield self
        finally:
            self._in_transaction = False

    def close(self) -> None:
        self.raw.close()


def _values(params: Sequence[Any]) -> list[Any]:
    """Python's bools as SQLite stores them (0/1): the flag columns are integers."""
    return [int(v) if isinstance(v, bool) else v for v in params]


def open_store(target: str) -> Store:
    """SqliteStore for a path, PgStore for a postgresql:// URL (checked by target.py)."""
    return PgStore(target) if is_postgres(target) else SqliteStore(target)
