"""Secrets in files: read one (only if no one else may read it) and write one (0600).

Secrets never go on a command line of a running process (anyone on the host
sees argv in ps); a file of mode 0600, or the environment, is where they live.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_SECRET_BYTES = 1024


class SecretFileError(ValueError):
    """The one line that says what is wrong with a secret file."""


def read_secret_file(path: str | Path) -> str:
    """The secret in path (surrounding whitespace removed); SecretFileError if the file
    is missing, readable by group or others, empty, too long or not text."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            mode = stat.S_IMODE(os.fstat(fh.fileno()).st_mode)
            data = fh.read(MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise SecretFileError(f"cannot read secret file {path} "
                              f"({exc.strerror or exc.__class__.__name__})") from None
    if mode & 0o077:
        raise SecretFileError(f"secret file {path} may be read by others (mode {mode:04o}): "
                              f"chmod 600 {path}")
    if len(data) > MAX_SECRET_BYTES:
        raise SecretFileError(f"secret file {path} is longer than {MAX_SECRET_BYTES} bytes")
    try:
        secret = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretFileError(f"secret file {path} is not UTF-8 text") from None
    check_secret(secret, f"secret file {path}")
    return secret


def check_secret(secret: str, where: str) -> str:
    if not secret:
        raise SecretFileError(f"{where} is empty")
    if len(secret.encode("utf-8")) > MAX_SECRET_BYTES:
        raise SecretFileError(f"{where} is longer than {MAX_SECRET_BYTES} bytes")
    if not secret.isprintable():
        raise SecretFileError(f"{where} holds control characters")
    return secret


def write_secret_file(path: str | Path, secret: str) -> Path:
    """Write secret to path, readable by its owner only (0600, also if it existed)."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(secret + "\n")
    return path
