"""Rotating the master key (R-D4): a new key-encryption key (KEK) version, every data key
re-wrapped under it, and the old version retired only when nothing needs it any more.

Order makes a crash harmless at every point. ``rotate`` first writes the key file with the new
version active *and the old ones kept*, then re-wraps the data keys in batches, each batch one
transaction: a crash leaves some rows under the old KEK, which the file still holds, and running
``rotate --resume`` (or ``rotate`` again) finishes them. ``retire`` first proves that every data
key opens without the old version, then rewrites the file without it; while a running service
still wraps new keys under the old version, that proof fails and nothing is retired.

The key file is replaced atomically (a new 0600 file in the same directory, fsync, rename). The
blind-index key is not rotated here: changing it would orphan every index and token (see
docs/keys.md for its story).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from mailbot.adapters.crypto import (
    KEY_BYTES,
    KEY_FILE_FORMAT,
    DecryptionError,
    KeyMaterial,
    Keyring,
    _b64,
    load_or_create_key_file,
)
from mailbot.adapters.db.models import DataKey

BATCH = 500


class KeyOperationRefused(ValueError):
    """Nothing was changed; the message says why."""


def _document(material: KeyMaterial) -> dict[str, object]:
    return {
        "format": KEY_FILE_FORMAT,
        "keks": {str(v): _b64(k) for v, k in sorted(material.keks.items())},
        "active_kek": material.active_kek,
        "index_key": _b64(material.index_key),
    }


def write_key_file(path: Path, material: KeyMaterial) -> None:
    """Replace the key file atomically, 0600 from its first byte."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".master.key.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(_document(material), handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _wrapped_rows(engine: Engine) -> Iterator[list[DataKey]]:
    last = 0
    while True:
        with Session(engine) as session:
            rows = list(
                session.scalars(
                    select(DataKey)
                    .where(DataKey.wrapped.is_not(None), DataKey.id > last)
                    .order_by(DataKey.id)
                    .limit(BATCH)
                )
            )
            session.expunge_all()
        if not rows:
            return
        last = rows[-1].id
        yield rows


@dataclass(frozen=True)
class RotationReport:
    new_version: int
    rewrapped: int
    kept_versions: tuple[int, ...]


def rotate(engine: Engine, key_file: Path, *, new_version: bool = True) -> RotationReport:
    """Add a KEK version (unless resuming) and re-wrap every data key under the active one."""
    material, _ = load_or_create_key_file(key_file)
    if new_version:
        version = max(material.keks) + 1
        material = KeyMaterial({**material.keks, version: os.urandom(KEY_BYTES)}, version, material.index_key)
        write_key_file(key_file, material)
    keyring = Keyring(material)
    count = 0
    for rows in _wrapped_rows(engine):
        with Session(engine) as session, session.begin():
            for row in rows:
                assert row.wrapped is not None
                fresh = keyring.rewrap(row.wrapped)
                session.execute(DataKey.__table__.update().where(DataKey.id == row.id).values(wrapped=fresh))
                count += 1
    return RotationReport(material.active_kek, count, tuple(sorted(material.keks)))


def needing(engine: Engine, key_file: Path, version: int) -> int:
    """How many data keys still open only with KEK ``version``."""
    material, _ = load_or_create_key_file(key_file)
    if version not in material.keks:
        raise KeyOperationRefused(f"the key file has no KEK version {version}")
    others = {v: k for v, k in material.keks.items() if v != version}
    if not others:
        return sum(len(rows) for rows in _wrapped_rows(engine))
    without = Keyring(KeyMaterial(others, max(others), material.index_key))
    stuck = 0
    for rows in _wrapped_rows(engine):
        for row in rows:
            assert row.wrapped is not None
            try:
                without.unwrap(row.wrapped)
            except DecryptionError:
                stuck += 1
    return stuck


def retire(engine: Engine, key_file: Path, version: int) -> tuple[int, ...]:
    """Remove KEK ``version`` from the key file; refused while it is active or anything needs it."""
    material, _ = load_or_create_key_file(key_file)
    if version == material.active_kek:
        raise KeyOperationRefused(f"KEK version {version} is the active one: rotate first")
    stuck = needing(engine, key_file, version)
    if stuck:
        raise KeyOperationRefused(
            f"{stuck} data key(s) still need KEK version {version}: run `mailbot keys rotate --resume` "
            "(after restarting every running mailbot), then retire again"
        )
    remaining = {v: k for v, k in material.keks.items() if v != version}
    write_key_file(key_file, KeyMaterial(remaining, material.active_kek, material.index_key))
    return tuple(sorted(remaining))
