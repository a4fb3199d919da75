"""`evcharge pki`: a small private CA for Central's TLS (and Kafka's, in tests).

    evcharge pki init   --dir D [--name "evcharge CA"] [--days 3650]
    evcharge pki server --dir D --name central.example [--ip 10.0.0.1 ...] [--dns alt ...]
    evcharge pki client --dir D --name CP1

init writes D/ca.pem (give it to every client as --ca) and D/ca.key; server
and client write D/NAME.pem (the certificate, then the CA's, a chain) and
D/NAME.key. Keys are ECDSA P-256 and written 0600 (created so, never widened);
an existing file is not overwritten without --force. Built on the
`cryptography` package: no hand-rolled ASN.1.
"""
from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import re
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from evhost.cliargs import count
from evhost.cliout import ConfigProblem, Parser

NAME = re.compile(r"^[A-Za-z0-9*][A-Za-z0-9._*-]{0,252}$")
CA_CERT, CA_KEY = "ca.pem", "ca.key"


class PKIError(ConfigProblem):
    """A file of the CA that is missing, unreadable or in the way (exit 5)."""


def _name_arg(text: str) -> str:
    if not NAME.match(text):
        raise argparse.ArgumentTypeError(f"'{text}': letters, digits, '.', '-', '_' or '*' "
                                         "(a host name or a CP id)")
    return text


def _ip_arg(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an IP address") from None


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="evcharge pki", allow_abbrev=False,
               description="A private CA for TLS to Central: init, then issue server and "
                           "client certificates.")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", required=True, type=Path, help="the CA's folder")
    common.add_argument("--days", type=count,
                        help="validity in days (default: 3650 for the CA, 825 for others)")
    common.add_argument("--force", action="store_true", help="overwrite existing files")
    s = sub.add_parser("init", parents=[common], help="create the CA (ca.pem, ca.key)")
    s.add_argument("--name", default="evcharge CA", help="the CA's common name")
    s = sub.add_parser("server", parents=[common], help="a server certificate (Central, Kafka)")
    s.add_argument("--name", required=True, type=_name_arg,
                   help="DNS name clients connect to (also the file name)")
    s.add_argument("--ip", action="append", default=[], type=_ip_arg,
                   help="an IP address clients connect to (repeatable)")
    s.add_argument("--dns", action="append", default=[], type=_name_arg,
                   help="another DNS name (repeatable)")
    s = sub.add_parser("client", parents=[common], help="a client certificate (a Monitor)")
    s.add_argument("--name", required=True, type=_name_arg, help="e.g. the CP id")
    return p


def _write(path: Path, data: bytes, private: bool, force: bool) -> None:
    if path.exists() and not force:
        raise PKIError(f"{path} exists (--force to replace it)")
    mode = 0o600 if private else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), mode)  # also when the file existed with wider bits
        fh.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _builder(subject: str, issuer: x509.Name, public_key, days: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))  # small clock skew
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False))


def init(folder: Path, name: str, days: int, force: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (_builder(name, subject, key.public_key(), days)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                         False, False), True)
            .sign(key, hashes.SHA256()))
    _write(folder / CA_KEY, _key_pem(key), True, force)
    _write(folder / CA_CERT, cert.public_bytes(serialization.Encoding.PEM), False, force)
    return folder / CA_CERT


def _load_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate((folder / CA_CERT).read_bytes())
        key = serialization.load_pem_private_key((folder / CA_KEY).read_bytes(), None)
    except FileNotFoundError as exc:
        raise PKIError(f"{exc.filename} is missing (evcharge pki init --dir {folder})") from None
    except (OSError, ValueError, TypeError) as exc:
        raise PKIError(f"the CA in {folder} does not load ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PKIError(f"{folder / CA_KEY} is not an EC key made by evcharge pki")
    return cert, key


def issue(folder: Path, name: str, days: int, force: bool, server: bool,
          ips: list | None = None, dns: list[str] | None = None) -> Path:
    """A certificate for name signed by the CA in folder: folder/NAME.pem and NAME.key."""
    ca_cert, ca_key = _load_ca(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (_builder(name, ca_cert.subject, key.public_key(), days)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
               .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                            False, False), True)
               .add_extension(x509.ExtendedKeyUsage([usage]), False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca_key.public_key()), False))
    if server:  # clients check the address they dialled against these names
        alt = [x509.DNSName(n) for n in [name, *(dns or [])]]
        alt += [x509.IPAddress(ip) for ip in ips or []]
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), False)
    cert = builder.sign(ca_key, hashes.SHA256())
    chain = cert.public_bytes(serialization.Encoding.PEM) + \
        ca_cert.public_bytes(serialization.Encoding.PEM)
    _write(folder / f"{name}.key", _key_pem(key), True, force)
    _write(folder / f"{name}.pem", chain, False, force)
    return folder / f"{name}.pem"


def main(argv: list[str] | None = None) -> int:
    os.umask(0o077)
    ns = parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if ns.action == "init":
            path = init(ns.dir, ns.name, ns.days or 3650, ns.force)
        else:
            path = issue(ns.dir, ns.name, ns.days or 825, ns.force, ns.action == "server",
                         getattr(ns, "ip", []), getattr(ns, "dns", []))
    except OSError as exc:  # PKIError passes through: hub/evcharge/cli.py prints it
        raise PKIError(f"{exc.filename or ns.dir}: {exc.strerror}") from None
    print(path)
    return 0
