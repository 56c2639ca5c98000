"""APScheduler jobs inside ``mailbot run``: outbox drain, deadline sweep, daily digest.

Each job calls a service with the app's database and clock; jobs are registered from
``app.jobs`` (name → (callable, trigger kwargs)) so the composition root decides what runs.
``coalesce`` and ``max_instances=1`` make a slow or missed tick run once, not many times.
"""

from __future__ import annotations

import logging
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from mailbot.bootstrap import App

log = logging.getLogger(__name__)


def _guarded(name: str, job: Any) -> Any:
    def run() -> None:
        try:
            job()
        except Exception as exc:  # a failing job is logged and tried again next tick
            log.warning("job failed", extra={"job": name, "error": type(exc).__name__})

    return run


def start_scheduler(app: App) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        timezone=app.org.timezone,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    for name, (job, trigger) in app.jobs().items():
        scheduler.add_job(_guarded(name, job), id=name, name=name, replace_existing=True, **trigger)
    scheduler.start()
    return scheduler
