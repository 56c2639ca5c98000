"""Streaming authenticated encryption for backups: a large database is never held in memory.

The format is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015) over AES-256-GCM:

    header  = b"MBK1" || salt (16 bytes)
    key     = HKDF-SHA256(backup key, salt, info="mailbot backup v1")
    chunk i = len (4 bytes, big-endian) || AES-GCM(key, nonce_i, plaintext_i, aad=header)
    nonce_i = i as 11 bytes big-endian || 0x01 for the last chunk, else 0x00

Every chunk is authenticated with its position and whether it is the last, so a backup that was
changed, truncated, reordered or spliced from two backups fails to open — at the first bad chunk,
before anything is restored from it (``decrypt_file`` writes to a temporary file and renames it
only when the whole stream checked out).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"MBK1"
SALT_BYTES = 16
CHUNK = 1 << 20  # 1 MiB of plaintext per chunk
_TAG = 16
_MAX_SEALED = CHUNK + _TAG


class BackupIntegrityError(ValueError):
    """The backup was changed, truncated or made with another key: nothing is restored from it."""


def _key(backup_key: bytes, salt: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"mailbot backup v1").derive(
        backup_key
    )
    return AESGCM(derived)


def _nonce(index: int, last: bool) -> bytes:
    if index >= 1 << 88:
        raise ValueError("backup too large for one stream")
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _chunks(source: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """Plaintext chunks with a look-ahead, so the last one is known when it is sealed."""
    current = source.read(CHUNK)
    while True:
        following = source.read(CHUNK)
        yield current, not following
        if not following:
            return
        current = following


def encrypt_stream(source: BinaryIO, target: BinaryIO, backup_key: bytes) -> int:
    """Encrypt ``source`` into ``target``; returns the plaintext size."""
    salt = os.urandom(SALT_BYTES)
    header = MAGIC + salt
    aead = _key(backup_key, salt)
    target.write(header)
    size = 0
    for index, (chunk, last) in enumerate(_chunks(source)):
        sealed = aead.encrypt(_nonce(index, last), chunk, header)
        target.write(len(sealed).to_bytes(4, "big"))
        target.write(sealed)
        size += len(chunk)
    return size


def decrypt_stream(source: BinaryIO, target: BinaryIO, backup_key: bytes) -> int:
    """Decrypt into ``target``, raising ``BackupIntegrityError`` at the first bad byte."""
    header = source.read(len(MAGIC) + SALT_BYTES)
    if len(header) != len(MAGIC) + SALT_BYTES or not header.startswith(MAGIC):
        raise BackupIntegrityError("not a mailbot backup (bad header)")
    aead = _key(backup_key, header[len(MAGIC) :])
    index, size, finished = 0, 0, False
    while True:
        length_bytes = source.read(4)
        if not length_bytes:
            break
        if finished:
            raise BackupIntegrityError("data after the last chunk")
        length = int.from_bytes(length_bytes, "big")
        sealed = source.read(length)
        if len(length_bytes) != 4 or length > _MAX_SEALED or len(sealed) != length:
            raise BackupIntegrityError("truncated backup")
        for last in (False, True):
            try:
                chunk = aead.decrypt(_nonce(index, last), sealed, header)
            except InvalidTag:
                continue
            finished = last
            break
        else:
            raise BackupIntegrityError(f"chunk {index} was changed, moved or made with another key")
        target.write(chunk)
        size += len(chunk)
        index += 1
    if not finished:
        raise BackupIntegrityError("truncated backup (the last chunk is missing)")
    return size


def encrypt_file(plain: Path, sealed: Path, backup_key: bytes) -> int:
    with plain.open("rb") as source, sealed.open("wb") as target:
        size = encrypt_stream(source, target, backup_key)
        target.flush()
        os.fsync(target.fileno())
    return size


def decrypt_file(sealed: Path, plain: Path, backup_key: bytes) -> int:
    """Decrypt to ``plain`` only if the whole backup checks out (temporary file, then rename)."""
    tmp = plain.with_name(plain.name + ".partial")
    try:
        with sealed.open("rb") as source, tmp.open("wb") as target:
            size = decrypt_stream(source, target, backup_key)
        os.replace(tmp, plain)
    finally:
        tmp.unlink(missing_ok=True)
    return size
