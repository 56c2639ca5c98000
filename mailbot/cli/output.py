"""How commands report: a header row over aligned columns, one line, or JSON for scripts.

One place for the manners every command shares (issue 17), so a listing never prints bare rows
without saying what the columns are, and ``--json`` means the same thing everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(help_text: str = "The result as JSON (for scripts).") -> Callable[[F], F]:
    """The ``--json`` flag, spelt and described the same on every command."""
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], empty: str) -> None:
    """Print ``rows`` under ``header`` in aligned columns, or ``empty`` when there are none.

    Cells are shown as text ("-" for None); the last column is not padded, so no line ends in
    spaces."""
    if not rows:
        click.echo(empty)
        return
    cells = [[("-" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = [max(len(r[i]) for r in (list(header), *cells)) for i in range(len(header))]
    for row in (list(header), *cells):
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def to_json(data: Any) -> str:
    """JSON with dates and times as ISO 8601 strings (and anything else as its text)."""
    return json.dumps(data, ensure_ascii=False, default=_plain)


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)


def report(as_json: bool, data: Mapping[str, Any] | Sequence[Any], line: str) -> None:
    """One result: ``data`` as JSON with ``--json``, else the readable ``line``."""
    click.echo(to_json(data) if as_json else line)
