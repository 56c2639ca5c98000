"""Jinja2 over ``templates/``: the mail texts are data the company edits, so mistakes must be loud.

Size (over 400 lines): the sample data ``templates check`` renders every purpose with lives
beside the renderer it exercises, so a new template variable is added in one place.

``StrictUndefined`` turns a missing variable into an error when the template is rendered (and
:meth:`TemplateRenderer.check` renders every template with sample data), instead of a blank in a
customer's mail. Autoescape is on for ``.html`` only: the plain-text parts must not show ``&amp;``.

Layout: ``templates/<lang>/<purpose>.subject.txt``, ``<purpose>.txt`` and optionally
``<purpose>.html`` (a fragment; the renderer wraps it in ``_layout.html``). Files starting with
``_`` are partials. The context contract is documented in ``templates/README.md`` and exemplified
by :func:`sample_context`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from mailbot.domain.promise import working_days_due
from mailbot.mail.compose import clean_header_text
from mailbot.mail.language import detect_language

__all__ = [
    "LANGUAGES",
    "PURPOSES",
    "RenderedMail",
    "TemplateRenderError",
    "TemplateRenderer",
    "sample_context",
]

#: Every purpose the services may ask for; ``check()`` reports any that lack a template.
PURPOSES: tuple[str, ...] = (
    "ack_complaint",
    "ack_access",
    "ack_rectification",
    "ack_erasure",
    "ack_restriction",
    "ack_objection",
    "ack_other",
    "staff_new_ticket",
    "staff_follow_up",
    "staff_answer",
    "staff_confirmation",
    "identity_challenge",
    "restriction_lifted",
    "request_fulfilled",
    "backup_failed",
    "reminder",
    "escalation",
    "digest",
    "extension_notice",
    "refusal",
)

#: Languages with templates of their own; anything else gets Dutch with an English part.
LANGUAGES: tuple[str, ...] = ("nl", "en")
DEFAULT_LANGUAGE = "nl"

_MONTHS = {
    "nl": (
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}
_WEEKDAYS = {
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_CATEGORY_LABELS = {
    "nl": {
        "complaint": "klacht",
        "access": "inzageverzoek",
        "rectification": "correctieverzoek",
        "erasure": "verwijderverzoek",
        "restriction": "verzoek om beperking",
        "objection": "bezwaar",
        "reply": "reactie",
        "automated": "automatisch bericht",
        "other": "algemene vraag",
    },
    "en": {
        "complaint": "complaint",
        "access": "access request",
        "rectification": "rectification request",
        "erasure": "erasure request",
        "restriction": "restriction request",
        "objection": "objection",
        "reply": "reply",
        "automated": "automatic message",
        "other": "general enquiry",
    },
}
_DEADLINE_LABELS = {
    "nl": {
        "first_response": "eerste reactie",
        "decision": "afhandeling klacht",
        "legal": "wettelijke termijn",
        "internal": "interne streefdatum",
    },
    "en": {
        "first_response": "first response",
        "decision": "complaint decision",
        "legal": "legal deadline",
        "internal": "internal target",
    },
}
_LANGUAGE_NAMES = {
    "nl": {"nl": "Nederlands", "en": "Engels", "de": "Duits", "fr": "Frans"},
    "en": {"nl": "Dutch", "en": "English", "de": "German", "fr": "French"},
}
_ENGLISH_DIVIDER = "\n\n-- English version --\n\n"


class TemplateRenderError(Exception):
    """A template is missing, does not parse, or uses a variable the context lacks."""


@dataclass(frozen=True)
class RenderedMail:
    """A rendered mail: a one-line subject, the text part, the optional HTML part.

    ``language`` is what the parts are written in, as a Content-Language value ("nl", "en",
    or "nl, en" when a Dutch text carries an English part).
    """

    subject: str
    text: str
    html: str | None
    language: str = DEFAULT_LANGUAGE


def _defined(value: object) -> None:
    """Filters see StrictUndefined as a value; make them fail with the variable's name instead."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()


def _template_language(language: str | None) -> str:
    primary = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


class TemplateRenderer:
    """Renders mail templates by purpose and language, in the organisation's time zone."""

    def __init__(self, directory: Path, timezone: str = "Europe/Amsterdam") -> None:
        self.directory = Path(directory)
        self._zone = ZoneInfo(timezone)
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.directory),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html",),
                disabled_extensions=("txt",),
                default_for_string=False,
                default=False,
            ),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._env.filters["datetime"] = self._format_datetime
        self._env.filters["date"] = self._format_date
        self._env.filters["category"] = self._category_label
        self._env.filters["deadline"] = self._deadline_label
        self._env.filters["language_name"] = self._language_name
        self._env.filters["staff_language"] = self._staff_language
        self._env.globals["authority"] = {
            "name": "Autoriteit Persoonsgegevens",
            "website": "https://autoriteitpersoonsgegevens.nl",
        }

    # -- filters: language comes from the template being rendered (``lang`` in its context) ----

    def _local(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise TemplateRenderError("naive datetime in template context (times must be timezone-aware)")
        return value.astimezone(self._zone)

    @jinja2.pass_context
    def _format_datetime(self, ctx: jinja2.runtime.Context, value: object) -> str:
        """Aware datetime → local wall time in words (a date → the day); strings pass through."""
        _defined(value)
        if isinstance(value, str):
            return value
        lang = ctx.get("lang", DEFAULT_LANGUAGE)
        if isinstance(value, date) and not isinstance(value, datetime):
            return self._day(lang, value)  # a date-only deadline (the legal term) has no hour
        if not isinstance(value, datetime):
            raise TemplateRenderError(f"datetime filter got {type(value).__name__}")
        local = self._local(value)
        day = self._day(lang, local.date())
        word = "om" if lang == "nl" else "at"
        return f"{day} {word} {local:%H:%M}"

    @jinja2.pass_context
    def _format_date(self, ctx: jinja2.runtime.Context, value: object) -> str:
        """Date (or aware datetime, taken locally) → "dinsdag 7 april 2026"; strings pass through."""
        _defined(value)
        if isinstance(value, str):
            return value
        if isinstance(value, datetime):
            value = self._local(value).date()
        if not isinstance(value, date):
            raise TemplateRenderError(f"date filter got {type(value).__name__}")
        return self._day(ctx.get("lang", DEFAULT_LANGUAGE), value)

    @staticmethod
    def _day(lang: str, day: date) -> str:
        lang = lang if lang in _MONTHS else DEFAULT_LANGUAGE
        return f"{_WEEKDAYS[lang][day.weekday()]} {day.day} {_MONTHS[lang][day.month - 1]} {day.year}"

    @staticmethod
    @jinja2.pass_context
    def _category_label(ctx: jinja2.runtime.Context, value: object) -> str:
        _defined(value)
        labels = _CATEGORY_LABELS.get(ctx.get("lang", DEFAULT_LANGUAGE), _CATEGORY_LABELS["nl"])
        return labels.get(str(value), str(value))

    @staticmethod
    @jinja2.pass_context
    def _deadline_label(ctx: jinja2.runtime.Context, value: object) -> str:
        _defined(value)
        labels = _DEADLINE_LABELS.get(ctx.get("lang", DEFAULT_LANGUAGE), _DEADLINE_LABELS["nl"])
        return labels.get(str(value), str(value))

    @staticmethod
    @jinja2.pass_context
    def _language_name(ctx: jinja2.runtime.Context, value: object) -> str:
        """``en`` → "Engels" in a Dutch template, "English" in an English one."""
        _defined(value)
        names = _LANGUAGE_NAMES.get(ctx.get("lang", DEFAULT_LANGUAGE), _LANGUAGE_NAMES["nl"])
        code = str(value or "").strip().lower().split("-")[0]
        return names.get(code, code or names["nl"])

    @staticmethod
    @jinja2.pass_context
    def _staff_language(ctx: jinja2.runtime.Context, value: object) -> str:
        """The language staff wrote ``value`` in (a text or a list of texts) when it is clearly not
        the letter's own, else "": an English reader is told the reason below is in Dutch
        (issue 17). Too few words to tell is no note, never a wrong one."""

        _defined(value)
        lang = ctx.get("lang", DEFAULT_LANGUAGE)
        text = " ".join(map(str, value)) if isinstance(value, list | tuple) else str(value or "")
        found = detect_language(text, default=lang)
        return "" if found == lang else found

    # -- rendering ------------------------------------------------------------------------------

    def purposes(self) -> list[str]:
        """Purposes that have a text template in at least one language."""
        found: set[str] = set()
        for lang in LANGUAGES:
            folder = self.directory / lang
            if folder.is_dir():
                found.update(
                    p.name[: -len(".txt")]
                    for p in folder.glob("*.txt")
                    if not p.name.startswith("_") and not p.name.endswith(".subject.txt")
                )
        return sorted(found)

    def _render_one(self, name: str, context: Mapping[str, Any], lang: str) -> str:
        try:
            template = self._env.get_template(name)
            return template.render({**context, "lang": lang})
        except jinja2.TemplateNotFound as exc:
            raise TemplateRenderError(f"{name}: template not found") from exc
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateRenderError(f"{name}:{exc.lineno}: syntax error: {exc.message}") from exc
        except jinja2.UndefinedError as exc:
            raise TemplateRenderError(f"{name}: {exc.message}") from exc
        except TemplateRenderError as exc:
            raise TemplateRenderError(f"{name}: {exc}") from exc

    def _exists(self, name: str) -> bool:
        return (self.directory / name).is_file()

    def _render_lang(self, purpose: str, lang: str, context: Mapping[str, Any]) -> RenderedMail:
        subject = self._render_one(f"{lang}/{purpose}.subject.txt", context, lang)
        text = self._render_one(f"{lang}/{purpose}.txt", context, lang).strip() + "\n"
        html_name = f"{lang}/{purpose}.html"
        html = self._render_one(html_name, context, lang) if self._exists(html_name) else None
        subject = clean_header_text(subject)
        if not subject:
            raise TemplateRenderError(f"{lang}/{purpose}.subject.txt: renders an empty subject")
        return RenderedMail(subject=subject, text=text, html=html, language=lang)

    def _wrap_html(self, body: str, lang: str) -> str:
        return self._render_one("_layout.html", {"content": Markup(body)}, lang)

    def render(self, purpose: str, language: str | None, context: Mapping[str, Any]) -> RenderedMail:
        """Render ``purpose`` for a message written in ``language``.

        Dutch is the default; English mail gets English; any other language gets the Dutch text
        followed by the English one (the company writes Dutch, the customer most likely reads
        English better than Dutch).
        """
        if purpose not in PURPOSES and purpose not in self.purposes():
            raise TemplateRenderError(f"unknown purpose {purpose!r}")
        primary = (language or "").strip().lower().replace("_", "-").split("-")[0]
        lang = _template_language(language)
        main = self._render_lang(purpose, lang, context)
        if primary in ("", *LANGUAGES):
            html = self._wrap_html(main.html, lang) if main.html is not None else None
            return RenderedMail(main.subject, main.text, html, lang)
        english = self._render_lang(purpose, "en", context)
        text = main.text.rstrip() + _ENGLISH_DIVIDER + english.text
        html: str | None = None
        if main.html is not None and english.html is not None:
            html = self._wrap_html(
                f'{main.html}\n<hr>\n<div lang="en">\n{english.html}\n</div>', DEFAULT_LANGUAGE
            )
        return RenderedMail(main.subject, text, html, f"{DEFAULT_LANGUAGE}, en")

    def check(self) -> list[str]:
        """Render every purpose in every language with sample data; return the errors (empty: fine)."""
        errors: list[str] = []
        for purpose in sorted(set(PURPOSES) | set(self.purposes())):
            for lang in LANGUAGES:
                for suffix in (".subject.txt", ".txt"):
                    if not self._exists(f"{lang}/{purpose}{suffix}"):
                        errors.append(f"{lang}/{purpose}{suffix}: missing")
            for lang in (*LANGUAGES, "fr"):
                try:
                    self.render(purpose, lang, sample_context(purpose))
                except TemplateRenderError as exc:
                    errors.append(str(exc))
        return list(dict.fromkeys(errors))


def sample_context(purpose: str) -> dict[str, Any]:
    """A complete example context for ``purpose``: the contract in executable form.

    Every purpose gets ``org``, ``ticket``, ``customer`` and ``message``; reminders and
    escalations add ``deadline``, the digest ``digest``, the extension notice ``extension`` and
    the refusal ``refusal``. Times are aware datetimes (the renderer shows them in
    Europe/Amsterdam); preformatted strings are accepted as well.
    """
    received = datetime.fromisoformat("2026-03-05T09:30:00+00:00")
    if purpose.startswith("ack_"):
        category = purpose.removeprefix("ack_")
    elif purpose in ("extension_notice", "refusal", "identity_challenge", "request_fulfilled"):
        category = "erasure"
    else:
        category = "complaint"
    gdpr = category in ("access", "rectification", "erasure", "restriction", "objection")
    ticket: dict[str, Any] = {
        "ref": "ORD-2026-00042",
        "category": category,
        "received_at": received,
        "first_response_due": received + timedelta(hours=48) if category != "other" else None,
        # What the letter promises: 48 hours on working days (Thursday 10:30 → Monday 10:30).
        "promised_response": working_days_due(received, 48) if category != "other" else None,
        "promise_mode": "working_days",
        "promise_hours": 48,
        "decision_due": date(2026, 4, 2) if category == "complaint" else None,
        "legal_start": received.date() if gdpr else None,
        "legal_due": date(2026, 4, 7) if gdpr else None,
        "internal_due": date(2026, 4, 2) if gdpr else None,
        "identity_check": category in ("access", "erasure", "rectification"),
        "status": "open",
        "triage": False,
        "language": "nl",
    }
    context: dict[str, Any] = {
        "org": {"name": "Ordevos", "mailbox": "info@ordevos.nl", "website": "https://www.ordevos.nl"},
        "ticket": ticket,
        "customer": {"name": "Jan de Vries"},
        "message": {"subject": "Vraag over mijn training"},
    }
    if purpose in ("staff_new_ticket", "staff_follow_up"):
        context["body"] = "Ik wacht al twee weken op een reactie over mijn factuur."
        context["due_local"] = received + timedelta(hours=48)
        context["restricted"] = False
        context["possible_request"] = "erasure" if purpose == "staff_follow_up" else None
    if purpose == "staff_answer":
        context["answer"] = {
            "text": "Beste Jan,\n\nExcuses, de factuur is aangepast.\n\nAnna",
            "staff": "anna@ordevos.nl",
        }
    if purpose == "staff_confirmation":
        context["outcome"] = {
            "command": "close",
            "answered": True,
            "noted": False,
            "status": "closed",
            "assignee": None,
            "verified": False,
            "extended_to": None,
            "refused": False,
            "fulfilled": None,
            "error": None,
        }
    if purpose in ("reminder", "escalation"):
        context["deadline"] = {
            "kind": "first_response",
            "due": received + timedelta(hours=48),
            "hours_left": 8 if purpose == "reminder" else 0,
            "overdue": purpose == "escalation",
        }
    if purpose == "request_fulfilled":
        # The erasure report: the richest form of this letter (what a legal duty keeps, backups).
        context["fulfilled"] = {
            "what": "erased",
            "retained": [
                {
                    "duty": "invoices",
                    "basis": "art. 52 AWR",
                    "fields": ["address", "company", "name"],
                    "until": date(2033, 3, 6),
                }
            ],
            "backups_gone_by": date(2026, 4, 10),
            # A partial refusal: the honoured part was carried out, these are the rest's reasons.
            "refused": ["Uw facturen bewaren wij zeven jaar (art. 52 AWR)."],
        }
    if purpose == "backup_failed":
        return {
            "org": context["org"],
            "backup": {"reason": "pg_dump failed: connection refused", "at": received},
        }
    if purpose == "restriction_lifted":
        # About the person, not a ticket: lifting may come long after the request was closed.
        return {"org": context["org"], "customer": context["customer"], "lifted_at": received}
    if purpose == "digest":
        # The digest is about many tickets: it gets no ticket/customer/message of its own.
        context = {"org": context["org"]}
        context["digest"] = {
            "date": date(2026, 3, 6),
            "overdue": [
                {
                    "ref": "ORD-2026-00040",
                    "category": "complaint",
                    "kind": "first_response",
                    "due": received - timedelta(hours=2),
                }
            ],
            "due_soon": [
                {"ref": "ORD-2026-00042", "category": "access", "kind": "legal", "due": date(2026, 4, 7)}
            ],
            "past_internal_target": [
                {"ref": "ORD-2026-00031", "category": "erasure", "kind": "internal", "due": date(2026, 3, 4)}
            ],
            "triage": [
                {
                    "ref": "ORD-2026-00043",
                    "category": "other",
                    "kind": "first_response",
                    "due": received + timedelta(hours=48),
                }
            ],
            "failed": [{"ref": "ORD-2026-00039", "reason": "550 5.1.1 mailbox unavailable"}],
            "internal": [{"ref": "ORD-2026-00041", "received_at": received}],
            "suspicious": [{"ref": "-", "received_at": received}],
            "tasks": [
                {"id": 3, "ref": "ORD-2026-00031", "recipient": "nieuwsbrief (Laposta)", "action": "erased"}
            ],
            "opened": [
                {
                    "ref": "ORD-2026-00044",
                    "category": "complaint",
                    "kind": "first_response",
                    "due": received + timedelta(hours=48),
                }
            ],
            "gdpr_open": [
                {
                    "ref": "ORD-2026-00042",
                    "category": "access",
                    "kind": "legal",
                    "due": date(2026, 4, 7),
                    "unpaused_due": date(2026, 4, 7),
                }
            ],
            "quarantined": 1,
        }
    if purpose == "extension_notice":
        context["extension"] = {
            "reason": "Uw verzoek betreft gegevens uit meerdere systemen en trainingsjaren.",
            "original_due": date(2026, 4, 7),
            "new_due": date(2026, 6, 5),
        }
    if purpose == "refusal":
        context["refusal"] = {
            "partial": True,
            "honoured": "rectified",
            "reasons": [
                "Een deel van de gegevens moeten wij op grond van de fiscale bewaarplicht (art. 52 AWR) "
                "zeven jaar bewaren.",
            ],
        }
    return context
