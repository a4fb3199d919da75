"""What the wire's golden vectors are made of (tools/gen_vectors.py builds and writes them).

An example of every message type (or one synthesized from the catalogue for a type
added without one), examples of optional fields in another use, messages the
catalogue must refuse with the exact error, and edge values of the codec.
"""
from __future__ import annotations

import math
from typing import Any

from evwire import schema
from evwire import types as t
from evwire.auth import auth_mac

TS = 1700000000  # fixed timestamps keep the vectors stable


def message_examples() -> dict[str, dict[str, Any]]:
    """One realistic message per type, as the tiers send them (no type/message_id)."""
    point = {"cp_id": "CP1", "location": "Calle Mayor 1, Alicante", "status": "AVAILABLE",
             "price_per_kwh": 0.3, "max_charging_rate_kw": 22.0}
    return {
        t.HEALTH_CHECK_REQUEST: {"id": "CP1"},
        t.START_CHARGING_COMMAND: {"cp_id": "CP1", "session_id": "S-0001", "driver_id": "D1",
                                   "price_per_kwh": 0.3, "max_charging_rate_kw": 11.0,
                                   "timestamp": TS},
        t.STOP_CHARGING_COMMAND: {"cp_id": "CP1", "session_id": "S-0001", "reason": "driver"},
        t.CHARGE_COMPLETION_ACK: {"session_id": "S-0001", "cp_id": "CP1"},
        t.SET_CHARGING_LIMIT: {"cp_id": "CP1", "limit_kw": 7.36, "session_id": "S-0001",
                               "hold_s": 30, "site_id": "SITE1", "timestamp": TS},
        t.HEALTH_CHECK_RESPONSE: {"status": t.SUCCESS, "engine_status": t.ENGINE_OK,
                                  "is_charging": True, "vehicle_connected": True,
                                  "fault_type": None, "meter_energy_kwh": 1234.567,
                                  "session_id": "S-0001"},
        t.COMMAND_RESPONSE: {"status": t.FAILURE, "message": "no vehicle connected",
                             "session_id": None, "cp_id": "CP1",
                             "command": t.START_CHARGING_COMMAND, "error": "no_vehicle"},
        t.CHARGING_DATA: {"cp_id": "CP1", "session_id": "S-0001", "energy_consumed_kwh": 2.345,
                          "total_cost": 0.7, "charging_rate": 11.04, "timestamp": TS,
                          "driver_id": "D1", "meter_kwh": 1236.912},
        t.CHARGE_COMPLETION: {"cp_id": "CP1", "session_id": "S-0001",
                              "energy_consumed_kwh": 12.5, "total_cost": 3.75,
                              "reason": t.REASON_EV_FULL, "meter_start_kwh": 1234.567,
                              "meter_stop_kwh": 1247.067, "timestamp": TS + 4091,
                              "driver_id": "D1", "price_per_kwh": 0.3},
        t.ERROR_RESPONSE: {"error": "charge_request: missing field 'cp_id'",
                           "status": t.FAILURE, "code": "validation_error",
                           "request_type": t.CHARGE_REQUEST},
        t.LOCAL_CHARGE_REQUEST: {"cp_id": "CP1", "card_uid": "04A2B3C4D5", "timestamp": TS},
        t.AUTH_REQUEST: {"cp_id": "CP1", "timestamp": TS,
                         "nonce": "00112233445566778899aabbccddeeff",
                         "mac": auth_mac("s3cret", "CP1", TS, "00112233445566778899aabbccddeeff")},
        t.REGISTER_REQUEST: {"cp_id": "CP1", "timestamp": TS, "max_charging_rate_kw": 22.0,
                             "location": "Plaça de l'Ajuntament, València"},
        t.HEARTBEAT_REQUEST: {"cp_id": "CP1", "status": t.CP_CHARGING, "timestamp": TS,
                              "session_id": "S-0001"},
        t.STATUS_UPDATE: {"cp_id": "CP1", "status": t.CP_FAULTED, "timestamp": TS,
                          "reason": "meter not answering"},
        t.FAULT_NOTIFICATION: {"cp_id": "CP1", "fault_type": "relay_mismatch", "timestamp": TS,
                               "session_id": None},
        t.RECOVERY_NOTIFICATION: {"cp_id": "CP1", "timestamp": TS},
        t.AUTH_RESPONSE: {"status": t.SUCCESS, "message": "authenticated"},
        t.REGISTER_RESPONSE: {"status": t.SUCCESS, "message": "registered", "reason": None,
                              "cp_status": t.CP_AVAILABLE, "price_per_kwh": 0.3},
        t.HEARTBEAT_RESPONSE: {"status": t.SUCCESS, "cp_status": t.CP_AVAILABLE},
        t.STOP_CP_COMMAND: {"cp_id": "CP1", "reason": "Out of order", "timestamp": TS},
        t.RESUME_CP_COMMAND: {"cp_id": "CP1"},
        t.LOCAL_CHARGE_RESPONSE: {"status": t.SUCCESS, "message": "charging", "cp_id": "CP1",
                                  "session_id": "S-0002", "driver_id": "D7"},
        t.LOCAL_AUTH_LIST: {"cp_id": "CP1", "version": "5f1c0a9e2b7d4c38", "page": 1, "pages": 1,
                            "entries": [{"driver_id": "D42", "card_uid": "04A1B2C3"},
                                        {"driver_id": "D7", "card_uid": None}],
                            "price_per_kwh": 0.3, "timestamp": TS},
        t.CHARGE_REQUEST: {"cp_id": "CP1", "driver_id": "D1", "timestamp": TS},
        t.STOP_CHARGING_REQUEST: {"cp_id": "CP1", "session_id": "S-0001", "timestamp": TS,
                                  "driver_id": "D1"},
        t.AVAILABLE_CPS_REQUEST: {"driver_id": "D1", "timestamp": TS},
        t.SESSION_HISTORY_REQUEST: {"driver_id": "D1", "timestamp": TS, "limit": 20},
        t.CHARGE_REQUEST_RESPONSE: {"status": t.SUCCESS, "message": "charging authorised",
                                    "session_id": "S-0001", "cp_id": "CP1",
                                    "price_per_kwh": 0.3, "driver_id": "D1"},
        t.STOP_CHARGING_RESPONSE: {"status": t.SUCCESS, "message": "stopping",
                                   "session_id": "S-0001"},
        t.AVAILABLE_CPS_RESPONSE: {
            "status": t.SUCCESS, "driver_id": "D1",
            "charging_points": [
                point,
                dict(point, cp_id="CP2", status="CHARGING", max_charging_rate_kw=11.0),
                dict(point, cp_id="CP3", location="", price_per_kwh=0.45),
            ],
        },
        t.SESSION_HISTORY_RESPONSE: {
            "status": t.SUCCESS, "driver_id": "D1",
            "sessions": [
                {"session_id": "S-0001", "cp_id": "CP1", "energy_consumed_kwh": 12.5,
                 "total_cost": 3.75, "reason": t.REASON_EV_FULL, "started_at": TS},
                {"session_id": "S-0000", "cp_id": "CP2", "energy_consumed_kwh": 0.0,
                 "total_cost": 0.0, "reason": t.REASON_START_FAILED, "started_at": TS - 86400},
            ],
        },
        t.CHARGING_STATUS_UPDATE: {"session_id": "S-0001", "cp_id": "CP1", "status": "charging",
                                   "progress": 25, "energy_consumed_kwh": 12.5,
                                   "total_cost": 3.75},
        t.CHARGE_COMPLETION_NOTIFICATION: {"cp_id": "CP1", "session_id": "S-0001",
                                           "energy_consumed_kwh": 12.5, "total_cost": 3.75,
                                           "timestamp": TS, "driver_id": "D1"},
        t.MANUAL_COMMAND: {"command": "stop", "token": "admin-token", "cp_id": "CP1",
                           "reason": "maintenance"},
        t.MANUAL_COMMAND_RESPONSE: {"status": t.SUCCESS, "message": "CP1 stopped",
                                    "data": {"cp_id": "CP1", "cp_status": t.CP_STOPPED}},
    }


_SAMPLE_BY_KIND = {"str": "x", "txt": "x", "id": "x", "int": 1, "num": 1.5, "bool": False,
                   "list": [], "map": {}, "any": None, "kwh": 1.5, "money": 1.5, "kw": 1.5,
                   "price": 1.5, "amps": 1.5, "volts": 1.5, "secs": 1.5, "ts": TS,
                   "ms": TS * 1000, "pct": 1, "lim": 1, "nat": 1}


def synthesized_example(msg_type: str) -> dict[str, Any]:
    """Required fields only, from the schema: for a type added without an example here."""
    return {name: _SAMPLE_BY_KIND[kind]
            for name, kind, _nullable, required in schema.fields_of(msg_type) if required}


_KWH = "must be a finite number >= 0 and <= 10000000"
_ID = "must be 1-64 of A-Z a-z 0-9 . _ : -"
_TS = "must be an integer >= 946684800 and <= 4102444800"


def variant_examples() -> list[tuple[str, str, dict[str, Any]]]:
    """(name, type, changes): a type's example with its optional fields in another use."""
    return [
        ("local_auth_list, a change to the version held", t.LOCAL_AUTH_LIST,
         {"version": "9a0b1c2d3e4f5a6b", "base_version": "5f1c0a9e2b7d4c38",
          "entries": [{"driver_id": "D8", "card_uid": "04C0FFEE"}], "removed": ["D7"]}),
    ]


def refused_examples() -> list[tuple[str, str, dict[str, Any], str]]:
    """(name, type, changed fields, the exact error) of messages validate() refuses:
    one example message per line with one field broken (or dropped when None)."""
    return [
        ("NaN energy", t.CHARGING_DATA, {"energy_consumed_kwh": math.nan},
         f"charging_data: field 'energy_consumed_kwh' {_KWH}"),
        ("inf power", t.CHARGING_DATA, {"charging_rate": math.inf},
         "charging_data: field 'charging_rate' must be a finite number >= 0 and <= 1000"),
        ("-inf cost", t.CHARGING_DATA, {"total_cost": -math.inf},
         "charging_data: field 'total_cost' must be a finite number >= 0 and <= 1000000"),
        ("NaN meter", t.HEALTH_CHECK_RESPONSE, {"meter_energy_kwh": math.nan},
         f"health_check_response: field 'meter_energy_kwh' {_KWH}"),
        ("negative energy", t.CHARGE_COMPLETION, {"energy_consumed_kwh": -1.5},
         f"charge_completion: field 'energy_consumed_kwh' {_KWH}"),
        ("huge meter", t.CHARGING_DATA, {"meter_kwh": 1e300},
         f"charging_data: field 'meter_kwh' {_KWH}"),
        ("huge price", t.START_CHARGING_COMMAND, {"price_per_kwh": 1000},
         "start_charging_command: field 'price_per_kwh' must be a finite number >= 0 and "
         "<= 100"),
        ("negative voltage", t.CHARGING_DATA, {"voltage": -230.0},
         "charging_data: field 'voltage' must be a finite number >= 0 and <= 1500"),
        ("progress 101", t.CHARGING_STATUS_UPDATE, {"progress": 101},
         "charging_status_update: field 'progress' must be an integer >= 0 and <= 100"),
        ("limit 0", t.SESSION_HISTORY_REQUEST, {"limit": 0},
         "session_history_request: field 'limit' must be an integer >= 1 and <= 10000"),
        ("id with a space", t.CHARGE_REQUEST, {"driver_id": "D 1"},
         f"charge_request: field 'driver_id' {_ID}"),
        ("id with a slash", t.CHARGE_REQUEST, {"cp_id": "CP/1"},
         f"charge_request: field 'cp_id' {_ID}"),
        ("non-ASCII id", t.LOCAL_CHARGE_REQUEST, {"card_uid": "04A2B3Ç4"},
         f"local_charge_request: field 'card_uid' {_ID}"),
        ("empty id", t.HEARTBEAT_REQUEST, {"cp_id": ""},
         f"heartbeat_request: field 'cp_id' {_ID}"),
        ("id of 65", t.HEARTBEAT_REQUEST, {"cp_id": "C" * 65},
         f"heartbeat_request: field 'cp_id' {_ID}"),
        ("message_id with a space", t.HEALTH_CHECK_REQUEST, {"message_id": "not an id"},
         f"health_check_request: field 'message_id' {_ID}"),
        ("nonce not a token", t.AUTH_REQUEST, {"nonce": "0011 2233"},
         f"auth_request: field 'nonce' {_ID}"),
        ("timestamp 0", t.HEARTBEAT_REQUEST, {"timestamp": 0},
         f"heartbeat_request: field 'timestamp' {_TS}"),
        ("timestamp in ms", t.CHARGE_REQUEST, {"timestamp": TS * 1000},
         f"charge_request: field 'timestamp' {_TS}"),
        ("timestamp after 2100", t.CHARGE_COMPLETION, {"started_at": 4102444801},
         f"charge_completion: field 'started_at' {_TS}"),
        ("created_ms in seconds", t.CHARGING_DATA, {"created_ms": TS},
         "charging_data: field 'created_ms' must be an integer >= 946684800000 and "
         "<= 4102444800000"),
        ("reason of 513", t.STATUS_UPDATE, {"reason": "r" * 513},
         "status_update: field 'reason' must be a text string of at most 512 characters"),
        ("auth list page 0", t.LOCAL_AUTH_LIST, {"page": 0},
         "local_auth_list: field 'page' must be an integer >= 1 and <= 10000"),
        ("auth list version with a space", t.LOCAL_AUTH_LIST, {"version": "v 1"},
         f"local_auth_list: field 'version' {_ID}"),
        ("auth list entries not a list", t.LOCAL_AUTH_LIST, {"entries": "D42"},
         "local_auth_list: field 'entries' must be a list"),
        ("auth list removed not a list", t.LOCAL_AUTH_LIST, {"removed": "D7"},
         "local_auth_list: field 'removed' must be a list"),
        ("offline not a boolean", t.CHARGE_COMPLETION, {"offline": 1},
         "charge_completion: field 'offline' must be a boolean"),
    ]


def edge_values() -> list[tuple[str, Any]]:
    """(name, value) pairs; each is wrapped as {"value": v} unless it is a map itself."""
    nested = [{"cp_id": f"CP{i}", "tags": ["ac", "type2"], "kw": [11.0, 22.0],
               "site": {"city": "Elche", "lat": 38.2669, "open": True}} for i in range(3)]
    return [
        ("empty text", ""),
        ("non-ASCII text (2, 3 and 4-byte UTF-8)", "Zürich – 充电站 ⚡ 😀"),
        ("text of 23 bytes", "a" * 23),
        ("text of 24 bytes", "a" * 24),
        ("text of 255 bytes", "b" * 255),
        ("text of 256 bytes", "c" * 256),
        ("int 0", 0),
        ("int -1", -1),
        ("int 23", 23),
        ("int 24", 24),
        ("int -24", -24),
        ("int -25", -25),
        ("int 255", 255),
        ("int 256", 256),
        ("int 65535", 65535),
        ("int 65536", 65536),
        ("int 2**32-1", 2**32 - 1),
        ("int 2**32", 2**32),
        ("int 2**63-1", 2**63 - 1),
        ("int -2**63", -(2**63)),
        ("int 2**64-1", 2**64 - 1),
        ("int -2**64", -(2**64)),
        ("float 0.1 (double)", 0.1),
        ("float 11.0 (half)", 11.0),
        ("float 1.5 (half)", 1.5),
        ("float 65504.0 (largest half)", 65504.0),
        ("float 65520.0 (single: rounds to half infinity)", 65520.0),
        ("float 100000.0 (single)", 100000.0),
        ("float 1e300 (double)", 1e300),
        ("float 1e-8 (double)", 1e-8),
        ("float -0.0 (half, sign kept)", -0.0),
        ("float 0.0", 0.0),
        ("float -2.5", -2.5),
        ("float smallest half subnormal", 5.960464477539063e-08),
        ("float half subnormal 0x0200", 3.0517578125e-05),
        ("float largest half subnormal", 6.097555160522461e-05),
        ("float smallest half normal", 6.103515625e-05),
        ("float half 1/3 rounding (single)", 0.333251953125 + 2**-24),
        ("float largest single", 3.4028234663852886e38),
        ("float smallest single subnormal", 1.401298464324817e-45),
        ("float largest double", 1.7976931348623157e308),
        ("float smallest double subnormal", 5e-324),
        ("float nan", math.nan),
        ("float inf", math.inf),
        ("float -inf", -math.inf),
        ("true", True),
        ("false", False),
        ("null", None),
        ("empty bytes", b""),
        ("bytes with zeros", b"\x00\x01\x00\xff\x00"),
        ("bytes of 300", bytes(range(256)) + bytes(44)),
        ("empty list", []),
        ("empty map", {}),
        ("nested lists of maps", nested),
        ("map keys longer than 23 bytes",
         {"a_key_that_is_longer_than_23_bytes": 1, "b": 2,
          "another_key_longer_than_twenty_three": 3, "short": 4}),
        ("map keys out of canonical order",
         {"zz": 1, "a": 2, "bbb": 3, "b": 4, "aa": 5, "é": 6, "Z": 7}),
        ("map with integer and text keys", {100: "hundred", "a": "text", -1: "minus one",
                                            1: "one", "": "empty", 24: "twenty-four"}),
        ("map of 30 entries", {f"k{i:02d}": i * i for i in range(30)}),
    ]
