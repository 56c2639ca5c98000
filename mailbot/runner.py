"""``mailbot run``: the long-running service.

The main thread runs intake (ingest + process) and then waits for mail: IMAP IDLE where the server
has it (re-issued well inside 29 minutes, R-C19), otherwise a poll every ``poll_seconds``; the
embedded Maildir inbox is checked every second so a message handed to the SMTP listener becomes a
ticket within seconds. Periodic jobs (outbox drain, deadline sweep, digest) run on APScheduler
(``scheduler.py``). SIGTERM/SIGINT finish the message in hand and exit 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from mailbot.bootstrap import App
from mailbot.health import record_pass
from mailbot.services.pipeline import run_pass
from mailbot.services.ports import Source

log = logging.getLogger(__name__)

EMBEDDED_POLL_SECONDS = 1.0


class Runner:
    def __init__(self, app: App) -> None:
        self.app = app
        self.stopping = threading.Event()
        self.sources: list[Source] = [app.source()]
        self.listener: Any = None
        self.scheduler: Any = None
        self.web: Any = None
        self.web_thread: threading.Thread | None = None

    def stop(self, *_: object) -> None:
        if not self.stopping.is_set():
            log.info("stopping: finishing the message in hand")
        self.stopping.set()
        for source in self.sources:
            interrupt = getattr(source, "interrupt", None)
            if interrupt:
                interrupt()

    def _install_signals(self) -> dict[int, Any]:
        """SIGTERM/SIGINT ask for a clean stop; the previous handlers are returned for restoring."""

        def handler(signum: int, _frame: FrameType | None) -> None:
            self.stop()

        return {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def start_side_services(self) -> None:
        settings = self.app.settings
        if settings.listener.enabled and settings.imap.enabled:
            log.warning("imap is configured: the embedded smtp listener is not started")
        elif settings.listener.enabled:
            from mailbot.adapters.smtp_listener import EmbeddedListener

            self.listener = EmbeddedListener(
                settings.listener.host,
                settings.listener.port,
                settings.storage.inbox_dir,
                max_size=settings.processing.max_message_bytes,
            )
            self.listener.start()
            log.info(
                "smtp listener started",
                extra={"host": settings.listener.host, "port": settings.listener.port},
            )
        if settings.web.enabled:  # the staff pages beside the intake (issue 18)
            from mailbot.web.server import server_of

            self.web = server_of(self.app)
            self.web_thread = threading.Thread(target=self.web.run, name="web", daemon=True)
            self.web_thread.start()
            log.info("web interface started", extra={"host": settings.web.host, "port": settings.web.port})
        from mailbot.scheduler import start_scheduler

        self.scheduler = start_scheduler(self.app)

    def intake_once(self) -> None:
        for source in self.sources:
            if self.stopping.is_set():
                return
            try:
                summary = run_pass(
                    source,
                    self.app.database,
                    self.app.processor,
                    self.app.clock,
                    should_stop=self.stopping.is_set,
                )
            except Exception as exc:  # a source outage must not end the service; retry next round
                log.warning("intake failed", extra={"source": source.name, "error": type(exc).__name__})
                continue
            if summary.fetched:
                log.info("intake", extra={"source": source.name, **summary.as_dict()})
                if not self.stopping.is_set():
                    self.drain_now()
            try:
                record_pass(self.app.settings, self.app.clock())
            except OSError:  # a full or read-only disk must not stop intake; health will say so
                log.warning("could not record the intake heartbeat")

    def drain_now(self) -> None:
        """Send what the pass queued at once, not up to 10 s later at the scheduler's next tick
        (the scheduler's job stays for retries). A concurrent drain cannot take the same row: the
        claim locks it (SKIP LOCKED on PostgreSQL, the write lock on SQLite)."""
        try:
            self.app.drain_outbox()
        except Exception as exc:  # an SMTP or database outage: the scheduler's job retries
            log.warning("send after intake failed", extra={"error": type(exc).__name__})

    def wait(self) -> None:
        imap = [s for s in self.sources if hasattr(s, "wait_for_mail")]
        if imap:
            settings = self.app.settings.imap
            timeout = float(settings.poll_seconds)
            if settings.idle:
                imap[0].wait_for_mail(timeout)  # returns early when the server reports new mail
            else:
                self.stopping.wait(timeout)
            return
        self.stopping.wait(EMBEDDED_POLL_SECONDS)

    def run_forever(self) -> None:
        previous = self._install_signals()
        self.start_side_services()
        log.info("mailbot running", extra={"sources": [s.name for s in self.sources]})
        try:
            while not self.stopping.is_set():
                self.intake_once()
                if not self.stopping.is_set():
                    self.wait()
        finally:
            if self.scheduler is not None:
                self.scheduler.shutdown(wait=True)
            if self.listener is not None:
                self.listener.stop()
            if self.web is not None and self.web_thread is not None:
                self.web.should_exit = True
                self.web_thread.join(timeout=10)
            for source in self.sources:
                source.close()
            self.app.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            log.info("mailbot stopped")
