"""Login, logout, enrolment and the password change: forms over ``App.accounts``."""

from __future__ import annotations

from typing import Any

import segno
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailbot.services.staff_accounts import AccountRefused
from mailbot.web.security import (
    PRE_CSRF_COOKIE,
    SESSION_COOKIE,
    Staff,
    checked_pre_form,
    page,
    pre_csrf,
    set_cookie,
)


def _render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    """A pre-session page, with its CSRF token in the form and in a cookie."""
    web = request.app.state.web
    token = pre_csrf(request)
    response = web.render(request, name, status=status, csrf=token, **context)
    if request.cookies.get(PRE_CSRF_COOKIE) != token:
        set_cookie(response, PRE_CSRF_COOKIE, token, web.secure)
    return response


async def login_form(request: Request) -> Response:
    return _render(request, "login.html", error=None, email="")


async def login(request: Request) -> Response:
    web = request.app.state.web
    form = await checked_pre_form(request)
    email = str(form.get("email", ""))
    client = request.client.host if request.client else "-"
    if not web.throttle.allow(client, web.app.clock()):
        return _render(request, "login.html", 429, error="too many attempts; wait a minute", email=email)
    try:
        done = await run_in_threadpool(
            web.app.accounts.login, email, str(form.get("password", "")), str(form.get("code", ""))
        )
    except AccountRefused as exc:
        return _render(request, "login.html", 401, error=str(exc), email=email)
    response = RedirectResponse("/password" if done.session.must_change_password else "/", status_code=303)
    set_cookie(response, SESSION_COOKIE, done.token, web.secure)
    return response


@page()
async def logout(request: Request, staff: Staff) -> Response:
    web = request.app.state.web
    await run_in_threadpool(web.app.accounts.logout, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _qr_svg(uri: str) -> str:
    """The authenticator URI as an inline SVG QR code (no image files, no external requests)."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, title="authenticator QR code"))


async def _enrol_page(request: Request, token: str, status: int = 200, error: str | None = None) -> Response:
    web = request.app.state.web
    try:
        start = await run_in_threadpool(web.app.accounts.begin_enrolment, token)
    except AccountRefused as exc:
        return _render(request, "message.html", 404, title="Enrolment", message=str(exc))
    return _render(
        request,
        "enrol.html",
        status,
        error=error,
        email=start.email,
        secret=start.secret,
        qr=_qr_svg(start.uri),
        token=token,
    )


async def enrol_form(request: Request) -> Response:
    return await _enrol_page(request, request.path_params["token"])


async def enrol(request: Request) -> Response:
    web = request.app.state.web
    token = request.path_params["token"]
    form: FormData = await checked_pre_form(request)
    password = str(form.get("password", ""))
    if password != str(form.get("password_again", "")):
        return await _enrol_page(request, token, 400, "the two passwords differ")
    try:
        codes = await run_in_threadpool(
            web.app.accounts.complete_enrolment, token, password, str(form.get("code", ""))
        )
    except AccountRefused as exc:
        return await _enrol_page(request, token, 400, str(exc))
    return _render(request, "enrolled.html", codes=codes)


@page(password_page=True)
async def password_form(request: Request, staff: Staff) -> Response:
    return request.app.state.web.page(request, staff, "password.html", error=None)


@page(form=True, password_page=True)
async def password(request: Request, staff: Staff, form: FormData) -> Response:
    web = request.app.state.web
    new = str(form.get("new", ""))
    if new != str(form.get("new_again", "")):
        return web.page(request, staff, "password.html", 400, error="the two new passwords differ")
    try:
        await run_in_threadpool(
            web.app.accounts.change_password,
            request.cookies.get(SESSION_COOKIE, ""),
            str(form.get("current", "")),
            new,
        )
    except AccountRefused as exc:
        return web.page(request, staff, "password.html", 400, error=str(exc))
    return RedirectResponse("/", status_code=303)


routes = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/enrol/{token}", enrol_form, methods=["GET"]),
    Route("/enrol/{token}", enrol, methods=["POST"]),
    Route("/password", password_form, methods=["GET"]),
    Route("/password", password, methods=["POST"]),
]
