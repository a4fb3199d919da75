"""The operator's --max-kw is a ceiling: the dispute check and site shares trust a CP's
max power, so a CP's own registration may lower it, never raise it (real Central)."""
from __future__ import annotations

from evcentral.db import Database


def test_a_cp_cannot_raise_the_max_power_the_operator_provisioned(central_factory):
    """The dispute check trusts the CP's max power: a CP registering 1,000 kW keeps the
    operator's --max-kw ceiling (and may still lower it)."""
    central = central_factory("CP1", "CP2", start=False)
    db = Database(central.db_path)
    try:
        db.update_cp("CP1", max_kw=11.0)  # what `central add-cp CP1 --max-kw 11` sets
    finally:
        db.close()
    central.start()
    central.monitor("CP1").connect(max_kw=1000.0)
    central.monitor("CP2").connect(max_kw=7.4)

    def max_kw(cp_id: str) -> float:
        return next(r for r in central.admin("list_cps")["data"] if r["cp_id"] == cp_id)[
            "max_charging_rate_kw"]

    assert max_kw("CP1") == 11.0
    assert max_kw("CP2") == 7.4  # no ceiling given: the CP's own figure
