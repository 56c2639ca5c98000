"""APScheduler jobs inside ``mailbot run``: outbox drain, deadline sweep, daily digest.

The job store is the application database (APScheduler's SQLAlchemy job store, table
``apscheduler_jobs``), so a restart keeps each job's next run time: with ``coalesce`` and a misfire
grace time, a digest missed while mailbot was down runs once on start, not once per missed tick.
Stored jobs must be importable, so each one is ``run_job(name)``, which looks the callable up in
the running app's ``jobs()`` (registered by the composition root). Several ``mailbot run`` on one
PostgreSQL share the store; the deadline and digest jobs take a database lease before working.
"""

from __future__ import annotations

import logging
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from mailbot.bootstrap import App

log = logging.getLogger(__name__)

_running: dict[str, App] = {}

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}


def run_job(name: str) -> None:
    """Entry point of every stored job; failures are logged and the job runs again next tick."""
    app = _running.get("app")
    if app is None:
        return
    job = app.jobs().get(name)
    if job is None:
        log.warning("unknown job", extra={"job": name})
        return
    try:
        job[0]()
    except Exception as exc:
        log.warning("job failed", extra={"job": name, "error": type(exc).__name__})


def make_scheduler(app: App) -> BackgroundScheduler:
    store = SQLAlchemyJobStore(engine=app.engine, tablename="apscheduler_jobs")
    return BackgroundScheduler(
        jobstores={"default": store}, job_defaults=JOB_DEFAULTS, timezone=app.org.timezone
    )


def start_scheduler(app: App) -> BackgroundScheduler:
    _running["app"] = app
    scheduler = make_scheduler(app)
    scheduler.start(paused=True)
    wanted = app.jobs()
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            job.remove()
    for name, (_callable, trigger) in wanted.items():
        existing = scheduler.get_job(name)
        if existing is not None and str(existing.trigger) == str(_trigger_of(trigger, app)):
            continue  # keep its stored next run time: that is what makes a missed run happen once
        scheduler.add_job(run_job, args=[name], id=name, name=name, replace_existing=True, **trigger)
    scheduler.resume()
    return scheduler


def _trigger_of(trigger: dict[str, Any], app: App) -> Any:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    kwargs = {k: v for k, v in trigger.items() if k != "trigger"}
    kwargs.setdefault("timezone", app.org.timezone)
    if trigger["trigger"] == "cron":
        return CronTrigger(**kwargs)
    return IntervalTrigger(**kwargs)
