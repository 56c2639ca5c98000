"""Encryption at rest (R-D1…R-D6, test cases 43, 44, 46)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbot.adapters.crypto import (
    Context,
    DecryptionError,
    KeyMaterial,
    Keyring,
    generate_secret,
    key_id_of,
    key_material_from_secret,
    load_or_create_key_file,
    normalize_address,
    open_sealed,
    open_text,
    seal,
    seal_text,
)

CTX = Context(table="message", column="body", row_id="m-1", owner_id="c-1")


def _material(*versions: int, active: int | None = None) -> KeyMaterial:
    keks = {v: os.urandom(32) for v in versions}
    return KeyMaterial(keks, active if active is not None else max(versions), os.urandom(32))


@pytest.fixture
def dek() -> bytes:
    return Keyring(_material(1)).new_data_key()[0]


# --- AES-GCM sealing (R-D1, R-D2, case 43) -------------------------------------------------------


def test_same_plaintext_twice_gives_different_ciphertexts_r_d2_case_43(dek: bytes) -> None:
    first, second = seal(dek, 7, b"klacht", CTX), seal(dek, 7, b"klacht", CTX)
    assert first != second
    assert first[5:17] != second[5:17], "a nonce was reused (R-D2)"
    assert open_sealed(dek, first, CTX) == open_sealed(dek, second, CTX) == b"klacht"


@pytest.mark.parametrize(
    "moved",
    [
        Context("message", "body", "m-2", "c-1"),  # another row
        Context("message", "subject", "m-1", "c-1"),  # another column
        Context("note", "body", "m-1", "c-1"),  # another table
        Context("message", "body", "m-1", "c-2"),  # another customer
    ],
)
def test_ciphertext_moved_elsewhere_is_refused_r_d2_case_43(dek: bytes, moved: Context) -> None:
    sealed = seal(dek, 7, b"body text", CTX)
    with pytest.raises(DecryptionError):
        open_sealed(dek, sealed, moved)


def test_key_id_is_in_header_and_authenticated_r_d1_r_d2(dek: bytes) -> None:
    sealed = seal(dek, 0x01020304, b"x", CTX)
    assert key_id_of(sealed) == 0x01020304
    relabelled = sealed[:1] + (5).to_bytes(4, "big") + sealed[5:]
    assert key_id_of(relabelled) == 5
    with pytest.raises(DecryptionError):
        open_sealed(dek, relabelled, CTX)


def test_every_flipped_byte_is_detected_r_d2(dek: bytes) -> None:
    sealed = seal(dek, 3, b"persoonsgegevens", CTX)
    for i in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[i] ^= 0x01
        with pytest.raises(DecryptionError):
            open_sealed(dek, bytes(tampered), CTX)


def test_wrong_key_truncated_or_unknown_version_is_refused_r_d2(dek: bytes) -> None:
    sealed = seal(dek, 3, b"abc", CTX)
    with pytest.raises(DecryptionError):
        open_sealed(os.urandom(32), sealed, CTX)
    for bad in (sealed[:20], b"", b"\x02" + sealed[1:]):
        with pytest.raises(DecryptionError):
            open_sealed(dek, bad, CTX)


def test_only_aes_256_keys_and_complete_contexts_are_accepted_r_d1_r_d2() -> None:
    with pytest.raises(ValueError):
        seal(os.urandom(16), 1, b"x", CTX)
    with pytest.raises(ValueError):
        Context("message", "body", "", "c-1")


def test_context_encoding_is_unambiguous_r_d2() -> None:
    assert Context("ab", "c", "1", "o").aad(1) != Context("a", "bc", "1", "o").aad(1)
    assert CTX.aad(1) != CTX.aad(2)


def test_text_wrappers_round_trip_and_pass_none_through(dek: bytes) -> None:
    sealed = seal_text(dek, 1, "Geachte heer, één klacht ✓", CTX)
    assert open_text(dek, sealed, CTX) == "Geachte heer, één klacht ✓"
    assert seal_text(dek, 1, None, CTX) is None
    assert open_text(dek, None, CTX) is None


@settings(max_examples=200, deadline=None)
@given(plaintext=st.binary(max_size=4096), key_id=st.integers(0, 2**32 - 1))
def test_seal_open_round_trips_arbitrary_bytes_r_d2(plaintext: bytes, key_id: int) -> None:
    dek = os.urandom(32)
    sealed = seal(dek, key_id, plaintext, CTX)
    assert plaintext not in sealed[17:] or len(plaintext) < 16
    assert key_id_of(sealed) == key_id
    assert open_sealed(dek, sealed, CTX) == plaintext


# --- DEK wrapping and KEK rotation (R-D3, R-D4, case 44) -----------------------------------------


def test_data_key_wraps_and_unwraps_r_d1_r_d3() -> None:
    ring = Keyring(_material(1))
    dek, wrapped = ring.new_data_key()
    assert len(dek) == 32 and dek not in wrapped
    assert ring.unwrap(wrapped) == dek
    with pytest.raises(DecryptionError):
        Keyring(_material(1)).unwrap(wrapped)  # another installation's KEK


def test_kek_rotation_rewraps_then_old_kek_can_go_r_d3_r_d4_case_44() -> None:
    old, new, index_key = os.urandom(32), os.urandom(32), os.urandom(32)
    before = Keyring(KeyMaterial({1: old}, 1, index_key))
    deks = [before.new_data_key() for _ in range(5)]

    during = Keyring(KeyMaterial({1: old, 2: new}, 2, index_key))
    assert all(during.unwrap(w) == d for d, w in deks), "old tokens still open during rotation"
    rewrapped = [during.rewrap(w) for _, w in deks]
    fresh_dek, fresh = during.new_data_key()

    after = Keyring(KeyMaterial({2: new}, 2, index_key))
    assert [after.unwrap(w) for w in rewrapped] == [d for d, _ in deks]
    assert after.unwrap(fresh) == fresh_dek, "new keys are wrapped under the active KEK"
    with pytest.raises(DecryptionError):
        after.unwrap(deks[0][1])  # wrapped under the removed KEK only
    with pytest.raises(DecryptionError):
        after.rewrap(deks[0][1])


def test_tampered_wrapped_key_is_refused_r_d3() -> None:
    ring = Keyring(_material(1))
    _, wrapped = ring.new_data_key()
    tampered = bytearray(wrapped)
    tampered[40] = ord("A") if tampered[40] != ord("A") else ord("B")
    with pytest.raises(DecryptionError):
        ring.unwrap(bytes(tampered))


def test_keks_are_usable_as_fernet_keys_r_d3() -> None:
    material = _material(1)
    token = Fernet(base64.urlsafe_b64encode(material.keks[1])).encrypt(b"k" * 32)
    assert Keyring(material).unwrap(token) == b"k" * 32


# --- Blind index (R-D6, case 46) -----------------------------------------------------------------


def test_address_spellings_share_one_blind_index_r_d6_case_46() -> None:
    ring = Keyring(_material(1))
    assert ring.blind_index("Jan@Example.NL ") == ring.blind_index("jan@example.nl")
    assert normalize_address("  Jan@Example.NL\n") == "jan@example.nl"
    # NFC: a precomposed and a decomposed "é" are the same address.
    assert ring.blind_index("ren\u00e9@voorbeeld.nl") == ring.blind_index("rene\u0301@voorbeeld.nl")
    assert ring.blind_index("jan@example.nl") != ring.blind_index("jan+x@example.nl")


def test_index_key_is_not_the_kek_and_index_is_keyed_r_d6_case_46() -> None:
    material = _material(1)
    assert material.index_key != material.keks[1]
    with pytest.raises(ValueError, match="index key"):
        KeyMaterial({1: material.index_key}, 1, material.index_key)
    other = Keyring(KeyMaterial(material.keks, 1, os.urandom(32)))
    assert Keyring(material).blind_index("jan@example.nl") != other.blind_index("jan@example.nl")


def test_purposes_separate_index_domains_r_d6() -> None:
    ring = Keyring(_material(1))
    value = "jan@example.nl"
    indexes = {ring.blind_index(value, p) for p in ("address", "message-id", "suppression")}
    assert len(indexes) == 3
    assert ring.blind_index("Jan@Example.NL", "suppression") == ring.blind_index(value, "suppression")
    assert ring.blind_index("<A@b>", "message-id") != ring.blind_index("<a@b>", "message-id")
    assert ring.fingerprint(value.encode()) not in indexes
    with pytest.raises(ValueError):
        ring.blind_index(value, "raw-message")  # reserved for fingerprints


def test_fingerprint_is_keyed_and_stable() -> None:
    material = _material(1)
    raw = b"From: a@b\r\n\r\nhello"
    assert Keyring(material).fingerprint(raw) == Keyring(material).fingerprint(raw)
    assert Keyring(material).fingerprint(raw) != Keyring(material).fingerprint(raw + b"!")
    assert Keyring(material).fingerprint(raw) != Keyring(_material(1)).fingerprint(raw)


# --- Key file and master secret (R-D1) -----------------------------------------------------------


def test_key_file_created_0600_in_0700_dir_and_reloads_equal_r_d1(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "mailbot.keys"
    material, created = load_or_create_key_file(path)
    assert created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    reloaded, created_again = load_or_create_key_file(path)
    assert not created_again
    assert reloaded == material
    assert material.index_key != material.keks[1]
    document = json.loads(path.read_text())
    assert document["format"] == 1 and document["active_kek"] == 1


def test_key_material_repr_hides_keys(tmp_path: Path) -> None:
    material, _ = load_or_create_key_file(tmp_path / "k.json")
    assert json.loads((tmp_path / "k.json").read_text())["index_key"] not in repr(material)
    assert repr(material.index_key) not in repr(material)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_key_file_readable_by_others_is_refused_r_d1(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "k.json"
    load_or_create_key_file(path)
    path.chmod(mode)
    with pytest.raises(ValueError, match="chmod 600"):
        load_or_create_key_file(path)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"format": 2, "keks": {}, "active_kek": 1, "index_key": ""}',
        '{"format": 1, "keks": {"1": "c2hvcnQ="}, "active_kek": 1, "index_key": "c2hvcnQ="}',
        '{"format": 1, "keks": {"x": "%s"}, "active_kek": 1, "index_key": "%s"}',
        '{"format": 1, "keks": {"1": "%s"}, "active_kek": 2, "index_key": "%s"}',
        '{"format": 1, "keks": {"1": "%s"}, "active_kek": 1, "index_key": "not base64!"}',
    ],
)
def test_malformed_key_file_is_refused_clearly(tmp_path: Path, content: str) -> None:
    path = tmp_path / "k.json"
    keys = (generate_secret(), generate_secret())
    text = content % keys[: content.count("%s")]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    with pytest.raises(ValueError, match=r"key file .* (malformed|not valid JSON)"):
        load_or_create_key_file(path)


def test_master_secret_derivation_is_deterministic_and_separates_keys_r_d1_r_d6() -> None:
    secret = generate_secret()
    first, second = key_material_from_secret(secret), key_material_from_secret(secret)
    assert first == second
    assert first.keks[1] != first.index_key
    assert key_material_from_secret(generate_secret()) != first
    # surrounding whitespace (a trailing newline from a secrets file) and missing padding are tolerated
    assert key_material_from_secret(" " + secret.rstrip("=") + "\n") == first
    sealed_under_first = Keyring(first).new_data_key()[1]
    assert len(Keyring(second).unwrap(sealed_under_first)) == 32


@pytest.mark.parametrize("bad", ["", "too-short", "a" * 44, "!" * 43, generate_secret()[:-8]])
def test_malformed_master_secret_is_refused_clearly(bad: str) -> None:
    with pytest.raises(ValueError, match="MAILBOT_MASTER_KEY"):
        key_material_from_secret(bad)
