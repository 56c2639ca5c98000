"""The backup stream (issue 16): round trips, and every kind of tampering is refused."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbot.adapters import backup_crypto
from mailbot.adapters.backup_crypto import BackupIntegrityError, decrypt_stream, encrypt_stream

KEY = b"b" * 32


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backup_crypto, "CHUNK", 64)
    monkeypatch.setattr(backup_crypto, "_MAX_SEALED", 64 + 16)


def seal(data: bytes) -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, KEY)
    return out.getvalue()


def unseal(blob: bytes, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(blob), out, key)
    return out.getvalue()


@settings(max_examples=50)
@given(st.binary(max_size=500))
def test_round_trip(data: bytes) -> None:
    assert unseal(seal(data)) == data


def _chunks(blob: bytes) -> tuple[bytes, list[bytes]]:
    header, rest = blob[:20], blob[20:]
    chunks = []
    while rest:
        n = int.from_bytes(rest[:4], "big")
        chunks.append(rest[: 4 + n])
        rest = rest[4 + n :]
    return header, chunks


def test_tampering_truncation_reordering_and_splicing_are_refused() -> None:
    data = bytes(range(256)) * 2  # 8 chunks of 64
    blob = seal(data)
    header, chunks = _chunks(blob)
    flipped = bytearray(blob)
    flipped[len(header) + 10] ^= 1
    other = seal(data)
    cases = {
        "flipped bit": bytes(flipped),
        "last chunk dropped": header + b"".join(chunks[:-1]),
        "chunks swapped": header + chunks[1] + chunks[0] + b"".join(chunks[2:]),
        "spliced from another backup": header + b"".join(_chunks(other)[1]),
        "extra chunk": blob + chunks[0],
        "bad header": b"XXXX" + blob[4:],
        "cut mid-chunk": blob[:-5],
    }
    for name, bad in cases.items():
        with pytest.raises(BackupIntegrityError):
            unseal(bad)
        assert name
    with pytest.raises(BackupIntegrityError):
        unseal(blob, key=b"c" * 32)
