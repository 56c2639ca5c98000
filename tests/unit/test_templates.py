"""Mail templates: every purpose renders in nl and en, mistakes are loud, HTML is escaped, and the
acknowledgements state the promises (R-B1 48 hours, R-A2/R-A17 the legal term, R-A5, R-A6)."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailbot.adapters.templates import (
    PURPOSES,
    TemplateRenderer,
    TemplateRenderError,
    sample_context,
)
from mailbot.cli.templates import command

TEMPLATES = Path(__file__).resolve().parents[2] / "mailbot" / "defaults" / "templates"


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer(TEMPLATES)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A private copy of the templates to break on purpose."""
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATES, target)
    return target


@pytest.mark.parametrize("purpose", PURPOSES)
@pytest.mark.parametrize("language", ["nl", "en"])
def test_every_template_renders(renderer: TemplateRenderer, purpose: str, language: str) -> None:
    mail = renderer.render(purpose, language, sample_context(purpose))
    assert mail.language == language
    assert mail.subject and "\n" not in mail.subject and "\r" not in mail.subject
    assert mail.text.strip()
    assert "{{" not in mail.text and "{%" not in mail.text
    if purpose not in ("digest", "restriction_lifted", "backup_failed"):  # about no single ticket
        assert mail.subject.startswith("[ORD-2026-00042] ")
        assert "ORD-2026-00042" in mail.text


def test_check_reports_no_errors_for_shipped_templates(renderer: TemplateRenderer) -> None:
    assert renderer.check() == []
    assert set(PURPOSES) <= set(renderer.purposes())


def test_languages_fall_back(renderer: TemplateRenderer) -> None:
    ctx = sample_context("ack_other")
    dutch = renderer.render("ack_other", "nl", ctx)
    english = renderer.render("ack_other", "en-GB", ctx)
    assert "Hartelijk dank" in dutch.text and "Thank you" not in dutch.text
    assert "Thank you" in english.text and "Hartelijk dank" not in english.text
    assert renderer.render("ack_other", None, ctx).text == dutch.text
    french = renderer.render("ack_other", "fr", ctx)
    assert french.language == "nl, en"
    assert french.subject == dutch.subject
    assert (
        french.text.index("Hartelijk dank")
        < french.text.index("-- English version --")
        < french.text.index("Thank you")
    )


def test_complaint_ack_names_the_48_hour_due_time_R_B1(renderer: TemplateRenderer) -> None:
    """With ``promise_mode = "calendar"``: received Fri 17:00 Amsterdam → Sun 17:00 Amsterdam
    (case 16), shown in local time, in the old words (issue 17 keeps them for that mode)."""
    ctx = sample_context("ack_complaint")
    received = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)  # 17:00 CET
    ctx["ticket"] = {
        **ctx["ticket"],
        "received_at": received,
        "first_response_due": received + timedelta(hours=48),
        "promised_response": received + timedelta(hours=48),
        "promise_mode": "calendar",
    }
    nl = renderer.render("ack_complaint", "nl", ctx)
    assert "48 uur" in nl.text
    assert "zondag 8 maart 2026 om 17:00" in nl.text
    en = renderer.render("ack_complaint", "en", ctx)
    assert "48 hours" in en.text and "Sunday 8 March 2026 at 17:00" in en.text


def test_due_time_follows_summer_time(renderer: TemplateRenderer) -> None:
    ctx = sample_context("ack_complaint")
    received = datetime(2026, 3, 28, 10, 0, tzinfo=UTC)  # Sat 11:00 CET; due Mon 12:00 CEST
    ctx["ticket"] = {
        **ctx["ticket"],
        "received_at": received,
        "first_response_due": received + timedelta(hours=48),
        "promised_response": received + timedelta(hours=48),
        "promise_mode": "calendar",
    }
    assert "maandag 30 maart 2026 om 12:00" in renderer.render("ack_complaint", "nl", ctx).text


@pytest.mark.parametrize(
    "purpose", ["ack_access", "ack_rectification", "ack_erasure", "ack_restriction", "ack_objection"]
)
def test_gdpr_ack_names_the_legal_term_R_A17(renderer: TemplateRenderer, purpose: str) -> None:
    """Case 1: received Thu 5 Mar → legal end Tue 7 Apr; the ack says "from day X to day Y"."""
    ctx = sample_context(purpose)
    ctx["ticket"] = {**ctx["ticket"], "legal_start": date(2026, 3, 5), "legal_due": date(2026, 4, 7)}
    nl = renderer.render(purpose, "nl", ctx).text
    assert "van donderdag 5 maart 2026 tot en met dinsdag 7 april 2026" in nl
    assert "een maand" in nl
    en = renderer.render(purpose, "en", ctx).text
    assert "from Thursday 5 March 2026 up to and including Tuesday 7 April 2026" in en


def test_identity_check_only_where_needed_R_A7(renderer: TemplateRenderer) -> None:
    ctx = sample_context("ack_erasure")
    with_check = renderer.render(
        "ack_erasure", "nl", {**ctx, "ticket": {**ctx["ticket"], "identity_check": True}}
    )
    without = renderer.render(
        "ack_erasure", "nl", {**ctx, "ticket": {**ctx["ticket"], "identity_check": False}}
    )
    assert "identiteitsbewijs" in with_check.text and "apart bericht" in with_check.text
    assert "apart bericht" not in without.text


def test_extension_and_refusal_R_A5_R_A6(renderer: TemplateRenderer) -> None:
    ext = renderer.render("extension_notice", "nl", sample_context("extension_notice")).text
    assert "vrijdag 5 juni 2026" in ext and "meerdere systemen" in ext
    refusal = renderer.render("refusal", "nl", sample_context("refusal")).text
    assert "Autoriteit Persoonsgegevens" in refusal and "rechter" in refusal and "bewaarplicht" in refusal
    refusal_en = renderer.render("refusal", "en", sample_context("refusal")).text
    assert "judicial remedy" in refusal_en and "Autoriteit Persoonsgegevens" in refusal_en


def test_staff_notice_carries_the_customers_words_and_documents_the_commands(
    renderer: TemplateRenderer,
) -> None:
    """Issue 11: staff answer from their mail client, so the notice shows what the customer wrote
    and how to reply; the subject still names only the ref and the type."""
    ctx = sample_context("staff_new_ticket")
    ctx["message"] = {"subject": "GEHEIM onderwerp van de klant"}
    ctx["customer"] = {"name": "Henk Geheimnaam"}
    mail = renderer.render("staff_new_ticket", "nl", ctx)
    assert "mailbot tickets show ORD-2026-00042" in mail.text
    assert "Geheimnaam" in mail.text and ctx["body"] in mail.text
    assert "GEHEIM" not in mail.subject
    for instruction in ("#note", "#wait", "#close", "#assign"):
        assert instruction in mail.text


def test_missing_variable_is_an_error(renderer: TemplateRenderer) -> None:
    ctx = sample_context("ack_complaint")
    del ctx["ticket"]["promised_response"]
    with pytest.raises(TemplateRenderError, match="promised_response"):
        renderer.render("ack_complaint", "nl", ctx)


def test_check_finds_a_misspelt_variable(scratch: Path) -> None:
    path = scratch / "en" / "ack_other.txt"
    path.write_text(path.read_text().replace("ticket.ref", "ticket.reff", 1))
    errors = TemplateRenderer(scratch).check()
    assert any("en/ack_other.txt" in e and "reff" in e for e in errors), errors


def test_check_finds_a_missing_template_and_a_syntax_error(scratch: Path) -> None:
    (scratch / "nl" / "reminder.txt").unlink()
    (scratch / "en" / "digest.txt").write_text("{% for x in %}")
    errors = TemplateRenderer(scratch).check()
    assert any("nl/reminder.txt: missing" in e for e in errors), errors
    assert any("en/digest.txt" in e and "syntax" in e for e in errors), errors


def test_html_autoescapes_customer_text_R_C12(renderer: TemplateRenderer) -> None:
    ctx = sample_context("ack_complaint")
    ctx["message"] = {"subject": "<script>alert(1)</script>"}
    ctx["customer"] = {"name": "<b>Jan</b>"}
    mail = renderer.render("ack_complaint", "nl", ctx)
    assert mail.html is not None
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    assert "<b>Jan</b>" not in mail.html and "&lt;b&gt;Jan&lt;/b&gt;" in mail.html
    assert mail.html.lstrip().startswith("<!DOCTYPE html>")
    # the plain-text part shows the text as written, not entity-escaped
    assert "<script>alert(1)</script>" in mail.text


def test_rendered_subject_is_one_line(scratch: Path) -> None:
    (scratch / "nl" / "ack_other.subject.txt").write_text(
        "[{{ ticket.ref }}]\n{{ message.subject }}\r\nBcc: x@y\n"
    )
    ctx = sample_context("ack_other")
    mail = TemplateRenderer(scratch).render("ack_other", "nl", ctx)
    assert mail.subject == "[ORD-2026-00042] Vraag over mijn training Bcc: x@y"


def test_unknown_purpose_is_an_error(renderer: TemplateRenderer) -> None:
    with pytest.raises(TemplateRenderError):
        renderer.render("ack_nonsense", "nl", sample_context("ack_other"))


def test_naive_datetime_is_an_error(renderer: TemplateRenderer) -> None:
    ctx = sample_context("ack_complaint")
    ctx["ticket"] = {**ctx["ticket"], "promised_response": datetime(2026, 3, 7, 10, 0)}
    with pytest.raises(TemplateRenderError, match="timezone"):
        renderer.render("ack_complaint", "nl", ctx)


def test_cli_check_and_preview(scratch: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(command, ["check", "--dir", str(scratch)])
    assert ok.exit_code == 0, ok.output
    preview = runner.invoke(command, ["preview", "ack_complaint", "en", "--dir", str(scratch)])
    assert preview.exit_code == 0, preview.output
    assert preview.output.startswith("Subject: [ORD-2026-00042] We have received your complaint")
    assert "48 hours" in preview.output
    (scratch / "nl" / "ack_other.txt").write_text("{{ nonsense.value }}")
    bad = runner.invoke(command, ["check", "--dir", str(scratch)])
    assert bad.exit_code == 1
    assert "nl/ack_other.txt" in bad.output
    missing = runner.invoke(command, ["preview", "nope", "nl", "--dir", str(scratch)])
    assert missing.exit_code != 0


def test_reminder_names_the_customer_for_staff(renderer: TemplateRenderer) -> None:
    """Issue 5: reminders and escalations name the customer (name or address), not the correspondence."""
    ctx = sample_context("reminder")
    ctx["customer"] = {"name": "Henk Klantnaam"}
    for purpose in ("reminder", "escalation"):
        mail = renderer.render(purpose, "nl", {**ctx, "deadline": sample_context(purpose)["deadline"]})
        assert "Henk Klantnaam" in mail.text


def _sentences(text: str) -> set[str]:
    import html as html_lib
    import re

    plain = html_lib.unescape(re.sub(r"<br\s*/?>|</p>", "\n", text))
    plain = re.sub(r"<[^>]+>", "", plain).replace("\u201c", '"').replace("\u201d", '"')
    words = " ".join(plain.split())
    return {s.strip() for s in re.split(r"(?<=[.!?])\s+", words) if len(s.strip()) > 3}


@pytest.mark.parametrize("language", ["nl", "en"])
def test_html_and_text_parts_say_the_same(renderer: TemplateRenderer, language: str) -> None:
    """Issue 17: a customer whose client shows the HTML part reads every sentence of the text part."""
    for purpose in PURPOSES:
        mail = renderer.render(purpose, language, sample_context(purpose))
        if mail.html is None:
            continue
        body = mail.html.split("<body", 1)[-1].split(">", 1)[-1]
        assert _sentences(mail.text) == _sentences(body), purpose
