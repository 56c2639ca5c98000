"""The admin's account page, and the review pages: quarantine, automated mail, the digest."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailbot.services.staff_accounts import AccountRefused
from mailbot.web.security import Staff, page


async def _accounts_page(
    request: Request, staff: Staff, status: int = 200, error: str | None = None, link: str | None = None
) -> Response:
    web = request.app.state.web
    accounts = await run_in_threadpool(web.app.accounts.accounts)
    return web.page(
        request,
        staff,
        "accounts.html",
        status,
        accounts=accounts,
        error=error,
        link=link,
        staff_addresses=web.app.settings.staff.addresses,
    )


@page(admin=True)
async def accounts(request: Request, staff: Staff) -> Response:
    return await _accounts_page(request, staff)


@page(admin=True, form=True)
async def account_add(request: Request, staff: Staff, form: FormData) -> Response:
    """The same use case as ``mailbot staff add``: the link is shown once, to the admin."""
    web = request.app.state.web
    try:
        token = await run_in_threadpool(
            web.app.accounts.add,
            str(form.get("email", "")),
            str(form.get("role", "")),
            f"staff:{staff.account.id}",
        )
    except AccountRefused as exc:
        return await _accounts_page(request, staff, 400, str(exc))
    return await _accounts_page(request, staff, link=f"{web.app.settings.web.base_url}/enrol/{token}")


@page(admin=True, form=True)
async def account_disable(request: Request, staff: Staff, form: FormData) -> Response:
    web = request.app.state.web
    target = request.path_params["account_id"]
    if target == staff.account.id:
        return await _accounts_page(request, staff, 400, "you cannot disable your own account")
    try:
        await run_in_threadpool(web.app.accounts.disable, target, f"staff:{staff.account.id}")
    except LookupError as exc:
        return await _accounts_page(request, staff, 404, str(exc))
    return RedirectResponse("/admin/accounts", status_code=303)


@page()
async def quarantine(request: Request, staff: Staff) -> Response:
    web = request.app.state.web
    entries = await run_in_threadpool(web.app.views.quarantine)
    automated, refs = await run_in_threadpool(web.app.views.automated)
    return web.page(request, staff, "quarantine.html", entries=entries, automated=automated, refs=refs)


@page()
async def digest(request: Request, staff: Staff) -> Response:
    web = request.app.state.web
    _, rendered = await run_in_threadpool(web.app.deadlines.preview_digest)
    return web.page(request, staff, "digest.html", subject=rendered.subject, text=rendered.text)


routes = [
    Route("/admin/accounts", accounts, methods=["GET"]),
    Route("/admin/accounts", account_add, methods=["POST"]),
    Route("/admin/accounts/{account_id}/disable", account_disable, methods=["POST"]),
    Route("/quarantine", quarantine, methods=["GET"]),
    Route("/digest", digest, methods=["GET"]),
]
