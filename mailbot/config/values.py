"""The kinds of value a setting can hold, each with the one-line complaint an admin can act on.

Why by hand, beside pydantic: pydantic's own messages ("Input should be a valid integer, unable to
parse string as an integer") name types, not the fix, and its lax mode would accept ``port = "993"``
in a file, where a quoted number is almost always a mistake worth pointing out. So every kind here is
an ``Annotated`` type whose :class:`~pydantic.PlainValidator` is the whole check; pydantic supplies
the rest (declaring each key once, collecting every problem of a file in one pass, frozen models,
``SecretStr``).

A value read from the environment arrives as :class:`FromEnv`, a ``str`` that remembers its
variable's name: environment values are always text, so ``MAILBOT_IMAP__PORT=993`` and
``MAILBOT_IMAP__IDLE=yes`` are parsed leniently where the file is strict, and an error names the
variable it came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import PlainValidator, SecretStr
from pydantic_core import PydanticCustomError

from mailbot.domain.retention import RETAINABLE_FIELDS, RetentionDuty

T = TypeVar("T")

#: The pydantic error type of every complaint below; the loader turns it into ``section.key: ...``.
PROBLEM = "mailbot_setting"


class FromEnv(str):
    """An environment value: text, plus the name of the variable it came from."""

    env_name: str

    def __new__(cls, value: str, env_name: str) -> FromEnv:
        text = super().__new__(cls, value)
        text.env_name = env_name
        return text


class Invalid(Exception):
    """A converter's complaint; the loader adds which key and where it came from."""


def setting(convert: Callable[[object], T]) -> PlainValidator:
    """A pydantic validator that is exactly ``convert``, its complaint kept word for word."""

    def validate(value: object) -> T:
        try:
            return convert(value)
        except Invalid as error:
            raise PydanticCustomError(PROBLEM, "{problem}", {"problem": str(error)}) from None

    return PlainValidator(validate)


_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_INT_RE = re.compile(r"[+-]?\d+")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDRESS_RE = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*")
_PREFIX_RE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}")
_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://.*")


def shown(value: object) -> str:
    """A value quoted for an error message (TOML-ish, so ``"ssl"`` reads as the admin wrote it)."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def type_name(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list"}
    return names.get(type(value), "a table" if isinstance(value, dict) else type(value).__name__)


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid(f"must be a string (got {type_name(value)})")
    text = value.strip()
    if not text:
        raise Invalid("must not be empty")
    return text


def _optional_string(value: object) -> str | None:
    """Empty means unset, so ``MAILBOT_IMAP__HOST=`` can switch a file's IMAP host off."""
    if isinstance(value, str) and not value.strip():
        return None
    return _string(value)


def _secret(value: object) -> SecretStr | None:
    # Never echo the value: it is a password.
    if not isinstance(value, str):
        raise Invalid(f"must be a string (got {type_name(value)}; value not shown)")
    return SecretStr(str(value)) if value else None


def _integer(low: int, high: int | None = None) -> Callable[[object], int]:
    def convert(value: object) -> int:
        if isinstance(value, FromEnv) and _INT_RE.fullmatch(value.strip()):
            number = int(value.strip())
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise Invalid(f"must be an integer (got {shown(value)})")
        if number < low or (high is not None and number > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise Invalid(f"must be {bound} (got {number})")
        return number

    return convert


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, FromEnv):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise Invalid(f"must be true/false, yes/no or 1/0 (got {shown(str(value))})")
    raise Invalid(f"must be true or false (got {shown(value)})")


E = TypeVar("E", bound=StrEnum)


def choice(enum: type[E]) -> PlainValidator:
    """One of an enum's values, case-insensitively; the complaint lists them all."""

    def convert(value: object) -> E:
        if isinstance(value, str):
            try:
                return enum(value.strip().lower())
            except ValueError:
                pass
        choices = ", ".join(member.value for member in enum)
        raise Invalid(f"must be one of {choices} (got {shown(value)})")

    return setting(convert)


def _clock_time(value: object) -> time:
    if isinstance(value, time):  # TOML's unquoted local time, e.g. 08:00:00
        return value.replace(second=0, microsecond=0)
    match = _TIME_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise Invalid(f'must be a time "HH:MM" between 00:00 and 23:59 (got {shown(value)})')
    return time(int(match[1]), int(match[2]))


def _address(value: object) -> str:
    text = _string(value)
    if not _ADDRESS_RE.fullmatch(text):
        raise Invalid(f"must be a plain e-mail address like info@example.nl (got {shown(value)})")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def _domain(value: object) -> str:
    text = _string(value)
    if not _DOMAIN_RE.fullmatch(text):
        raise Invalid(f"must be a domain name like example.nl (got {shown(value)})")
    return text.lower()


def _form_sender(value: object) -> str:
    """An address (``noreply@ordevos-web.nl``) or a whole domain (``@ordevos-web.nl``)."""
    text = _string(value)
    if text.startswith("@"):
        try:
            return "@" + _domain(text[1:])
        except Invalid:
            raise Invalid(
                f"must be an address or @domain like @forms.example.nl (got {shown(value)})"
            ) from None
    try:
        return _address(text).lower()
    except Invalid:
        raise Invalid(f"must be an address or @domain like @forms.example.nl (got {shown(value)})") from None


def _prefix(value: object) -> str:
    # It ends up in subjects as "[ORD-1234]" and in a matching pattern: keep it to letters/digits.
    text = _string(value)
    if not _PREFIX_RE.fullmatch(text):
        raise Invalid(f"must be 1-16 letters or digits, starting with a letter (got {shown(value)})")
    return text


def _timezone(value: object) -> str:
    text = _string(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown time zone (got {shown(value)}; e.g. Europe/Amsterdam)") from None
    return text


def _path(value: object) -> Path:
    # Made absolute against the working directory by the loader, once all values are known.
    return Path(_string(value)).expanduser()


def _optional_path(value: object) -> Path | None:
    text = _optional_string(value)
    return None if text is None else Path(text).expanduser()


def _database_url(value: object) -> str:
    text = _string(value)
    if not _URL_RE.fullmatch(text):
        raise Invalid("must be a database URL such as sqlite:///storage/mailbot.db or postgresql://...")
    return text


def _items(value: object) -> list[object]:
    """A TOML array, or a comma-separated environment value (empty: an empty list)."""
    if isinstance(value, FromEnv):
        return [FromEnv(part.strip(), value.env_name) for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return value
    raise Invalid(f"must be a list (got {type_name(value)})")


def _list_of(item: Callable[[object], T], *, allow_empty: bool = True) -> Callable[[object], tuple[T, ...]]:
    def convert(value: object) -> tuple[T, ...]:
        items = _items(value)
        if not items and not allow_empty:
            raise Invalid("must list at least one entry")
        converted = []
        for index, entry in enumerate(items):
            try:
                converted.append(item(entry))
            except Invalid as error:
                raise Invalid(f"entry {index + 1}: {error}") from None
        return tuple(converted)

    return convert


def _retention_duty(value: object) -> RetentionDuty:
    """One ``[[privacy.retention]]`` table: name, fields, years, basis, applies_to."""
    if not isinstance(value, dict):
        raise Invalid("must be a table with name, fields, years and basis (set it in the file)")
    table: dict[str, Any] = value
    unknown = sorted(set(table) - {"name", "fields", "years", "basis", "applies_to"})
    if unknown:
        raise Invalid(f"unknown key(s) {', '.join(unknown)}")
    fields, years, name = table.get("fields"), table.get("years"), table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("needs a name")
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        raise Invalid(f"fields must list some of {', '.join(RETAINABLE_FIELDS)}")
    if not isinstance(years, int) or isinstance(years, bool):
        raise Invalid("years must be a whole number")
    try:
        return RetentionDuty(
            name=name.strip(),
            fields=tuple(fields),
            years=years,
            basis=str(table.get("basis", "")).strip(),
            applies_to=str(table.get("applies_to", "imported")),
        )
    except ValueError as error:
        raise Invalid(str(error)) from None


def _iso_date(value: object) -> date:
    if isinstance(value, date) and not hasattr(value, "hour"):  # TOML date, not a datetime
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise Invalid(f"must be a date YYYY-MM-DD (got {shown(value)})")


Text = Annotated[str, setting(_string)]
OptionalText = Annotated[str | None, setting(_optional_string)]
Secret = Annotated[SecretStr | None, setting(_secret)]
Count = Annotated[int, setting(_integer(0))]
Positive = Annotated[int, setting(_integer(1))]
Port = Annotated[int, setting(_integer(1, 65535))]
Flag = Annotated[bool, setting(_boolean)]
ClockTime = Annotated[time, setting(_clock_time)]
Address = Annotated[str, setting(_address)]
Addresses = Annotated[tuple[str, ...], setting(_list_of(_address, allow_empty=False))]
Domain = Annotated[str, setting(_domain)]
FormSenders = Annotated[tuple[str, ...], setting(_list_of(_form_sender))]
TicketPrefix = Annotated[str, setting(_prefix)]
TimeZoneName = Annotated[str, setting(_timezone)]
ConfigPath = Annotated[Path, setting(_path)]
OptionalPath = Annotated[Path | None, setting(_optional_path)]
Paths = Annotated[tuple[Path, ...], setting(_list_of(_path))]
DatabaseUrl = Annotated[str, setting(_database_url)]
Texts = Annotated[tuple[str, ...], setting(_list_of(_string))]
Counts = Annotated[tuple[int, ...], setting(_list_of(_integer(0)))]
PositiveCounts = Annotated[tuple[int, ...], setting(_list_of(_integer(1)))]
Dates = Annotated[tuple[date, ...], setting(_list_of(_iso_date))]
RetentionDuties = Annotated[tuple[RetentionDuty, ...], setting(_list_of(_retention_duty))]
