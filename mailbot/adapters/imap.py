"""The production mail source: an IMAP folder read with imapclient.

Size (over 400 lines): one connection's state machine — connect, SELECT and UIDVALIDITY, IDLE,
MOVE with COPY/flag fallbacks, reconnect — kept in one class; split, that state would be shared
across modules.

The contract with the ingest service (``mailbot.services.ports.Source``) is at-least-once delivery
made exactly-once by the caller's fingerprint: this adapter never changes a message while reading it
(``BODY.PEEK[]``, R-C17), keys every message by (UIDVALIDITY, UID) (R-C16), and only moves or flags
a message when ``done()`` is called after the caller committed it. It never issues a plain EXPUNGE,
which would also purge mail other clients marked ``\\Deleted`` (R-C18).

No personal data is logged or put in exception messages: UIDs and counts only.
"""

from __future__ import annotations

import contextlib
import imaplib
import ipaddress
import logging
import os
import re
import select
import ssl
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from imapclient import IMAPClient

from mailbot.errors import plain_reason
from mailbot.services.ports import OVERSIZE_PREFIX_BYTES, Batch, Cursor, IncomingMessage

log = logging.getLogger(__name__)
# imapclient logs every command and response line at DEBUG (login name, headers, body lines):
# cap it at INFO so running mailbot at DEBUG still never puts personal data in the logs.
logging.getLogger("imapclient").setLevel(logging.INFO)

SECURITY_MODES = ("tls", "starttls", "plain")
AFTER_MODES = ("move", "flag")
PROCESSED_KEYWORD = "$MailbotProcessed"
IDLE_REISSUE_SECONDS = 29 * 60  # RFC 2177 §3: servers may drop an IDLE after 30 minutes (R-C19)
DEFAULT_MAX_BATCH_BYTES = 16 * 1024 * 1024  # a batch is held whole: bytes, then sealed (issue 15)

_ADDRESS_LIKE = re.compile(r"[^\s<>\"']+@[^\s<>\"']+")


class SourceError(Exception):
    """The IMAP server could not be reached or refused an operation.

    The message names the operation and the server's short answer with anything address-like
    removed, so it is safe to log. The connection is dropped; the next call reconnects.
    """


def is_loopback(host: str) -> bool:
    """Whether ``host`` certainly stays on this machine (the only place plain IMAP is allowed)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def uid_set(uids: Sequence[int]) -> str:
    """Compress UIDs into an IMAP sequence set (``1:3,7``) so big batches stay short commands."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    start = prev = ordered[0]
    for uid in ordered[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        parts.append(f"{start}:{prev}" if prev != start else str(start))
        start = prev = uid
    parts.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(parts)


def parse_key(key: str) -> tuple[int, int] | None:
    """``"<uidvalidity>:<uid>"`` → (uidvalidity, uid); None for keys this source did not make."""
    validity, sep, uid = key.partition(":")
    if not sep or not validity.isdigit() or not uid.isdigit():
        return None
    return int(validity), int(uid)


def _scrub(text: str, limit: int = 200) -> str:
    return _ADDRESS_LIKE.sub("<address>", text)[:limit]


def _as_utc(value: object) -> datetime | None:
    """INTERNALDATE as aware UTC (R-A1); None if the server sent something unusable."""
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:  # imapclient only does this when normalise_times is on
        value = value.astimezone()
    return value.astimezone(UTC)


def _quiet(client: IMAPClient) -> None:
    """Stop imaplib formatting every response for a debug log nobody reads.

    imapclient sets imaplib's ``debug`` to 5 and routes its messages to the ``imapclient.imaplib``
    logger, which is capped at INFO above: imaplib still built the ``repr`` of every literal
    before dropping it, a message's size three times over (a 24 MB mail held 76 MB for a moment,
    and took the time to format it: issue 15). Nothing is logged either way.
    """
    imap = getattr(client, "_imap", None)  # test doubles of the client have none
    if imap is not None:
        imap.debug = 0


class ImapSource:
    """One IMAP folder as a :class:`mailbot.services.ports.Source`.

    One connection, opened lazily and kept between calls; any failure drops it so the next call
    starts clean. Everything except :meth:`interrupt` must be called from a single thread.
    """

    client_class: type[IMAPClient] = IMAPClient

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: str,
        username: str,
        password: str,
        folder: str = "INBOX",
        processed_folder: str = "Processed",
        after: str = "move",
        batch_size: int = 200,
        timeout: float = 60,
        ssl_context: ssl.SSLContext | None = None,
        use_move: bool | None = None,
        idle_reissue_seconds: float = IDLE_REISSUE_SECONDS,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        sweep_leftovers: bool = True,
        max_message_bytes: int | None = None,
    ) -> None:
        if security not in SECURITY_MODES:
            raise ValueError(f"imap.security must be one of {', '.join(SECURITY_MODES)}, not {security!r}")
        if security == "plain" and not is_loopback(host):
            # R-C20: credentials and mail never cross a network in clear text.
            raise ValueError("imap.security 'plain' is only allowed to a loopback host: use tls or starttls")
        if after not in AFTER_MODES:
            raise ValueError(f"imap.after must be one of {', '.join(AFTER_MODES)}, not {after!r}")
        if after == "move" and processed_folder == folder:
            raise ValueError("imap.processed_folder must differ from imap.folder")
        if batch_size < 1:
            raise ValueError("imap batch_size must be at least 1")
        if idle_reissue_seconds <= 0 or idle_reissue_seconds > IDLE_REISSUE_SECONDS:
            raise ValueError("IDLE must be re-issued within 29 minutes (R-C19)")
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self._password = password
        self.folder = folder
        self.processed_folder = processed_folder
        self.after = after
        self.batch_size = batch_size
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.use_move = use_move
        self.idle_reissue_seconds = idle_reissue_seconds
        self.max_batch_bytes = max_batch_bytes
        self.sweep_leftovers = sweep_leftovers
        self.max_message_bytes = max_message_bytes
        self.name = f"imap:{username}@{host}/{folder}"

        self._client: IMAPClient | None = None
        self._selected = False
        self._validity: int | None = None  # UIDVALIDITY of the selected folder
        self._known_uidnext: int | None = None  # first UID not yet handed out by batches()
        self._swept = False  # leftover sweep done on this connection
        self._processed_ready = False
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    # -- Source ----------------------------------------------------------------------------------

    def batches(self, cursor: Cursor) -> Iterator[Batch]:
        """Yield what is new since ``cursor`` (everything, if UIDVALIDITY changed: R-C16).

        A dropped connection surfaces as :class:`SourceError` from the iteration; the caller keeps
        what it committed and calls again with its stored cursor.
        """
        client = self._live_connection()
        with self._guard("status"):
            if self._selected:
                self._unselect(client)
            if self._selected:  # no UNSELECT: re-SELECT answers the same questions
                status = self._select_info(client)
            else:
                # STATUS on a folder that is not selected is the cheap, proper check (RFC 9051 §6.3.11).
                status = client.folder_status(self.folder, [b"UIDVALIDITY", b"UIDNEXT", b"MESSAGES"])
        validity = int(status[b"UIDVALIDITY"])
        uidnext = int(status[b"UIDNEXT"])
        same_validity = validity == cursor.validity
        count = int(status.get(b"MESSAGES", status.get(b"EXISTS", 0)))
        sweep = self._wants_sweep(same_validity, cursor, count)
        if same_validity and uidnext <= cursor.last_uid + 1 and not sweep:
            # The cheap path: nothing was added since the cursor, so no SELECT and no FETCH.
            self._known_uidnext = uidnext
            return
        validity = self._select(client) if not self._selected else int(status[b"UIDVALIDITY"])
        if validity != cursor.validity:
            log.info("imap uidvalidity changed: resync from uid 1", extra={"uidvalidity": validity})
            last_uid = 0
        else:
            last_uid = cursor.last_uid

        if sweep and validity == cursor.validity:
            yield from self._sweep(client, validity, last_uid)

        with self._guard("search"):
            found = client.search(["UID", f"{last_uid + 1}:*"])
        # `n:*` always matches the highest UID, even one below n: keep only the really new ones.
        new = sorted(uid for uid in (int(u) for u in found) if uid > last_uid)
        if not new:
            self._known_uidnext = max(uidnext, last_uid + 1)
            return
        self._known_uidnext = new[-1] + 1
        for chunk in self._chunks(client, new):
            messages = self._fetch(client, validity, chunk)
            yield Batch(messages=messages, cursor=Cursor(validity=validity, last_uid=max(chunk)))

    def done(self, messages: Sequence[IncomingMessage]) -> None:
        """Move (or flag) committed messages at the server; stale-UIDVALIDITY keys are skipped."""
        if not messages:
            return
        client = self._live_connection()
        validity = self._validity if self._selected else self._select(client)
        keys = [parse_key(m.key) for m in messages]
        uids = sorted({key[1] for key in keys if key is not None and key[0] == validity})
        if len(uids) != len(messages):
            skipped = len(messages) - len(uids)
            log.info("imap done: skipped keys of another uidvalidity", extra={"skipped": skipped})
        if not uids:
            return
        if self.after == "flag":
            with self._guard("store keyword"):
                client.add_flags(uids, [PROCESSED_KEYWORD], silent=True)
            return
        self._ensure_processed_folder(client)
        if self._move_supported(client):
            with self._guard("uid move"):
                client.move(uid_set(uids), self.processed_folder)
            return
        # R-C18 fallback: COPY, mark only these UIDs, and expunge only these UIDs (UIDPLUS).
        with self._guard("uid copy"):
            client.copy(uid_set(uids), self.processed_folder)
            client.add_flags(uids, [b"\\Deleted"], silent=True)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(uid_set(uids))
            else:
                log.warning("imap server lacks UIDPLUS: processed copies marked \\Deleted, not expunged")

    def wait_for_mail(self, timeout: float) -> bool:
        """Block until the server reports new mail (True) or ``timeout`` passes / interrupt (False).

        Uses IDLE when offered, re-issued every ``idle_reissue_seconds`` (R-C19); otherwise it just
        sleeps and answers True so the caller polls.

        It never raises for the server's sake: waiting is not where outages should be handled. A
        connection lost while waiting answers True ("look now": the next :meth:`batches` reconnects
        and reports a real failure); a server that cannot be reached is waited out for ``timeout``.
        """
        started = time.monotonic()
        connected = False
        try:
            client = self._live_connection()
            connected = True
            return self._wait(client, timeout)
        except SourceError as exc:
            log.warning("imap wait interrupted by a connection problem", extra={"error": str(exc)})
            if connected:
                # At most one retry a second, should the server keep refusing IDLE at once.
                return not self._sleep(max(0.0, min(1.0, timeout) - (time.monotonic() - started)))
            return not self._sleep(max(0.0, timeout - (time.monotonic() - started)))

    def _wait(self, client: IMAPClient, timeout: float) -> bool:
        # _live_connection's NOOP made the server sync this session's view of the folder.
        with self._guard("capability"):
            has_idle = client.has_capability("IDLE")
        if not has_idle:
            return not self._sleep(timeout)
        if not self._selected:
            self._select(client)
        if self._known_uidnext is not None:
            # Mail announced with an earlier response (imapclient drops those untagged EXISTS)
            # would never be announced again in IDLE: look for it explicitly first.
            with self._guard("search"):
                found = client.search(["UID", f"{self._known_uidnext}:*"])
            if any(int(uid) >= self._known_uidnext for uid in found):
                return True  # arrived between the last fetch and now: no need to wait
        return self._idle(client, timeout)

    def interrupt(self) -> None:
        """Wake a pending (or the next) :meth:`wait_for_mail`; safe from any thread."""
        with contextlib.suppress(OSError):  # pipe full (already woken) or closed
            os.write(self._wake_w, b"x")

    def check(self) -> dict[str, object]:
        """Connect, log in and look at the folder without changing anything (check-config --connect)."""
        client = self._open()
        try:
            with self._guard("examine", drop=False):
                selected = client.select_folder(self.folder, readonly=True)
                capabilities = sorted(
                    c.decode() if isinstance(c, bytes) else str(c) for c in client.capabilities()
                )
                processed_exists = self.after != "move" or client.folder_exists(self.processed_folder)
            return {
                "capabilities": capabilities,
                "messages": int(selected.get(b"EXISTS", 0)),
                "uidvalidity": int(selected.get(b"UIDVALIDITY", 0)),
                "uidnext": int(selected.get(b"UIDNEXT", 0)),
                "security": self.security,
                "idle": "IDLE" in capabilities,
                "move": "MOVE" in capabilities,
                "uidplus": "UIDPLUS" in capabilities,
                "processed_folder_exists": bool(processed_exists),
            }
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def close(self) -> None:
        self._drop(logout=True)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1

    # -- connection ------------------------------------------------------------------------------

    def _live_connection(self) -> IMAPClient:
        """The kept connection if it still answers, else a new one.

        A connection that died while we were not using it (server restart, NAT timeout) is not
        an error worth reporting: only a failure on a fresh connection is.
        """
        if self._client is not None:
            try:
                self._client.noop()
                return self._client
            except (imaplib.IMAP4.error, OSError, EOFError):
                log.info("imap connection lost between calls; reconnecting")
                self._drop()
        return self._connection()

    def _connection(self) -> IMAPClient:
        if self._client is None:
            self._client = self._open()
            self._selected = False
            self._swept = False
            self._processed_ready = False
        return self._client

    def _open(self) -> IMAPClient:
        """Connect with the configured security (R-C20) and log in."""
        context = self.ssl_context or ssl.create_default_context()
        with self._guard("connect", drop=False):
            client = self.client_class(
                self.host,
                port=self.port,
                ssl=self.security == "tls",
                ssl_context=context if self.security == "tls" else None,
                timeout=self.timeout,
            )
        _quiet(client)
        try:
            with self._guard("starttls", drop=False):
                if self.security == "starttls":
                    if not client.has_capability("STARTTLS"):
                        # Fail closed: never fall back to sending the password in clear text.
                        raise SourceError("IMAP server does not offer STARTTLS; refusing plain text")
                    client.starttls(context)
            with self._guard("login", drop=False):
                client.login(self.username, self._password)
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        client.normalise_times = False  # keep INTERNALDATE's zone so it converts to UTC exactly
        return client

    def _drop(self, *, logout: bool = False) -> None:
        client, self._client = self._client, None
        self._selected = False
        self._validity = None
        if client is None:
            return
        with contextlib.suppress(Exception):
            if logout:
                client.logout()
            else:
                client.shutdown()

    @contextlib.contextmanager
    def _guard(self, operation: str, *, drop: bool = True) -> Iterator[None]:
        """Turn library and socket errors into SourceError without personal data; drop the link."""
        try:
            yield
        except SourceError:
            if drop:
                self._drop()
            raise
        except (imaplib.IMAP4.error, OSError, EOFError) as exc:
            if drop:
                self._drop()
            reason = (
                plain_reason(exc) if isinstance(exc, OSError | EOFError) else _scrub(str(exc)) or "failed"
            )
            raise SourceError(f"IMAP {operation} at {self.host}:{self.port} failed ({reason})") from exc

    def _select(self, client: IMAPClient) -> int:
        return int(self._select_info(client)[b"UIDVALIDITY"])

    def _select_info(self, client: IMAPClient) -> dict[bytes, Any]:
        """SELECT read-write (done() must be able to move); the response has UIDVALIDITY/UIDNEXT."""
        with self._guard("select"):
            response: dict[bytes, Any] = client.select_folder(self.folder, readonly=False)
        self._selected = True
        self._validity = int(response[b"UIDVALIDITY"])
        return response

    def _unselect(self, client: IMAPClient) -> None:
        """Leave the folder without expunging (UNSELECT, never CLOSE: R-C18), so STATUS is proper."""
        if client.has_capability("UNSELECT"):
            client.unselect_folder()
            self._selected = False
            self._validity = None

    def _move_supported(self, client: IMAPClient) -> bool:
        with self._guard("capability"):
            offered = bool(client.has_capability("MOVE"))
        if self.use_move is None:
            return offered
        if self.use_move and not offered:
            raise SourceError("IMAP server does not offer MOVE but use_move=True")
        return self.use_move

    def _ensure_processed_folder(self, client: IMAPClient) -> None:
        if self._processed_ready:
            return
        with self._guard("create folder"):
            if not client.folder_exists(self.processed_folder):
                try:
                    client.create_folder(self.processed_folder)
                except imaplib.IMAP4.error:
                    # Another worker may have created it in the meantime; only that is fine.
                    if not client.folder_exists(self.processed_folder):
                        raise
        self._processed_ready = True

    # -- fetching --------------------------------------------------------------------------------

    def _wants_sweep(self, same_validity: bool, cursor: Cursor, messages: int) -> bool:
        """Once per connection, look for committed-but-not-moved mail below the cursor.

        A crash between the caller's commit and :meth:`done` leaves such messages behind; fetching
        them again lets the caller see duplicates (a no-op) and then move/flag them.
        """
        if not self.sweep_leftovers or self._swept:
            return False
        self._swept = True
        return same_validity and cursor.last_uid > 0 and messages > 0

    def _sweep(self, client: IMAPClient, validity: int, last_uid: int) -> Iterator[Batch]:
        criteria: list[str] = ["UID", f"1:{last_uid}", "UNDELETED"]
        if self.after == "flag":
            criteria += ["NOT", "KEYWORD", PROCESSED_KEYWORD]
        with self._guard("search"):
            left = sorted(uid for uid in (int(u) for u in client.search(criteria)) if uid <= last_uid)
        if left:
            log.info("imap: re-offering messages committed but not yet moved", extra={"count": len(left)})
        for chunk in self._chunks(client, left):
            yield Batch(messages=self._fetch(client, validity, chunk), cursor=Cursor(validity, last_uid))

    def _chunks(self, client: IMAPClient, uids: list[int]) -> Iterator[dict[int, int]]:
        """Split by count and by size, so a run of large attachments cannot exhaust memory; each
        chunk maps UID → the size the server reports (RFC822.SIZE)."""
        if not uids:
            return
        with self._guard("fetch size"):
            sizes = client.fetch(uids, ["RFC822.SIZE"])
        chunk: dict[int, int] = {}
        total = 0
        for uid in uids:
            size = int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0))
            read = OVERSIZE_PREFIX_BYTES if self._oversize(size) else size
            if chunk and (len(chunk) >= self.batch_size or total + read > self.max_batch_bytes):
                yield chunk
                chunk, total = {}, 0
            chunk[uid] = size
            total += read
        if chunk:
            yield chunk

    def _oversize(self, size: int) -> bool:
        return self.max_message_bytes is not None and size > self.max_message_bytes

    def _fetch(self, client: IMAPClient, validity: int, sizes: dict[int, int]) -> list[IncomingMessage]:
        # BODY.PEEK[] rather than BODY[]/RFC822: reading must not set \Seen (R-C17). Mail over the
        # maximum is read only as far as its first bytes (a partial fetch), never whole (issue 13).
        over = {uid for uid, size in sizes.items() if self._oversize(size)}
        whole = [uid for uid in sizes if uid not in over]
        with self._guard("fetch"):
            data = client.fetch(whole, ["BODY.PEEK[]", "INTERNALDATE"]) if whole else {}
            if over:
                prefix = f"BODY.PEEK[]<0.{OVERSIZE_PREFIX_BYTES}>"
                data.update(client.fetch(sorted(over), [prefix, "INTERNALDATE"]))
        messages = []
        for uid, size in sizes.items():
            item: dict[bytes, Any] | None = data.get(uid)
            body = None if item is None else item.get(b"BODY[]") or item.get(b"BODY[]<0>")
            if item is None or body is None:
                continue  # expunged by another client between SEARCH and FETCH
            messages.append(
                IncomingMessage(
                    key=f"{validity}:{uid}",
                    raw=bytes(body),
                    received_at=_as_utc(item.get(b"INTERNALDATE")),
                    full_size=size if uid in over else None,
                )
            )
        return messages

    # -- waiting ---------------------------------------------------------------------------------

    def _sleep(self, timeout: float) -> bool:
        """Sleep up to ``timeout``; True if interrupted."""
        return bool(self._poll([self._wake_r], timeout)) and self._drain_wake()

    def _drain_wake(self) -> bool:
        with contextlib.suppress(OSError):
            while os.read(self._wake_r, 512):
                pass
        return True

    @staticmethod
    def _poll(fds: list[int], timeout: float) -> list[int]:
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        return [fd for fd, _event in poller.poll(max(0.0, timeout) * 1000)]

    def _idle(self, client: IMAPClient, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._guard("idle"):
            client.idle()
        issued = time.monotonic()
        idling = True
        empty_reads = 0
        try:
            while True:
                now = time.monotonic()
                if now >= deadline:
                    return False
                if now - issued >= self.idle_reissue_seconds:
                    # R-C19: end and restart IDLE before the server's 30-minute inactivity limit.
                    with self._guard("idle"):
                        idling = False
                        client.idle_done()
                        client.idle()
                        idling = True
                    issued = time.monotonic()
                    continue
                wait = min(deadline, issued + self.idle_reissue_seconds) - now
                ready = self._poll([client.socket().fileno(), self._wake_r], wait)
                if self._wake_r in ready:
                    self._drain_wake()
                    return False
                if ready:
                    with self._guard("idle"):
                        responses = client.idle_check(timeout=0)
                    if any(self._is_new_mail(r) for r in responses):
                        return True
                    # A readable socket that yields nothing again and again is a closed one (EOF:
                    # imapclient swallows it); a TLS record without data only happens once or twice.
                    empty_reads = 0 if responses else empty_reads + 1
                    if empty_reads >= 10 or any(self._is_bye(r) for r in responses):
                        self._drop()
                        idling = False
                        raise SourceError("IMAP server closed the connection during IDLE")
        finally:
            if idling and self._client is client:
                with self._guard("idle done"):
                    client.idle_done()

    @staticmethod
    def _is_new_mail(response: object) -> bool:
        return (
            isinstance(response, tuple)
            and len(response) >= 2
            and isinstance(response[0], int)
            and response[1] == b"EXISTS"  # not RECENT: gone in IMAP4rev2 (R-C19)
        )

    @staticmethod
    def _is_bye(response: object) -> bool:
        return isinstance(response, tuple) and len(response) >= 1 and response[0] == b"BYE"
