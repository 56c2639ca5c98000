"""The scheduler's job store is the application database (issue 5): jobs survive a restart with
their next run time, and a stored job runs the app's callable by name."""

from __future__ import annotations

from pathlib import Path

from mailbot import scheduler
from tests.support.app import make_app
from tests.support.fakes import keyword_classifier


def test_jobs_are_stored_in_the_database_and_kept_across_restarts(
    tmp_path: Path, database_url: str, clock
) -> None:
    app = make_app(tmp_path, database_url, clock, classifier=keyword_classifier)
    first = scheduler.start_scheduler(app)
    stored = {job.id: job.next_run_time for job in first.get_jobs()}
    first.shutdown(wait=True)
    assert {"send", "deadlines", "digest"} <= set(stored)
    second = scheduler.start_scheduler(app)  # a restart: same database
    again = {job.id: job.next_run_time for job in second.get_jobs()}
    second.shutdown(wait=True)
    assert again["digest"] == stored["digest"]  # kept, not re-planned: a missed digest runs once
    app.close()


def test_run_job_calls_the_registered_callable(tmp_path: Path, database_url: str, clock) -> None:
    app = make_app(tmp_path, database_url, clock, classifier=keyword_classifier)
    calls: list[str] = []
    jobs = app.jobs()
    jobs["probe"] = (lambda: calls.append("ran"), {"trigger": "interval", "seconds": 60})
    app.jobs = lambda: jobs  # type: ignore[method-assign]
    scheduler._running["app"] = app
    scheduler.run_job("probe")
    scheduler.run_job("does-not-exist")
    assert calls == ["ran"]
    app.close()


def test_the_ladder_follows_configuration(tmp_path: Path, clock) -> None:
    """Issue 5: the ladder is configurable; the defaults are the issue's 24 h / 6 h / breach / +24 h."""
    from mailbot.domain.ladder import DEFAULT_LADDER
    from mailbot.policies import ladder_of
    from tests.support.app import make_settings

    url = f"sqlite:///{tmp_path / 'm.db'}"
    assert ladder_of(make_settings(tmp_path, url)) == dict(DEFAULT_LADDER)
    custom = ladder_of(
        make_settings(
            tmp_path,
            url,
            MAILBOT_DEADLINES__REMINDER_HOURS_BEFORE="12",
            MAILBOT_DEADLINES__ESCALATION_HOURS_AFTER="0",
        )
    )
    assert [s.key for s in custom["first_response"]] == [
        "first_response:remind-12h",
        "first_response:escalate",
    ]
    app = make_app(
        tmp_path, url, clock, classifier=keyword_classifier, MAILBOT_DEADLINES__REMINDER_HOURS_BEFORE="12"
    )
    first_step = app.deadlines.notifier.ladder["first_response"][0]
    assert first_step.key == "first_response:remind-12h"
    app.close()
