"""Who is asking, and is the form theirs: the session cookie, CSRF tokens, role checks, the login
throttle and the security headers every response carries."""

from __future__ import annotations

import hmac
import secrets
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailbot.domain.staff_account import StaffAccount, StaffSession
from mailbot.domain.staff_login import LoginPolicy, rate_allows

SESSION_COOKIE = "mailbot_session"
#: The double-submit token of the forms shown before a session exists (login, enrolment).
PRE_CSRF_COOKIE = "mailbot_csrf"

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The enrolment link carries its token in the path: never hand it on to another site.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Staff:
    """The logged-in staff member of one request."""

    session: StaffSession
    account: StaffAccount

    @property
    def actor(self) -> str:
        """Who the ticket use cases record: the staff address (it must be on staff.addresses)."""
        return self.account.email


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


def set_cookie(response: Response, name: str, value: str, secure: bool) -> None:
    response.set_cookie(name, value, httponly=True, secure=secure, samesite="strict", path="/")


def pre_csrf(request: Request) -> str:
    """The pre-session CSRF token: the cookie's, or a new one the response must set."""
    return request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(32)


async def checked_pre_form(request: Request) -> FormData:
    """The form of a pre-session page, refused (403) unless its token matches the cookie."""
    form = await request.form()
    if not same(str(form.get("csrf", "")), request.cookies.get(PRE_CSRF_COOKIE)):
        raise HTTPException(403, "the form has expired; reload the page and try again")
    return form


Handler = Callable[..., Awaitable[Response]]


def page(
    *, admin: bool = False, form: bool = False, password_page: bool = False
) -> Callable[[Handler], Handler]:
    """A page for logged-in staff: no session → the login page; a staff member on an admin page →
    403; a POST whose CSRF token is missing or wrong → 403; an expired password → the change page.
    The handler gets ``(request, staff)`` and, with ``form``, the checked form as well."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def wrapper(request: Request) -> Response:
            web = request.app.state.web
            token = request.cookies.get(SESSION_COOKIE, "")
            found = await run_in_threadpool(web.app.accounts.session, token) if token else None
            if found is None:
                return RedirectResponse("/login", status_code=303)
            staff = Staff(*found)
            if staff.session.must_change_password and not password_page:
                return RedirectResponse("/password", status_code=303)
            if admin and not staff.account.is_admin:
                raise HTTPException(403, "this page is for admins")
            args: list[Any] = [request, staff]
            if form or request.method == "POST":
                data = await request.form()
                if not same(str(data.get("csrf", "")), staff.session.csrf):
                    raise HTTPException(403, "the form has expired; reload the page and try again")
                if form:
                    args.append(data)
            return await handler(*args)

        return wrapper

    return decorate


class LoginThrottle:
    """Login attempts per client address in a sliding window (in memory, per process): a
    password-guessing script is slowed before the per-account lockout is reached."""

    def __init__(self, policy: LoginPolicy) -> None:
        self.policy = policy
        self._attempts: defaultdict[str, deque[datetime]] = defaultdict(
            lambda: deque(maxlen=policy.rate_limit)
        )

    def allow(self, client: str, now: datetime) -> bool:
        attempts = self._attempts[client]
        if not rate_allows(attempts, now, self.policy):
            return False
        attempts.append(now)
        return True
