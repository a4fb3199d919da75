"""`--kafka-config FILE`: librdkafka security properties for every Kafka client.

The file holds `key=value` lines (librdkafka names, `#` or `!` comments), e.g.

    security.protocol=SASL_SSL
    sasl.mechanism=SCRAM-SHA-256
    sasl.username=central
    sasl.password=...
    ssl.ca.location=/etc/evcharge/kafka-ca.pem

Only connection-security keys are accepted (security.protocol, sasl.*, ssl.*,
enable.ssl.certificate.verification): the rest of each client's settings
(acks, idempotence, offsets) are what the network's guarantees rest on and stay
evkafka's. A file holding a password must be its owner's only (0600), like every
secret here. Errors are KafkaConfigError with a one-line text that names the
file and line, never a value (a value may be the password).
"""
from __future__ import annotations

import os

MAX_BYTES = 64 * 1024
ALLOWED_KEYS = frozenset({"security.protocol", "enable.ssl.certificate.verification"})
ALLOWED_PREFIXES = ("sasl.", "ssl.")
SECRET_KEYS = frozenset({"sasl.password", "ssl.key.password", "ssl.keystore.password",
                         "sasl.oauthbearer.client.secret", "ssl.key.pem"})
PROTOCOLS = frozenset({"plaintext", "ssl", "sasl_plaintext", "sasl_ssl"})


class KafkaConfigError(ValueError):
    """The --kafka-config file is unreadable or malformed; str(e) is one line."""


def parse(text: str, origin: str) -> dict[str, str]:
    """The properties in text; KafkaConfigError naming origin and the line."""
    props: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        where = f"{origin} line {number}"
        if not sep or not key:
            raise KafkaConfigError(f"{where}: expected key=value")
        if key not in ALLOWED_KEYS and not key.startswith(ALLOWED_PREFIXES):
            raise KafkaConfigError(f"{where}: '{key}' is not a connection-security setting "
                                   "(security.protocol, sasl.*, ssl.*)")
        if key in props:
            raise KafkaConfigError(f"{where}: '{key}' given twice")
        if not value:
            raise KafkaConfigError(f"{where}: '{key}' has no value")
        if key == "security.protocol" and value.lower() not in PROTOCOLS:
            raise KafkaConfigError(f"{where}: security.protocol must be one of "
                                   f"{', '.join(sorted(p.upper() for p in PROTOCOLS))}")
        props[key] = value
    return props


def load(path: str) -> dict[str, str]:
    """Read and check the properties file at path (see the module text)."""
    try:
        with open(path, "rb") as fh:
            mode = os.fstat(fh.fileno()).st_mode & 0o777
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise KafkaConfigError(f"cannot read {path} ({exc.strerror})") from None
    if len(data) > MAX_BYTES:
        raise KafkaConfigError(f"{path} is larger than {MAX_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KafkaConfigError(f"{path} is not UTF-8 text") from None
    props = parse(text, path)
    if SECRET_KEYS & props.keys() and mode & 0o077:
        raise KafkaConfigError(f"{path} holds a password and may be read by others "
                               f"(mode {mode:04o}): chmod 600 {path}")
    return props


def describe(props: dict[str, str]) -> str:
    """The settings for a log line: the keys and non-secret values, never a password."""
    shown = [f"{k}={'***' if k in SECRET_KEYS else v}" for k, v in sorted(props.items())]
    return ", ".join(shown) or "none"
