"""Customer records as the privacy statement lists them, read from the customer administration.

Pure: a CSV text in, validated records (or one problem per bad row) out. The problems name the row
and the column and never echo a value: they are printed, and may be pasted into a ticket or a log,
while the values are personal data.

Decisions:
- The header is required and may name only the known columns (a misspelt ``phnoe`` would otherwise
  drop every phone number without a word); ``email`` is the one required column.
- Row numbers are those a spreadsheet shows: the header is row 1, the first record row 2.
- An empty cell leaves a stored value as it is: an export that lacks a column, or a cell, must not
  wipe what the customer told us. Clearing a field is a rectification (``customers update``).
- Comma, semicolon (what Dutch spreadsheet programs write) and tab are recognised from the header.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field

#: The fields a customer record has besides the address, in the order the CLI shows them.
FIELDS: tuple[str, ...] = ("name", "company", "address", "phone")
#: The CSV columns (``address`` is the postal address; ``email`` the key).
COLUMNS: tuple[str, ...] = ("name", "company", "address", "email", "phone")
_MAX_LENGTH = {"name": 200, "company": 200, "address": 500, "phone": 32, "email": 254}
_PHONE = re.compile(r"^\+?[0-9 ().\-/]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


@dataclass(frozen=True)
class CustomerRecord:
    """One customer's fields; ``None`` means "not given" (keep what is stored)."""

    email: str
    name: str | None = None
    company: str | None = None
    address: str | None = None
    phone: str | None = None

    def given(self) -> dict[str, str]:
        """The fields this record sets, by name (without the email)."""
        values = {name: getattr(self, name) for name in FIELDS}
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class RowProblem:
    row: int
    problem: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.problem}" if self.row else self.problem


@dataclass
class ParsedFile:
    records: list[tuple[int, CustomerRecord]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


def normalised_email(value: str) -> str:
    """The comparison form used to find the same person twice in one file (as the blind index)."""
    return unicodedata.normalize("NFC", value.strip()).lower()


def field_problem(name: str, value: str) -> str | None:
    """What is wrong with ``value`` for field ``name`` (None: fine). Never quotes the value."""
    if len(value) > _MAX_LENGTH[name]:
        return f"{name} is longer than {_MAX_LENGTH[name]} characters"
    allowed_breaks = "\n" if name == "address" else ""
    if any(unicodedata.category(ch) == "Cc" and ch not in allowed_breaks for ch in value):
        return f"{name} contains control characters"
    if name == "email":
        if not value:
            return "email is empty"
        if not _EMAIL.match(value):
            return "email is not a valid e-mail address"
    if name == "phone" and value and (not _PHONE.match(value) or sum(ch.isdigit() for ch in value) < 6):
        return "phone is not a phone number (digits, spaces, +, -, parentheses; at least 6 digits)"
    return None


def clean(value: str | None) -> str | None:
    """Trim a cell and its lines (an address may span lines); an empty cell is "not given"."""
    if value is None:
        return None
    lines = [line.strip() for line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    text = "\n".join(line for line in lines if line)
    return text or None


def _dialect(text: str) -> str:
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def parse_customers_csv(text: str) -> ParsedFile:
    """Read and validate every row; the caller imports only when ``problems`` is empty."""
    result = ParsedFile()
    text = text.lstrip("\ufeff")
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=_dialect(text), strict=True))
    except csv.Error as exc:
        result.problems.append(RowProblem(0, f"not a readable CSV file ({exc})"))
        return result
    if not rows or not any(cell.strip() for cell in rows[0]):
        result.problems.append(RowProblem(0, f"the file has no header row (expected: {', '.join(COLUMNS)})"))
        return result
    header = [cell.strip().lower() for cell in rows[0]]
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        result.problems.append(
            RowProblem(1, f"unknown column(s) {', '.join(unknown)}; the columns are {', '.join(COLUMNS)}")
        )
    doubled = sorted({name for name in header if header.count(name) > 1})
    if doubled:
        result.problems.append(RowProblem(1, f"column(s) {', '.join(doubled)} appear more than once"))
    if "email" not in header:
        result.problems.append(RowProblem(1, "the header has no email column"))
    if result.problems:
        return result
    first_row_of: dict[str, int] = {}
    for number, cells in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue  # blank lines (a trailing newline, a spacer row) are not records
        if len(cells) != len(header):
            result.problems.append(
                RowProblem(number, f"has {len(cells)} fields, the header has {len(header)}")
            )
            continue
        values = {name: clean(cell) for name, cell in zip(header, cells, strict=True)}
        problems = [
            problem
            for name in COLUMNS
            if name in values
            and (problem := field_problem(name, values[name] or "")) is not None
            and (name == "email" or values[name] is not None)
        ]
        if problems:
            result.problems.append(RowProblem(number, "; ".join(problems)))
            continue
        email = values["email"] or ""
        key = normalised_email(email)
        if key in first_row_of:
            result.problems.append(RowProblem(number, f"same email as row {first_row_of[key]}"))
            continue
        first_row_of[key] = number
        result.records.append(
            (
                number,
                CustomerRecord(
                    email=email,
                    name=values.get("name"),
                    company=values.get("company"),
                    address=values.get("address"),
                    phone=values.get("phone"),
                ),
            )
        )
    if not result.records and not result.problems:
        result.problems.append(RowProblem(0, "the file has a header but no customer rows"))
    return result
