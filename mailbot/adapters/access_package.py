"""Writes an access export (``services/export.py``) as one zip: ``data.json`` (machine-readable,
R-A9), ``index.html`` (readable, with the art. 15 information, R-A10), the attachments and the
original messages.

The HTML comes from templates the company edits: ``templates/export/index.html`` (the document)
includes ``templates/export/information.<lang>.html`` (purposes, categories, recipients, retention,
source, rights, the Autoriteit Persoonsgegevens). Autoescaped and ``StrictUndefined``, like the mail
templates: a customer's ``<script>`` subject is text, a misspelt variable an error, never a blank.

The zip is written to a temporary name beside its target, created 0600 (it is personal data), and
renamed into place only when complete; an earlier export of the same day is never overwritten.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from mailbot.services.export import LANGUAGES, AccessPackage

AUTHORITY = {
    "name": "Autoriteit Persoonsgegevens",
    "website": "https://autoriteitpersoonsgegevens.nl",
}


class PackageTemplateError(Exception):
    """An export template is missing, does not parse, or uses a variable the package lacks."""


class ZipPackageWriter:
    """Implements ``mailbot.services.export.PackageWriter``."""

    def __init__(self, templates_dir: Path, timezone: str = "Europe/Amsterdam") -> None:
        self._zone = ZoneInfo(timezone)
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(Path(templates_dir)),
            undefined=jinja2.StrictUndefined,
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["local"] = self._local

    def _local(self, value: object) -> str:
        """An ISO time from the package → local wall time ("2026-03-02 10:00"); None → "-"."""
        if value is None:
            return "-"
        moment = datetime.fromisoformat(str(value))
        return moment.astimezone(self._zone).strftime("%Y-%m-%d %H:%M")

    def render_index(self, package: AccessPackage) -> str:
        context: dict[str, Any] = {
            **package.data,
            "lang": package.language,
            "authority": AUTHORITY,
            "information_template": f"export/information.{package.language}.html",
        }
        try:
            return self._env.get_template("export/index.html").render(context)
        except jinja2.TemplateNotFound as exc:
            raise PackageTemplateError(f"{exc.name}: template not found") from exc
        except jinja2.TemplateSyntaxError as exc:
            raise PackageTemplateError(f"{exc.name}:{exc.lineno}: syntax error: {exc.message}") from exc
        except jinja2.UndefinedError as exc:
            raise PackageTemplateError(f"export template: {exc.message}") from exc

    def write(self, package: AccessPackage, out_dir: Path) -> Path:
        index = self.render_index(package)  # before touching the disk: a template error writes nothing
        out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        day = package.generated_at.astimezone(self._zone).date().isoformat()
        fd, temporary = tempfile.mkstemp(prefix=".export-", suffix=".zip.part", dir=out_dir)
        try:
            with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr("data.json", json.dumps(package.data, ensure_ascii=False, indent=2))
                archive.writestr("index.html", index)
                for path, content in package.files:
                    archive.writestr(path, content)
            return _link_new(Path(temporary), out_dir, f"export-{day}")
        finally:
            Path(temporary).unlink(missing_ok=True)

    def read(self, path: Path, limit: int) -> bytes | None:
        return path.read_bytes() if path.stat().st_size <= limit else None


def _link_new(source: Path, folder: Path, stem: str) -> Path:
    """Give ``source`` the first free name ``stem.zip``, ``stem-2.zip``, …; a hard link fails
    rather than replace, so a second export the same day never overwrites the first."""
    n = 1
    while True:
        target = folder / (f"{stem}.zip" if n == 1 else f"{stem}-{n}.zip")
        try:
            os.link(source, target)
        except FileExistsError:
            n += 1
            continue
        except OSError:  # a file system without hard links: check, then rename
            if target.exists():
                n += 1
                continue
            os.replace(source, target)
        return target


def sample_package(language: str = "nl") -> AccessPackage:
    """A complete example package: the export templates' context contract in executable form
    (``mailbot templates check`` renders the export templates with it)."""
    when = "2026-03-05T09:30:00+00:00"
    message = {
        "ticket": "ORD-2026-00042",
        "direction": "in",
        "kind": "customer",
        "received_at": when,
        "from": "jan@example.nl",
        "to": ["info@ordevos.nl"],
        "subject": "Inzage",
        "body": "Ik wil graag inzage.",
        "attachments": [
            {
                "filename": "brief.pdf",
                "content_type": "application/pdf",
                "size": 3,
                "sha256": "0" * 64,
                "file": "attachments/ORD-2026-00042/m01-1-brief.pdf",
            }
        ],
    }
    data: dict[str, Any] = {
        "format": "mailbot-access-export/1",
        "generated_at": when,
        "controller": {"name": "Ordevos", "mailbox": "info@ordevos.nl", "website": "ordevos.nl"},
        "sources": ["mail", "import"],
        "customer": {
            "email": "jan@example.nl",
            "name": "Jan de Vries",
            "company": "",
            "address": "Dorpsstraat 1, 1234 AB Ergens",
            "phone": "",
            "source": "import",
            "verified": False,
            "restricted": False,
            "created_at": when,
        },
        "tickets": [
            {
                "ref": "ORD-2026-00042",
                "category": "access",
                "secondary": None,
                "status": "open",
                "language": language,
                "subject": "Inzage",
                "received_at": when,
                "opened_at": when,
                "first_response_due": when,
                "first_responded_at": None,
                "legal_due": when,
                "internal_due": when,
                "resolution_due": None,
                "answered_at": None,
                "classification": {
                    "rule": "access-nl",
                    "confidence": 0.9,
                    "evidence": ["inzage"],
                    "triage": False,
                },
                "extensions": [],
                "pauses": [],
                "messages": [
                    message,
                    {**message, "direction": "internal", "kind": "note", "attachments": []},
                ],
                "withheld_messages": 1,
            }
        ],
        "other_messages": [message],
        "original_mail": [
            {"received_at": when, "size": 120, "file": "original-mail/001-20260305-093000.eml"}
        ],
        "audit_events": [
            {
                "at": when,
                "kind": "ticket.opened",
                "actor": "mailbot",
                "ticket": "ORD-2026-00042",
                "detail": {},
            }
        ],
    }
    return AccessPackage("sample", datetime.fromisoformat(when), language, data, [])


def check_templates(directory: Path) -> list[str]:
    """Render the export templates with the sample package in every language; the errors."""
    writer = ZipPackageWriter(directory)
    errors: list[str] = []
    for language in LANGUAGES:
        try:
            writer.render_index(sample_package(language))
        except PackageTemplateError as exc:
            errors.append(f"export ({language}): {exc}")
    return errors
