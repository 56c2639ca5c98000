"""The Starlette application: templates, the security headers, error pages and the routes.

``create_app(app)`` takes the wired ``App`` from ``bootstrap``; the pages reach the use cases
through ``request.app.state.web``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailbot.bootstrap import App
from mailbot.errors import error_kind_words
from mailbot.mail.language import reads
from mailbot.web import auth, routes_admin, routes_tickets
from mailbot.web.security import HEADERS, LoginThrottle, Staff

TEMPLATES = Path(__file__).parent / "templates"


class WebState:
    """What every page needs: the App, the template environment, cookie policy and the throttle."""

    def __init__(self, app: App, secure: bool) -> None:
        self.app = app
        self.secure = secure
        self.zone = ZoneInfo(app.org.timezone)
        self.throttle = LoginThrottle(app.accounts.policy)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.env.filters["local"] = self.local
        self.env.filters["reads"] = reads
        self.env.filters["error_words"] = error_kind_words

    def local(self, moment: datetime | None) -> str:
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M") if moment else "-"

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        context.setdefault("staff", None)
        context.setdefault("org", self.app.org.name)
        html = self.env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status)

    def page(self, request: Request, staff: Staff, name: str, status: int = 200, **context: Any) -> Response:
        """A page for a logged-in staff member: the CSRF token of their session in every form."""
        return self.render(request, name, status, staff=staff, csrf=staff.session.csrf, **context)


class SecurityHeaders:
    """Adds ``HEADERS`` to every response (pages, redirects and errors alike)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend((k.lower().encode(), v.encode()) for k, v in HEADERS.items())
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


async def _error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "something went wrong"
    web: WebState = request.app.state.web
    return web.render(request, "message.html", status, title=f"Error {status}", message=detail)


def create_app(app: App, *, secure_cookies: bool | None = None) -> Starlette:
    """The web interface over ``app``; ``secure_cookies`` overrides ``web.secure_cookies``."""
    secure = app.settings.web.secure_cookies if secure_cookies is None else secure_cookies
    web = Starlette(
        routes=[*auth.routes, *routes_tickets.routes, *routes_admin.routes],
        exception_handlers={HTTPException: _error},
    )
    web.state.web = WebState(app, secure)
    web.add_middleware(SecurityHeaders)
    return web
