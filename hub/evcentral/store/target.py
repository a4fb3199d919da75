"""What --db names: a SQLite file (PATH) or a PostgreSQL database (a postgresql:// URL).

A URL never carries the password (argv is readable by anyone on the host): libpq
takes it from $PGPASSWORD, ~/.pgpass or $PGPASSFILE. The secret-box key of a
PostgreSQL database comes from --db-key-file (a SQLite file keeps it in PATH.key).
"""
from __future__ import annotations

from pathlib import Path

from psycopg import conninfo

from evcentral.store.errors import StoreConfigError

PG_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(target: str | Path) -> bool:
    return str(target).startswith(PG_SCHEMES)


def check_target(target: str | Path, key_file: str | Path | None) -> None:
    """StoreConfigError unless target and key_file go together (see the module doc)."""
    if not is_postgres(target):
        if key_file is not None:
            raise StoreConfigError("--db-key-file is for a postgresql:// --db (a SQLite "
                                   "database keeps its key in PATH.key)")
        return
    try:
        params = conninfo.conninfo_to_dict(str(target))
    except Exception as exc:  # psycopg.ProgrammingError: its text names the bad part
        raise StoreConfigError(f"invalid --db URL: {exc}") from None
    if params.get("password"):
        raise StoreConfigError("the --db URL must not carry a password (anyone on this host "
                               "can read a command line): put it in $PGPASSWORD or "
                               "~/.pgpass ($PGPASSFILE)")
    if key_file is None:
        raise StoreConfigError("a postgresql:// --db needs --db-key-file F: the key (mode "
                               "0600, 64 hex digits) that encrypts CP and driver secrets; "
                               "make one with: (umask 077; openssl rand -hex 32 > F)")
