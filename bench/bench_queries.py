"""Staff queries on a PostgreSQL database of 1,000,000 tickets (issue 15; target < 100 ms each):
``tickets list --overdue``, ``--due-within 24h``, the digest query and a lookup by reference,
each through the same use case the CLI and the web call (``TicketViews.list``, ``build_digest``,
``tickets.by_ref``), best and median of 7 runs, against a full scan of the same table measured in
the same run (what any query that forgets the indexes would cost at least).

The database is made by ``mailbot init`` and a real ``fetch --once`` over a few messages (real
customers, keys, tickets), then grown to N tickets with one INSERT … SELECT generate_series: ten
years of mail, all closed but the newest 2,000 (open, waiting, new), a fiftieth flagged for triage,
deadlines spread so that some are overdue and some due within a day.

    .venv/bin/python bench/bench_queries.py [--tickets 1000000] [--open 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from kill9 import drop_pg, pg_database  # noqa: E402  (one way to make and drop a bench database)

GROW = """
INSERT INTO tickets (id, ref, category, status, customer_id, language, triage, rule, confidence,
    received_at, opened_at, first_response_due, first_responded_at, legal_due, internal_due,
    resolution_due, answered_at, overdue, updated_at, legal_hold)
SELECT md5('bench' || i)::uuid::text,
       'BEN-' || lpad(i::text, 8, '0'),
       (ARRAY['complaint','access','erasure','other','other','rectification','objection'])[1 + i % 7],
       CASE WHEN i > :n - :open THEN (ARRAY['new','open','waiting'])[1 + i % 3] ELSE 'closed' END,
       :customer, 'nl', i % 50 = 0, 'bench', 0.9,
       at, at,
       at + interval '48 hours',
       CASE WHEN i > :n - :open THEN NULL ELSE at + interval '20 hours' END,
       CASE WHEN i % 7 IN (1, 2, 5, 6) THEN at + interval '1 month' END,
       CASE WHEN i % 7 IN (1, 2, 5, 6) THEN at + interval '20 days' END,
       CASE WHEN i % 7 = 0 THEN at + interval '4 weeks' END,
       CASE WHEN i > :n - :open THEN NULL ELSE at + interval '2 days' END,
       false, at, false
FROM (SELECT i, now() - (:n - i) * interval '5 minutes' AS at FROM generate_series(1, :n) AS i) AS g
"""


def timed(call: Callable[[], object], runs: int = 7) -> dict[str, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return {"best_ms": round(min(times), 1), "median_ms": round(statistics.median(times), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=2000)
    args = parser.parse_args()
    from sqlalchemy import text

    from mailbot.bootstrap import build_app
    from mailbot.config import load_settings
    from mailbot.services.digest import build_digest
    from mailbot.services.ticket_views import TicketFilter
    from tests.support.app import mailbot_env

    name = f"mailbot_queries_{os.getpid()}"
    url = pg_database(name)
    root = Path(tempfile.mkdtemp(prefix="qb", dir="/tmp"))
    try:
        env = mailbot_env(root, url, {"MAILBOT_MODEL__ENABLED": "false"})
        child = {**os.environ, **env}
        subprocess.run(
            [sys.executable, "-m", "mailbot.cli", "init"], env=child, check=True, capture_output=True
        )
        new = root / "storage" / "inbox" / "new"
        new.mkdir(parents=True, exist_ok=True)
        for n, file in enumerate(sorted((REPO / "corpus" / "writers" / "w01").glob("*.eml"))[:5]):
            shutil.copyfile(file, new / f"{n}.seed")
        subprocess.run(
            [sys.executable, "-m", "mailbot.cli", "fetch", "--once"],
            env=child,
            check=True,
            capture_output=True,
        )
        app = build_app(load_settings(None, env))
        started = time.perf_counter()
        with app.database.transaction() as uow:
            session = uow.session  # type: ignore[attr-defined]
            customer = session.execute(text("SELECT id FROM customers LIMIT 1")).scalar_one()
            session.execute(text(GROW), {"n": args.tickets, "open": args.open, "customer": customer})
        with app.database.transaction() as uow:
            uow.session.execute(text("ANALYZE tickets"))  # type: ignore[attr-defined]
        grown = time.perf_counter() - started

        def full_scan() -> object:
            with app.database.transaction() as uow:
                return uow.session.execute(  # type: ignore[attr-defined]
                    text("SELECT count(*) FROM tickets WHERE rule || ref <> ''")
                ).scalar_one()

        def by_ref() -> object:
            with app.database.transaction() as uow:
                return uow.tickets.by_ref(f"BEN-{args.tickets - 12345:08d}")

        def digest() -> object:
            with app.database.transaction() as uow:
                return build_digest(uow, app.clock(), app.org)

        overdue = app.views.list(TicketFilter(overdue=True))
        soon = app.views.list(TicketFilter(due_within=timedelta(hours=24)))
        with app.database.transaction() as uow:
            count = uow.session.execute(text("SELECT count(*) FROM tickets")).scalar_one()  # type: ignore[attr-defined]
            plan = "\n".join(
                uow.session.execute(  # type: ignore[attr-defined]
                    text(
                        "EXPLAIN SELECT * FROM tickets WHERE status NOT IN ('resolved', 'closed') "
                        "ORDER BY opened_at"
                    )
                ).scalars()
            )
        figures = {
            "tickets": count,
            "open": args.open,
            "grow_s": round(grown, 1),
            "baseline_full_scan": timed(full_scan, 3),
            "tickets_list_overdue": {
                **timed(lambda: app.views.list(TicketFilter(overdue=True))),
                "rows": len(overdue.rows),
            },
            "tickets_list_due_within_24h": {
                **timed(lambda: app.views.list(TicketFilter(due_within=timedelta(hours=24)))),
                "rows": len(soon.rows),
            },
            "digest": timed(digest),
            "lookup_by_ref": timed(by_ref),
            "cores": os.cpu_count(),
        }
        figures["worst_vs_full_scan"] = round(
            max(
                v["median_ms"]
                for k, v in figures.items()
                if isinstance(v, dict) and k != "baseline_full_scan"
            )
            / figures["baseline_full_scan"]["median_ms"],  # type: ignore[index]
            3,
        )
        print(json.dumps(figures))
        print(plan, file=sys.stderr)
        app.close()
    finally:
        drop_pg(name)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
