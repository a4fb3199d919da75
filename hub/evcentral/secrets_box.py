"""Charge point secrets encrypted at rest, with a key file beside the database
(a PostgreSQL database: the file given as --db-key-file, see for_key_file).

HMAC verification needs the secret itself, so it cannot be stored as a hash.
Instead each secret is encrypted with a random 32-byte key kept in `DB.key`
(mode 0600). A copy of the database alone does not reveal the secrets; a
copy of both files does (this is protection against a leaked database file
or backup, not against someone who owns the host).

Cipher: the stdlib has no AES, so a stream cipher built from SHA-256 in
counter mode (keystream block i = SHA-256(key | nonce | i)) with a fresh
16-byte nonce per secret, and an HMAC-SHA256 tag over nonce and ciphertext
so that a tampered or wrong-key blob is detected instead of yielding garbage.
Blob layout: b"v1" | nonce(16) | tag(16) | ciphertext.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

from evhost.secretfile import SecretFileError, read_secret_file
from evwire.trace import log

KEY_BYTES = 32
NONCE_BYTES = 16
TAG_BYTES = 16
VERSION = b"v1"


class SecretBoxError(Exception):
    """The key file or an encrypted secret is unusable."""


def key_path_for(db_path: str | Path) -> Path:
    return Path(str(db_path) + ".key")


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = []
    for counter in range((length + 31) // 32):
        blocks.append(hashlib.sha256(key + nonce + counter.to_bytes(8, "big")).digest())
    return b"".join(blocks)[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream))


class SecretBox:
    def __init__(self, key: bytes):
        if len(key) != KEY_BYTES:
            raise SecretBoxError(f"key must be {KEY_BYTES} bytes, got {len(key)}")
        self._key = key

    def derive(self, purpose: bytes) -> bytes:
        """A key for another purpose (the Centrals' relay MAC), not the box key itself."""
        return hashlib.sha256(b"evcharge derive|" + purpose + b"|" + self._key).digest()

    @classmethod
    def for_database(cls, db_path: str | Path) -> SecretBox:
        """Load DB.key, creating it (0600) when the database is new."""
        path = key_path_for(db_path)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls(_read_key(path))
        with os.fdopen(fd, "wb") as out:
            out.write(os.urandom(KEY_BYTES))
        return cls(_read_key(path))

    @classmethod
    def for_key_file(cls, path: str | Path) -> SecretBox:
        """The key in --db-key-file (a PostgreSQL database has no file to sit beside):
        mode 0600, 64 hex digits, e.g. `(umask 077; openssl rand -hex 32 > F)`."""
        try:
            text = read_secret_file(path)
        except SecretFileError as exc:
            raise SecretBoxError(f"--db-key-file: {exc}") from None
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) != KEY_BYTES:
            raise SecretBoxError(f"key file {path} must hold {KEY_BYTES * 2} hex digits "
                                 "(make one with: openssl rand -hex 32)")
        return cls(key)

    def encrypt(self, secret: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        plain = secret.encode("utf-8")
        cipher = _xor(plain, _keystream(self._key, nonce, len(plain)))
        return VERSION + nonce + self._tag(nonce, cipher) + cipher

    def decrypt(self, blob: bytes) -> str:
        head = len(VERSION) + NONCE_BYTES + TAG_BYTES
        if len(blob) < head or not blob.startswith(VERSION):
            raise SecretBoxError("stored secret has an unknown format")
        nonce = blob[len(VERSION):len(VERSION) + NONCE_BYTES]
        tag = blob[len(VERSION) + NONCE_BYTES:head]
        cipher = blob[head:]
        if not hmac.compare_digest(tag, self._tag(nonce, cipher)):
            raise SecretBoxError("stored secret does not match the key file "
                                 "(wrong or changed key?)")
        return _xor(cipher, _keystream(self._key, nonce, len(cipher))).decode("utf-8")

    def _tag(self, nonce: bytes, cipher: bytes) -> bytes:
        return hmac.new(self._key, VERSION + nonce + cipher, hashlib.sha256).digest()[:TAG_BYTES]


def _read_key(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log("warning", f"key file {path} is readable by others (mode {mode:o}): chmod 600 it")
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise SecretBoxError(f"key file {path} is damaged ({len(key)} bytes, expected {KEY_BYTES})")
    return key
