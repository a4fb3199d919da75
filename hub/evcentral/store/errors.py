"""The database errors Central tells apart, for both engines.

TRANSIENT_ERRORS: busy, locked, timed out, connection lost: worth a retry (a Kafka batch
is retried, a request read from Kafka is not lost). INTEGRITY_ERRORS: a unique or other
constraint said no. DATABASE_ERRORS: any error from either engine.
"""
from __future__ import annotations

import sqlite3

import psycopg

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (sqlite3.OperationalError,
                                                 psycopg.OperationalError)
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, psycopg.IntegrityError)
DATABASE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, psycopg.Error)


class StoreConfigError(ValueError):
    """--db or --db-key-file cannot be used (str(): the one line for the operator)."""
