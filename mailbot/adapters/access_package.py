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

from mailbot.services.export import AccessPackage

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
