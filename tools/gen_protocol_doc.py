"""Write docs/PROTOCOL.md from the code's own catalogue (shared/evwire/schema.py).

Field lists come from evwire.schema.SCHEMA; who sends what over which link is
kept here in ROUTES. A test fails when a catalogue type has no route or when
the committed docs/PROTOCOL.md differs from this script's output, so the
document cannot drift from the code.

    python tools/gen_protocol_doc.py > docs/PROTOCOL.md     (or: make docs)
"""
from __future__ import annotations

import sys

from evwire import types as t
from evwire.framing import DEFAULT_MAX
from evwire.schema import SCHEMA, fields_of, rule_of

# type -> (sender, receiver, transport, when)
ROUTES: dict[str, tuple[str, str, str, str]] = {
    t.HEALTH_CHECK_REQUEST: ("Monitor", "Engine", "Engine link", "every second (configurable)"),
    t.START_CHARGING_COMMAND: ("Central -> Monitor", "Engine", "socket, Engine link",
                               "a charge request was accepted; message_id = the request's"),
    t.STOP_CHARGING_COMMAND: ("Central -> Monitor", "Engine", "socket, Engine link",
                              "a driver, the operator or the system stops charging"),
    t.CHARGE_COMPLETION_ACK: ("Monitor", "Engine", "Engine link",
                              "the completion is committed in the Monitor's outbox"),
    t.SET_CHARGING_LIMIT: ("Central -> Monitor", "Engine", "socket, Engine link",
                           "the CP's share of its site's power limit changed (and renewed"
                           " while Central is reachable)"),
    t.LINK_HELLO: ("Monitor", "Engine", "Engine link",
                   "first message on the link: the Monitor's nonce"),
    t.LINK_CHALLENGE: ("Engine", "Monitor", "Engine link",
                       "reply to link_hello: the Engine proves the link key, sends its nonce"),
    t.LINK_AUTH: ("Monitor", "Engine", "Engine link", "the Monitor proves the link key"),
    t.LINK_AUTH_RESPONSE: ("Engine", "Monitor", "Engine link",
                           "the link is authenticated (or refused, then closed)"),
    t.HEALTH_CHECK_RESPONSE: ("Engine", "Monitor", "Engine link", "reply to a health check"),
    t.COMMAND_RESPONSE: ("Engine -> Monitor", "Central", "Engine link, socket",
                         "reply to a command; the Monitor adds cp_id and command"),
    t.CHARGING_DATA: ("Engine -> Monitor -> Central", "Driver", "Engine link, Kafka",
                      "every second while charging"),
    t.CHARGE_COMPLETION: ("Engine -> Monitor -> Central", "Driver", "Engine link, Kafka",
                          "once when a session ends (re-sent until acknowledged)"),
    t.ERROR_RESPONSE: ("any tier", "the sender", "any link", "a message could not be handled"),
    t.LOCAL_CHARGE_REQUEST: ("Engine -> Monitor", "Central", "Engine link, socket",
                             "a driver asks at the charge point (menu or card)"),
    t.AUTH_REQUEST: ("Monitor", "Central", "socket", "first message on every connection"),
    t.AUTH_RESPONSE: ("Central", "Monitor", "socket", "reply to auth_request"),
    t.REGISTER_REQUEST: ("Monitor", "Central", "socket", "after a successful auth"),
    t.REGISTER_RESPONSE: ("Central", "Monitor", "socket", "reply to register_request"),
    t.HEARTBEAT_REQUEST: ("Monitor", "Central", "socket", "every second (configurable)"),
    t.HEARTBEAT_RESPONSE: ("Central", "Monitor", "socket", "reply to heartbeat_request"),
    t.STATUS_UPDATE: ("Monitor", "Central", "socket", "the CP's status changed"),
    t.FAULT_NOTIFICATION: ("Monitor", "Central", "socket", "the Engine failed or is unreachable"),
    t.RECOVERY_NOTIFICATION: ("Monitor", "Central", "socket", "the Engine is healthy again"),
    t.STOP_CP_COMMAND: ("Central", "Monitor", "socket", "an operator takes the CP out of service"),
    t.RESUME_CP_COMMAND: ("Central", "Monitor", "socket", "an operator puts it back"),
    t.LOCAL_CHARGE_RESPONSE: ("Central -> Monitor", "Engine", "socket, Engine link",
                              "reply to local_charge_request"),
    t.LOCAL_AUTH_LIST: ("Central", "Monitor", "socket",
                        "a page of the offline authorisation list (cards and drivers allowed "
                        "with no Central); with base_version, of a change to that version "
                        "(entries added or changed, removed driver ids)"),
    t.CHARGE_REQUEST: ("Driver", "Central", "socket (Kafka fallback)", "a driver asks to charge"),
    t.STOP_CHARGING_REQUEST: ("Driver", "Central", "socket (Kafka fallback)",
                              "a driver stops early"),
    t.AVAILABLE_CPS_REQUEST: ("Driver", "Central", "socket (Kafka fallback)",
                              "a driver lists charge points"),
    t.SESSION_HISTORY_REQUEST: ("Driver", "Central", "socket (Kafka fallback)",
                                "a driver's past and running sessions"),
    t.CHARGE_REQUEST_RESPONSE: ("Central", "Driver", "socket (Kafka if asked by Kafka)",
                                "reply to charge_request"),
    t.STOP_CHARGING_RESPONSE: ("Central", "Driver", "socket (Kafka if asked by Kafka)",
                               "reply to stop_charging_request"),
    t.AVAILABLE_CPS_RESPONSE: ("Central", "Driver", "socket (Kafka if asked by Kafka)",
                               "reply to available_cps_request"),
    t.SESSION_HISTORY_RESPONSE: ("Central", "Driver", "socket (Kafka if asked by Kafka)",
                                 "reply to session_history_request"),
    t.CHARGING_STATUS_UPDATE: ("Central", "Driver", "Kafka", "with each charging_data, and on "
                               "faults, failed starts and operator stops"),
    t.CHARGE_COMPLETION_NOTIFICATION: ("Central", "Driver", "Kafka",
                                       "alias of charge_completion the Driver also accepts"),
    t.MANUAL_COMMAND: ("Admin", "Central", "socket", "operator command"),
    t.MANUAL_COMMAND_RESPONSE: ("Central", "Admin", "socket", "reply to manual_command"),
    t.DEAD_LETTER: ("Central", "operators", "Kafka (evcharge.dead-letter)",
                    "a consumed record was set aside: undecodable, invalid, unverified, or "
                    "its handler failed"),
    t.CP_STATUS: ("Central", "MQTT bridge, other consumers", "Kafka (evcharge.cp-status)",
                  "a CP's state changed, or a session started, ended or sent figures"
                  " (at most ~1/s per CP)"),
}

KIND_TEXT = {"str": "text", "int": "integer", "num": "number", "bool": "boolean",
             "list": "list", "map": "map", "any": "any"}
# What each kind means, for the kinds table (the bounds come from evwire.schema).
KIND_MEANING = {
    "str": "text", "txt": "longer text: reasons, messages, errors",
    "id": "an id: cp_id, driver_id, session_id, message_id, card_uid, nonce",
    "int": "integer", "num": "number (integer or float), finite", "bool": "true or false",
    "list": "list", "map": "map", "any": "anything",
    "kwh": "energy, kWh (a meter register)", "money": "cost of a session", "kw": "power, kW",
    "price": "price per kWh", "amps": "current, A", "volts": "voltage, V",
    "secs": "duration or timeout, seconds (at most a year)",
    "ts": "Unix seconds, 2000-01-01 .. 2100-01-01", "ms": "Unix milliseconds, same window",
    "pct": "percent", "lim": "how many items a request asks for",
    "nat": "non-negative integer (Kafka partition, offset; a time)",
}


def kind_range(kind: str) -> str:
    base, lo, hi = rule_of(kind)
    if kind == "id":
        return f"1 to {hi} of `A-Z a-z 0-9 . _ : -`"
    if base == "str":
        return f"at most {hi} characters"
    if base in ("list", "map"):
        return f"at most {hi} {'items' if base == 'list' else 'entries'}"
    if lo is None:
        return "finite" if base == "num" else "-"
    return f"{lo} .. {hi}"


def kinds_table() -> list[str]:
    used = {kind for msg_type in SCHEMA for _n, kind, _nl, _r in fields_of(msg_type)}
    missing = sorted(used - set(KIND_MEANING))
    if missing:
        raise SystemExit(f"gen_protocol_doc: no meaning for kind {', '.join(missing)}")
    out = ["| kind | base | range | what |", "|---|---|---|---|"]
    for kind in KIND_MEANING:
        base = rule_of(kind)[0]
        out.append(f"| `{kind}` | {KIND_TEXT[base]} | {kind_range(kind)} | "
                   f"{KIND_MEANING[kind]} |")
    return out


def field_cell(name: str, kind: str, nullable: bool) -> str:
    return f"`{name}` ({kind}{', or null' if nullable else ''})"


def render() -> str:
    missing = sorted(set(SCHEMA) - set(ROUTES))
    if missing:
        raise SystemExit(f"gen_protocol_doc: no route for {', '.join(missing)}")
    out = [
        "# The evcharge protocol",
        "",
        "Generated by `tools/gen_protocol_doc.py` from `shared/evwire/schema.py` (`make docs`);",
        "do not edit by hand. Every message is a CBOR map with `type` and `message_id`",
        "(UUID4 text) besides the fields below. Unknown extra fields are tolerated.",
        "",
        "## Frame",
        "",
        "```",
        "0x00 | COBS( PAYLOAD | CRC ) | 0x00",
        "```",
        "",
        "PAYLOAD: one CBOR map, deterministic",
        "(byte-identical to `cbor2.dumps(msg, canonical=True)`).",
        "CRC: CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor) of the",
        "payload, big-endian. COBS removes every 0x00, so 0x00 only delimits frames.",
        "Receivers drop",
        f"(and count) frames with bad COBS, a CRC mismatch or a payload over {DEFAULT_MAX} bytes.",
        "The same payload bytes are the value of a Kafka record.",
        "",
        "## Authentication",
        "",
        "Charge points and drivers: the first message on a connection to Central is",
        "`auth_request` naming either `cp_id` (a Monitor) or `driver_id` (a Driver).",
        "`auth_request.mac` = lowercase hex HMAC-SHA256, keyed with the CP's or the driver's",
        "secret (UTF-8), of the text `auth_request|{id}|{timestamp}|{nonce}`; `nonce` is 32 hex",
        "characters. Central refuses an unknown id and a bad MAC with the same reply",
        "(`bad_credentials`), a timestamp more than 120 s off and a nonce already used, then",
        "closes the connection. A driver may then name only its own `driver_id`.",
        "",
        "Engine link (Monitor and Engine share a per-CP link key): `link_hello` {cp_id, nonce_m},",
        "`link_challenge` {nonce_e,",
        "mac = HMAC-SHA256(key, `link|engine|{cp_id}|{nonce_m}|{nonce_e}`)},",
        "`link_auth` {mac = HMAC-SHA256(key, `link|monitor|{cp_id}|{nonce_e}|{nonce_m}`)},",
        "`link_auth_response`. Until then the Engine answers only `error_response` with `code`",
        "`unauthenticated`, and closes.",
        "",
        "## Signed Kafka records",
        "",
        f"Every record a Monitor produces to `{t.TOPIC_CP_EVENTS}` and every record a Driver",
        f"produces to `{t.TOPIC_DRIVER_REQUESTS}` carries `mac` = lowercase hex HMAC-SHA256,",
        "keyed with the CP's (or the driver's) secret, of the canonical CBOR of the message",
        "without its `mac` field (`evwire.auth.record_mac`). Central sets aside, on",
        f"`{t.TOPIC_DEAD_LETTER}`, a record that does not decode or validate, whose `mac` does",
        "not verify, whose Kafka key is not its `cp_id` / `driver_id`, that names a session",
        "which does not exist or belongs to another CP, or whose handler fails; each as a",
        "`dead_letter` naming the reason and the source topic, partition and offset.",
        "Central bills energy x the price agreed at the start, never the CP's `total_cost`.",
        "",
        "## Kafka topics",
        "",
        "| topic | producer | consumer | key | records |",
        "|---|---|---|---|---|",
        f"| `{t.TOPIC_CP_EVENTS}` | Monitors | Central (group `{t.CENTRAL_GROUP}`) | cp_id |"
        " charging_data, charge_completion |",
        f"| `{t.TOPIC_DRIVER_EVENTS}` | Central | each Driver (own group) | driver_id |"
        " charging_data, charging_status_update, charge_completion, answers to Kafka requests |",
        f"| `{t.TOPIC_DRIVER_REQUESTS}` | Drivers (fallback) | Central | driver_id |"
        " charge_request, stop_charging_request, available_cps_request, session_history_request |",
        f"| `{t.TOPIC_CP_STATUS}` (compacted) | Central | MQTT bridge, any reader | cp_id |"
        " cp_status (the CP's latest state) |",
        f"| `{t.TOPIC_DEAD_LETTER}` | Central | operators (`evcharge admin ... dead-letters`) |"
        " source key | dead_letter (a record set aside, with the reason) |",
        "",
        "`EVCHARGE_KAFKA_NAMESPACE` prefixes every topic and group name.",
        "",
        "## Kinds and ranges",
        "",
        "Each field has a kind (below). `validate()` refuses a value of another base kind, a",
        "number that is NaN, infinite or out of its range, an id with other characters, and a",
        "text or list over its bound, with an error naming the type, the field and the rule,",
        "e.g. `charging_data: field 'energy_consumed_kwh' must be a finite number >= 0 and",
        "<= 10000000`. Booleans are not integers or numbers; `message_id` is an `id`.",
        "",
        *kinds_table(),
        "",
        "## Messages",
        "",
        "Fields are written `name` (kind), see the kinds above.",
        "",
        "| type | from | to | link | when | required fields | optional fields |",
        "|---|---|---|---|---|---|---|",
    ]
    for msg_type in sorted(SCHEMA):
        sender, receiver, link, when = ROUTES[msg_type]
        fields = fields_of(msg_type)
        req = ", ".join(field_cell(n, k, nl) for n, k, nl, r in fields if r) or "-"
        opt = ", ".join(field_cell(n, k, nl) for n, k, nl, r in fields if not r) or "-"
        out.append(f"| `{msg_type}` | {sender} | {receiver} | {link} | {when} | {req} | {opt} |")
    out += [
        "",
        "## Conventions",
        "",
        "- `*_request` expects a `*_response` with the request's `message_id`, `status`",
        "  (`success` or `failure`) and `message`; `error` explains a failure.",
        "- Commands (`*_command`) are answered with `command_response`.",
        "- Notifications (`*_notification`, `charging_data`, `charge_completion`, `status_update`)",
        "  get no response, except that the Monitor acknowledges a completion to its Engine with",
        "  `charge_completion_ack` once it is stored durably.",
        "- A message that cannot be handled is answered with `error_response` naming the problem,",
        "  e.g. `charge_request: missing field 'cp_id'`.",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(render())
