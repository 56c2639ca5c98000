"""Encryption at rest: key material, envelope encryption and keyed hashes (R-D1…R-D6).

The hierarchy is the one R-D1 asks for: a key-encryption key (KEK) kept outside the database wraps
one data key (DEK) per customer; the DEK encrypts that customer's fields with AES-256-GCM. Erasing a
customer is then destroying one wrapped DEK (R-D5), and rotating the KEK only re-wraps DEKs (R-D4).
Lookups never decrypt: they use HMAC blind indexes under a *separate* index key (R-D6), so a leak of
index values says nothing about the KEK and vice versa.

Nothing here logs, and key bytes are kept out of ``repr`` so a traceback cannot print them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
KEY_FILE_FORMAT = 1
SEALED_VERSION = b"\x01"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_HEADER_BYTES = 1 + 4 + _NONCE_BYTES
_FINGERPRINT_PURPOSE = "raw-message"
# Purposes whose values are e-mail addresses: a suppression entry (R-A15) must match however the
# person spells their address next time, exactly like the customer lookup does.
ADDRESS_PURPOSES = frozenset({"address", "suppression"})


class DecryptionError(Exception):
    """Ciphertext or wrapped key was tampered with, is malformed, or belongs to another key/place.

    One exception for all of these on purpose: callers must treat every failure as "do not trust
    this data", and telling an attacker which check failed helps nobody but the attacker.
    """


@dataclass(frozen=True)
class KeyMaterial:
    """All long-lived secrets; validated on construction so a bad key file fails at start-up."""

    keks: dict[int, bytes] = field(repr=False)
    active_kek: int
    index_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.keks:
            raise ValueError("key material has no KEK")
        if self.active_kek not in self.keks:
            raise ValueError(f"active KEK version {self.active_kek} is not among the KEKs")
        for version, kek in self.keks.items():
            if len(kek) != KEY_BYTES:
                raise ValueError(f"KEK version {version} must be {KEY_BYTES} bytes")
        if len(self.index_key) != KEY_BYTES:
            raise ValueError(f"index key must be {KEY_BYTES} bytes")
        if any(hmac.compare_digest(self.index_key, kek) for kek in self.keks.values()):
            raise ValueError("index key must differ from every KEK (R-D6)")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _unb64_key(text: object, what: str) -> bytes:
    """Strict decoding: a typo in a key must be an error, never a silently different key."""
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a urlsafe-base64 string")
    stripped = text.strip()
    padded = stripped + "=" * (-len(stripped) % 4)
    try:
        raw = base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what} is not valid urlsafe base64") from exc
    if len(raw) != KEY_BYTES:
        raise ValueError(f"{what} must decode to {KEY_BYTES} bytes, got {len(raw)}")
    return raw


def _parse_key_file(data: object) -> KeyMaterial:
    if not isinstance(data, dict) or data.get("format") != KEY_FILE_FORMAT:
        raise ValueError(f"key file must be a JSON object with format {KEY_FILE_FORMAT}")
    raw_keks, active = data.get("keks"), data.get("active_kek")
    if not isinstance(raw_keks, dict) or not isinstance(active, int) or isinstance(active, bool):
        raise ValueError("key file needs a 'keks' object and an integer 'active_kek'")
    keks: dict[int, bytes] = {}
    for version, value in raw_keks.items():
        if not (isinstance(version, str) and version.isascii() and version.isdigit()):
            raise ValueError(f"KEK version {version!r} is not a non-negative integer")
        keks[int(version)] = _unb64_key(value, f"KEK version {version}")
    return KeyMaterial(keks, active, _unb64_key(data.get("index_key"), "index_key"))


def load_or_create_key_file(path: Path) -> tuple[KeyMaterial, bool]:
    """Load the key file, or create one; ``created`` tells the caller to warn about backing it up.

    The file is created with ``O_EXCL`` and mode 0600 from the start (never chmod-ed afterwards, so
    there is no window where it is readable), in a directory made 0700 if it did not exist. Two
    processes racing to create it both end up with the same keys: the loser loads the winner's file.
    A file that group or others may access is refused rather than fixed: the keys in it must be
    assumed copied, and only the operator can decide what that means.
    """
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        material = KeyMaterial({1: os.urandom(KEY_BYTES)}, 1, os.urandom(KEY_BYTES))
        document = {
            "format": KEY_FILE_FORMAT,
            "keks": {str(v): _b64(k) for v, k in material.keks.items()},
            "active_kek": material.active_kek,
            "index_key": _b64(material.index_key),
        }
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process won the race; load its file below
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            return material, True
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ValueError(
            f"key file {path} has mode {mode:04o}: group/others may access it; "
            "restrict it with `chmod 600` (and consider the keys exposed)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"key file {path} is not valid JSON") from exc
    try:
        return _parse_key_file(data), False
    except ValueError as exc:
        raise ValueError(f"key file {path} is malformed: {exc}") from exc


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(secret)


def key_material_from_secret(secret: str) -> KeyMaterial:
    """Key material from ``MAILBOT_MASTER_KEY``, for deployments that keep secrets in the environment.

    KEK and index key are derived with distinct HKDF labels so that one secret still yields two
    independent keys (R-D6). The secret is already uniformly random, so no salt is needed. This
    yields KEK version 1 only: rotating the KEK (R-D4) needs a key file.
    """
    master = _unb64_key(secret, "MAILBOT_MASTER_KEY")
    return KeyMaterial({1: _hkdf(master, b"mailbot/kek/v1")}, 1, _hkdf(master, b"mailbot/index-key/v1"))


def generate_secret() -> str:
    """A fresh value for ``MAILBOT_MASTER_KEY`` (32 random bytes, urlsafe base64)."""
    return _b64(os.urandom(KEY_BYTES))


def normalize_address(address: str) -> str:
    """The form of an address used for blind indexes, so one person maps to one customer (R-D6).

    Trim and NFC as R-D6 prescribes. Decision on the local part: lower-case it too. RFC 5321 lets a
    server treat ``Jan`` and ``jan`` as different mailboxes, but no mainstream provider does, while
    keeping case would split one person into two customers, lose their history on an access request,
    and let a direct-marketing objection (R-A15) be escaped by a capital letter. We do *not* strip
    ``+tags`` or dots: those rules are provider-specific and would merge different people.
    """
    return unicodedata.normalize("NFC", address.strip()).lower()


def _encode_fields(*parts: str) -> bytes:
    out = bytearray()
    for part in parts:
        raw = part.encode("utf-8")
        out += len(raw).to_bytes(4, "big") + raw
    return bytes(out)


@dataclass(frozen=True)
class Context:
    """Where a ciphertext lives; bound as associated data so it cannot be moved elsewhere (R-D2)."""

    table: str
    column: str
    row_id: str
    owner_id: str

    def __post_init__(self) -> None:
        # An empty field would bind the ciphertext to "anywhere", the very swap R-D2 forbids.
        for name in ("table", "column", "row_id", "owner_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"Context.{name} must be a non-empty string")

    def aad(self, key_id: int) -> bytes:
        """Length-prefixed, so ("ab", "c") and ("a", "bc") can never encode alike."""
        return (
            b"mailbot-aad-v1"
            + SEALED_VERSION
            + key_id.to_bytes(4, "big")
            + _encode_fields(self.table, self.column, self.row_id, self.owner_id)
        )


def _fernet(kek: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(kek))


class Keyring:
    """Wraps DEKs under the KEKs and computes keyed hashes under the index key."""

    def __init__(self, material: KeyMaterial) -> None:
        # MultiFernet encrypts with the first key and tries all on decrypt (R-D3): active first.
        others = sorted((v for v in material.keks if v != material.active_kek), reverse=True)
        order = [material.active_kek, *others]
        self._wrapper = MultiFernet([_fernet(material.keks[v]) for v in order])
        self._index_key = material.index_key

    def new_data_key(self) -> tuple[bytes, bytes]:
        dek = AESGCM.generate_key(bit_length=256)
        return dek, self._wrapper.encrypt(dek)

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            dek = self._wrapper.decrypt(wrapped)
        except (InvalidToken, TypeError) as exc:
            raise DecryptionError("wrapped data key: tampered or wrong key") from exc
        if len(dek) != KEY_BYTES:
            raise DecryptionError("wrapped data key has the wrong length")
        return dek

    def rewrap(self, wrapped: bytes) -> bytes:
        """Re-wrap under the active KEK (R-D4); the old KEK may go once every DEK passed here."""
        try:
            return self._wrapper.rotate(wrapped)
        except (InvalidToken, TypeError) as exc:
            raise DecryptionError("wrapped data key: tampered or wrong key") from exc

    def blind_index(self, value: str, purpose: str = "address") -> str:
        """Keyed equality lookup (R-D6); the purpose keeps e.g. address and Message-ID indexes apart.

        Full 64 hex digits, not truncated: truncation only hides equality if collisions are common,
        and then every lookup would need to decrypt candidates to tell people apart.
        """
        if not purpose or "\x00" in purpose or purpose == _FINGERPRINT_PURPOSE:
            raise ValueError(f"invalid or reserved blind-index purpose {purpose!r}")
        if purpose in ADDRESS_PURPOSES:
            normalized = normalize_address(value)
        else:
            normalized = unicodedata.normalize("NFC", value)
        return self._hmac(purpose, normalized.encode("utf-8"))

    def derived_key(self, label: str) -> bytes:
        """A key of its own for one keyed-MAC use (``reply-token``, ``identity-challenge``): HKDF
        from the index key under a distinct label, so a token never reveals or equals an index."""
        if not label or "\x00" in label:
            raise ValueError(f"invalid key label {label!r}")
        return _hkdf(self._index_key, b"mailbot/derived/" + label.encode("utf-8"))

    def fingerprint(self, raw: bytes) -> str:
        """Keyed, so a stored fingerprint cannot confirm a guessed message the way a bare hash could."""
        return self._hmac(_FINGERPRINT_PURPOSE, raw)

    def _hmac(self, purpose: str, payload: bytes) -> str:
        # purpose NUL payload, fed in pieces: joined, a whole raw message was copied (issue 15).
        mac = hmac.new(self._index_key, purpose.encode("utf-8") + b"\x00", hashlib.sha256)
        mac.update(payload)
        return mac.hexdigest()


def _check_dek(dek: bytes) -> AESGCM:
    if len(dek) != KEY_BYTES:
        raise ValueError(f"data key must be {KEY_BYTES} bytes (AES-256, R-D1)")
    return AESGCM(dek)


def seal(dek: bytes, key_id: int, plaintext: bytes, context: Context) -> bytes:
    """AES-256-GCM with a fresh random nonce per call (R-D2); the key id travels in the clear header."""
    if not 0 <= key_id < 2**32:
        raise ValueError("key_id must fit in 4 unsigned bytes")
    nonce = os.urandom(_NONCE_BYTES)
    body = _check_dek(dek).encrypt(nonce, plaintext, context.aad(key_id))
    return SEALED_VERSION + key_id.to_bytes(4, "big") + nonce + body


def key_id_of(ciphertext: bytes) -> int:
    """Which data key to fetch, read without decrypting (the id is authenticated via the AAD)."""
    if len(ciphertext) < _HEADER_BYTES + _TAG_BYTES or ciphertext[:1] != SEALED_VERSION:
        raise DecryptionError("not a sealed value of a known version")
    return int.from_bytes(ciphertext[1:5], "big")


def open_sealed(dek: bytes, ciphertext: bytes, context: Context) -> bytes:
    key_id = key_id_of(ciphertext)
    # A view, not a slice: a slice copied the whole ciphertext (a raw message) before decrypting.
    nonce, body = ciphertext[5:_HEADER_BYTES], memoryview(ciphertext)[_HEADER_BYTES:]
    try:
        return _check_dek(dek).decrypt(nonce, body, context.aad(key_id))
    except InvalidTag as exc:
        raise DecryptionError("sealed value: tampered, moved, or wrong key") from exc


@overload
def seal_text(dek: bytes, key_id: int, text: str, context: Context) -> bytes: ...
@overload
def seal_text(dek: bytes, key_id: int, text: None, context: Context) -> None: ...
def seal_text(dek: bytes, key_id: int, text: str | None, context: Context) -> bytes | None:
    """``None`` stays ``None`` so optional columns need no special-casing in the repositories."""
    return None if text is None else seal(dek, key_id, text.encode("utf-8"), context)


@overload
def open_text(dek: bytes, ciphertext: bytes, context: Context) -> str: ...
@overload
def open_text(dek: bytes, ciphertext: None, context: Context) -> None: ...
def open_text(dek: bytes, ciphertext: bytes | None, context: Context) -> str | None:
    if ciphertext is None:
        return None
    try:
        return open_sealed(dek, ciphertext, context).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecryptionError("sealed value is not UTF-8 text") from exc
