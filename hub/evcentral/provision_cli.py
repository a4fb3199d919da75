"""Offline provisioning: `evcharge central add-cp|remove-cp|list-cps|add-driver|...`.

Works on the database directly (also while Central runs: WAL mode, or PostgreSQL's
own concurrency, and Central reads CPs and drivers from the database when it needs
them). --db PATH is a SQLite file, --db postgresql://USER@HOST:PORT/DBNAME a PostgreSQL
database (its password in $PGPASSWORD or ~/.pgpass, its key in --db-key-file).
"""
from __future__ import annotations

import argparse
import json
import secrets

from evcentral import sites
from evcentral.db import Database, ProvisioningError
from evcentral.secrets_box import SecretBoxError
from evcentral.store.errors import DATABASE_ERRORS, StoreConfigError
from evhost.cliargs import non_negative, positive
from evhost.cliout import CommandError, ConfigProblem, Parser, Refused
from evhost.secretfile import SecretFileError, read_secret_file

COMMANDS = ("add-cp", "update-cp", "remove-cp", "list-cps", "add-driver", "remove-driver",
            "list-drivers", "set-driver-secret", "add-site", "update-site", "list-sites",
            "remove-site")
# How long a CP's old secret still verifies after add-cp gives it a new one: records
# the Monitor signed before (in its outbox, in Kafka) must still reach billing.
DEFAULT_OLD_SECRET_GRACE_S = 24 * 3600.0


def _ident(text: str) -> str:
    if not text or len(text) > 64 or not text.isprintable() or text.strip() != text:
        raise argparse.ArgumentTypeError(f"invalid id '{text}' (1-64 printable characters)")
    return text


def _site_ref(text: str) -> str:
    return text if text == "" else _ident(text)


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="evcharge central",
               description="Provision charge points and drivers in Central's database.")
    sub = p.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add-cp", help="add a charge point (or update an existing one)")
    add.add_argument("cp_id", type=_ident)
    add.add_argument("--location", help="where it is (shown to drivers)")
    add.add_argument("--max-kw", type=positive,
                     help="max charging rate, kW: a ceiling the Monitor's registration may "
                          "lower, never raise (without it: 11.0 until the CP registers)")
    add.add_argument("--price-per-kwh", type=positive,
                     help="its own price (default: Central's --price-per-kwh)")
    add_how = add.add_mutually_exclusive_group()
    add_how.add_argument("--secret-file", metavar="F",
                         help="read the CP's secret from F (mode 0600; preferred: the Monitor's "
                              "--secret-file reads the same file)")
    add_how.add_argument("--secret", action=RemovedSecret, help=argparse.SUPPRESS)
    add.add_argument("--site", type=_site_ref, help="the site (shared power limit) it belongs "
                                                    "to; '' detaches it")
    add.add_argument("--old-secret-grace", type=non_negative, metavar="SECONDS",
                     default=DEFAULT_OLD_SECRET_GRACE_S,
                     help="when a new secret replaces an existing CP's: how long Central still "
                          "accepts the old one, for records and logins signed before the "
                          f"rotation (default {DEFAULT_OLD_SECRET_GRACE_S:g} = 24 h; 0: at once)")
    upd = sub.add_parser("update-cp", help="change a provisioned charge point")
    upd.add_argument("cp_id", type=_ident)
    upd.add_argument("--location", help="where it is")
    upd.add_argument("--max-kw", type=positive, help="max charging rate, kW")
    upd.add_argument("--price-per-kwh", type=positive, help="its own price")
    upd.add_argument("--site", type=_site_ref, help="the site it belongs to; '' detaches it")
    add_s = sub.add_parser("add-site", help="add a site: a power limit its CPs share")
    add_s.add_argument("site_id", type=_ident)
    add_s.add_argument("--max-kw", type=positive, required=True, help="the site's limit, kW")
    add_s.add_argument("--min-kw", type=positive,
                       help=f"least power worth giving a car, kW (default {sites.DEFAULT_MIN_KW}:"
                            " 6 A x 3 x 230 V); below it a car waits in the queue")
    upd_s = sub.add_parser("update-site", help="change a site's limit (Central applies it "
                                               "within a second)")
    upd_s.add_argument("site_id", type=_ident)
    upd_s.add_argument("--max-kw", type=positive, help="the site's limit, kW")
    upd_s.add_argument("--min-kw", type=positive, help="least power worth giving a car, kW")
    sub.add_parser("list-sites", help="list sites and their charge points")
    rm_s = sub.add_parser("remove-site", help="remove a site (its CPs are detached)")
    rm_s.add_argument("site_id", type=_ident)
    rm = sub.add_parser("remove-cp", help="remove a charge point (its sessions stay)")
    rm.add_argument("cp_id", type=_ident)
    sub.add_parser("list-cps", help="list provisioned charge points")
    add_d = sub.add_parser("add-driver", help="register a driver")
    add_d.add_argument("driver_id", type=_ident)
    add_d.add_argument("--name", default="", help="the driver's name")
    add_d.add_argument("--card", type=_ident, help="RFID card UID for walk-up charging")
    _secret_options(add_d)
    rm_d = sub.add_parser("remove-driver", help="remove a driver")
    rm_d.add_argument("driver_id", type=_ident)
    sub.add_parser("list-drivers", help="list registered drivers")
    rot = sub.add_parser("set-driver-secret", help="give a driver a new secret (rotation): the "
                                                   "old one stops working at once")
    rot.add_argument("driver_id", type=_ident)
    _secret_options(rot)
    for name, sp in sub.choices.items():
        add_db_options(sp)
        if name.startswith("list"):
            sp.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def add_db_options(p: argparse.ArgumentParser) -> None:
    """--db and --db-key-file, the same for Central and its provisioning commands."""
    p.add_argument("--db", required=True, metavar="PATH|URL",
                   help="Central's database: a SQLite file (created if missing; its secret key "
                        "sits in PATH.key) or postgresql://USER@HOST:PORT/DBNAME (no password "
                        "in it: $PGPASSWORD or ~/.pgpass; docs/CENTRAL.md)")
    p.add_argument("--db-key-file", metavar="F",
                   help="with a postgresql:// --db (required then): the key that encrypts CP "
                        "and driver secrets, 64 hex digits in a file of mode 0600")


def _secret_options(sp: argparse.ArgumentParser) -> None:
    how = sp.add_mutually_exclusive_group()
    how.add_argument("--secret-file", metavar="F",
                     help="read the driver's secret from F (mode 0600; preferred)")
    how.add_argument("--secret", action=RemovedSecret, help=argparse.SUPPRESS)


class RemovedSecret(argparse.Action):
    """A secret on the command line is readable by anyone on the host (ps, shell history):
    refused, its value not echoed. Without --secret-file one is generated and shown once."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error("--secret is not accepted (anyone on this host can read a command "
                     "line): use --secret-file F (mode 0600), or give none and a secret is "
                     "generated and shown once")


def _driver_secret(ns: argparse.Namespace) -> tuple[str, bool]:
    """(secret, generated): from --secret-file, or a new random one."""
    if ns.secret_file:
        return read_secret_file(ns.secret_file), False
    return secrets.token_urlsafe(24), True


def _show_generated() -> None:
    print("(give it to the driver: `evcharge driver --secret-file F` or "
          "$EVCHARGE_DRIVER_SECRET; it is not shown again)")


def main(argv: list[str]) -> int:
    ns = parser().parse_args(argv)
    try:
        db = Database(ns.db, ns.db_key_file)
    except StoreConfigError as exc:
        raise ConfigProblem(str(exc)) from None
    except (*DATABASE_ERRORS, OSError, SecretBoxError, RuntimeError) as exc:
        raise ConfigProblem(f"cannot open database {ns.db}: {exc}") from None
    try:
        return ACTIONS[ns.command](db, ns)
    except ProvisioningError as exc:  # unknown id, already exists: the database says no
        raise Refused(str(exc)) from None
    except SecretFileError as exc:
        raise ConfigProblem(str(exc)) from None
    except (*DATABASE_ERRORS, SecretBoxError) as exc:
        raise CommandError(f"{ns.command}: database error: {exc}") from None
    finally:
        db.close()


def add_cp(db: Database, ns: argparse.Namespace) -> int:
    ns.secret = read_secret_file(ns.secret_file) if ns.secret_file else None
    if db.cp(ns.cp_id) is not None:
        if ns.site is not None:
            sites.set_cp_site(db, ns.cp_id, ns.site)  # first: an unknown site changes nothing
        db.update_cp(ns.cp_id, ns.location, ns.max_kw, ns.price_per_kwh, ns.secret,
                     old_secret_grace_s=ns.old_secret_grace)
        print(f"updated {ns.cp_id}" + (f" (new secret; {_grace_text(ns.old_secret_grace)})"
                                       if ns.secret else ""))
        return 0
    if ns.site and not any(s.site_id == ns.site for s in sites.sites(db)):
        raise ProvisioningError(f"unknown site {ns.site}: add it with add-site first")
    secret = ns.secret or secrets.token_urlsafe(24)
    db.add_cp(ns.cp_id, secret, ns.location or "", ns.max_kw or 11.0, ns.price_per_kwh,
              max_kw_ceiling=ns.max_kw)
    if ns.site:
        sites.set_cp_site(db, ns.cp_id, ns.site)
    print(f"added {ns.cp_id}" + (f" (site {ns.site})" if ns.site else ""))
    if not ns.secret:
        print(f"secret: {secret}")
        print("(give it to the charge point's Monitor in a 0600 file: --secret-file; "
              "it is not shown again)")
    return 0


def _grace_text(grace_s: float) -> str:
    if grace_s <= 0:
        return "the old one no longer authenticates"
    return (f"the old one is still accepted for {grace_s:g} s: put the new one in the "
            "Monitor's secret file, it re-reads it when Central refuses it")


def update_cp(db: Database, ns: argparse.Namespace) -> int:
    if db.cp(ns.cp_id) is None:
        raise ProvisioningError(f"unknown charge point {ns.cp_id}: add it with add-cp")
    if ns.site is not None:
        sites.set_cp_site(db, ns.cp_id, ns.site)
    db.update_cp(ns.cp_id, ns.location, ns.max_kw, ns.price_per_kwh)
    where = "" if ns.site is None else (f" (site {ns.site})" if ns.site else " (no site)")
    print(f"updated {ns.cp_id}{where}")
    return 0


def add_site(db: Database, ns: argparse.Namespace) -> int:
    sites.add_site(db, ns.site_id, ns.max_kw, ns.min_kw)
    print(f"added site {ns.site_id} ({ns.max_kw:g} kW)")
    return 0


def update_site(db: Database, ns: argparse.Namespace) -> int:
    if ns.max_kw is None and ns.min_kw is None:
        raise ProvisioningError("nothing to change: give --max-kw and/or --min-kw")
    sites.update_site(db, ns.site_id, ns.max_kw, ns.min_kw)
    print(f"updated site {ns.site_id}")
    return 0


def remove_site(db: Database, ns: argparse.Namespace) -> int:
    detached = sites.remove_site(db, ns.site_id)
    print(f"removed site {ns.site_id}" + (f" ({detached} CPs detached)" if detached else ""))
    return 0


def list_sites(db: Database, ns: argparse.Namespace) -> int:
    members = sites.memberships(db)
    rows = [{"site_id": s.site_id, "max_kw": s.max_kw, "min_kw": s.min_kw,
             "cps": sorted(cp for cp, site in members.items() if site == s.site_id)}
            for s in sites.sites(db)]
    if ns.json:
        print(json.dumps(rows))
        return 0
    _table(["SITE", "MAX KW", "MIN KW", "CPS"],
           [[r["site_id"], f"{r['max_kw']:g}", f"{r['min_kw']:g}", " ".join(r["cps"]) or "-"]
            for r in rows])
    return 0


def remove_cp(db: Database, ns: argparse.Namespace) -> int:
    db.remove_cp(ns.cp_id)
    print(f"removed {ns.cp_id}")
    return 0


def list_cps(db: Database, ns: argparse.Namespace) -> int:
    members = sites.memberships(db)
    rows = [{"cp_id": c.cp_id, "location": c.location, "max_kw": c.max_kw,
             "site_id": members.get(c.cp_id),
             "price_per_kwh": c.price_per_kwh, "stopped": c.stopped,
             "stop_reason": c.stop_reason} for c in db.cps()]
    if ns.json:
        print(json.dumps(rows))
        return 0
    _table(["CP", "LOCATION", "MAX KW", "PRICE/KWH", "OPERATOR"],
           [[r["cp_id"], r["location"], f"{r['max_kw']:g}",
             "default" if r["price_per_kwh"] is None else f"{r['price_per_kwh']:.2f}",
             "stopped" if r["stopped"] else "in service"] for r in rows])
    return 0


def add_driver(db: Database, ns: argparse.Namespace) -> int:
    secret, generated = _driver_secret(ns)  # a bad secret file fails before anything is added
    db.add_driver(ns.driver_id, ns.name, ns.card)
    db.set_driver_secret(ns.driver_id, secret)
    print(f"added driver {ns.driver_id}" + (f" (card {ns.card})" if ns.card else ""))
    if generated:
        print(f"secret: {secret}")
        _show_generated()
    return 0


def set_driver_secret(db: Database, ns: argparse.Namespace) -> int:
    if db.driver(ns.driver_id) is None:
        raise ProvisioningError(f"unknown driver {ns.driver_id}")
    secret, generated = _driver_secret(ns)
    db.set_driver_secret(ns.driver_id, secret)
    print(f"new secret for driver {ns.driver_id}: the old one no longer authenticates")
    if generated:
        print(f"secret: {secret}")
        _show_generated()
    return 0


def remove_driver(db: Database, ns: argparse.Namespace) -> int:
    db.remove_driver(ns.driver_id)
    print(f"removed driver {ns.driver_id}")
    return 0


def list_drivers(db: Database, ns: argparse.Namespace) -> int:
    rows = [{"driver_id": d.driver_id, "name": d.name, "card_uid": d.card_uid}
            for d in db.drivers()]
    if ns.json:
        print(json.dumps(rows))
        return 0
    _table(["DRIVER", "NAME", "CARD"], [[r["driver_id"], r["name"], r["card_uid"] or "-"]
                                        for r in rows])
    return 0


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in [header, *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())


ACTIONS = {"add-cp": add_cp, "update-cp": update_cp, "add-site": add_site,
           "update-site": update_site, "remove-site": remove_site, "list-sites": list_sites,
           "remove-cp": remove_cp, "list-cps": list_cps,
           "add-driver": add_driver, "remove-driver": remove_driver, "list-drivers": list_drivers,
           "set-driver-secret": set_driver_secret}
