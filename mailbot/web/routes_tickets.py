"""The ticket list and the ticket page, and the actions on a ticket: each form posts to exactly
the use case the CLI calls (``App.staff``, ``App.tickets``), with the staff member as actor."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailbot.bootstrap import App
from mailbot.domain.model import GDPR_CATEGORIES, Category
from mailbot.services.ticket_views import TicketFilter
from mailbot.services.tickets import TICKET_CATEGORIES_FOR_STAFF
from mailbot.web.security import Staff, page

STATUSES = ("new", "open", "waiting", "resolved", "closed")
#: Statuses staff set by hand (``new`` is mailbot's own).
SETTABLE_STATUSES = ("open", "waiting", "resolved", "closed")
GDPR = frozenset(c.value for c in GDPR_CATEGORIES)

#: What the ticket page says after an action succeeded (fixed words: nothing from the URL is shown).
DONE = {
    "reply": "Answer queued for the customer (sent by the outbox).",
    "note": "Note added.",
    "assign": "Assigned.",
    "status": "Status changed.",
    "reclassify": "Category corrected; the deadlines follow it.",
    "verify": "Identity recorded as verified.",
    "extend": "Term extended; the requester is told.",
    "pause": "Legal clock paused.",
    "resume": "Legal clock running again.",
    "fulfil": "Request carried out; the requester is told.",
    "refuse": "Refusal recorded; the requester is told.",
}


def _filter(request: Request) -> TicketFilter:
    q = request.query_params
    due = q.get("due", "")
    return TicketFilter(
        category=q.get("category") or None,
        status=q.get("status") or None,
        overdue=q.get("overdue") == "1",
        due_within=timedelta(hours=24) if due == "24h" else None,
        assignee=q.get("assignee") or None,
        triage=q.get("triage") == "1",
        include_closed=q.get("all") == "1",
    )


@page()
async def ticket_list(request: Request, staff: Staff) -> Response:
    web = request.app.state.web
    wanted = _filter(request)
    found = await run_in_threadpool(web.app.views.list, wanted)
    return web.page(
        request,
        staff,
        "tickets.html",
        tickets=found.rows,
        counts=found.counts,
        wanted=wanted,
        query=dict(request.query_params),
        categories=TICKET_CATEGORIES_FOR_STAFF,
        statuses=STATUSES,
        staff_addresses=web.app.settings.staff.addresses,
    )


async def _ticket_page(
    request: Request, staff: Staff, ref: str, status: int = 200, error: str | None = None, reason: str = ""
) -> Response:
    web = request.app.state.web
    try:
        detail = await run_in_threadpool(web.app.views.detail, ref, staff.actor, reason or None)
    except LookupError:
        raise HTTPException(404, "no such ticket") from None
    done = DONE.get(request.query_params.get("done", "")) if status == 200 else None
    return web.page(
        request,
        staff,
        "ticket.html",
        status,
        t=detail.ticket,
        d=detail,
        error=error,
        done=done,
        gdpr=detail.ticket.category in GDPR,
        categories=TICKET_CATEGORIES_FOR_STAFF,
        statuses=SETTABLE_STATUSES,
        staff_addresses=web.app.settings.staff.addresses,
    )


@page()
async def ticket(request: Request, staff: Staff) -> Response:
    return await _ticket_page(request, staff, request.path_params["ref"])


@page(form=True)
async def ticket_restricted(request: Request, staff: Staff, form: FormData) -> Response:
    """Open a restricted customer's thread for a stated reason (legal claims; audited, R-A14)."""
    reason = str(form.get("reason", "")).strip()
    if not reason:
        return await _ticket_page(request, staff, request.path_params["ref"], 400, "give the reason")
    return await _ticket_page(request, staff, request.path_params["ref"], reason=reason)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


#: action → how it calls the App with (ref, form, actor). Nothing else happens in the web layer.
ACTIONS: dict[str, Callable[[App, str, FormData, str], Any]] = {
    "reply": lambda app, ref, f, who: app.staff.reply(ref, str(f.get("text", "")), who),
    "note": lambda app, ref, f, who: app.staff.note(ref, str(f.get("text", "")), who),
    "assign": lambda app, ref, f, who: app.staff.assign(ref, str(f.get("name", "")), who),
    "status": lambda app, ref, f, who: app.staff.status(ref, str(f.get("status", "")), who),
    "reclassify": lambda app, ref, f, who: app.tickets.reclassify(ref, Category(str(f.get("category"))), who),
    "verify": lambda app, ref, f, who: app.staff.verify(ref, str(f.get("method", "")), who),
    "extend": lambda app, ref, f, who: app.tickets.extend(
        ref, int(str(f.get("months", "0"))), str(f.get("reason", "")), who
    ),
    "pause": lambda app, ref, f, who: app.tickets.pause(ref, who),
    "resume": lambda app, ref, f, who: app.tickets.resume(ref, who),
    "fulfil": lambda app, ref, f, who: app.staff.fulfil(ref, who),
    "refuse": lambda app, ref, f, who: app.tickets.refuse(
        ref, _lines(str(f.get("reasons", ""))), f.get("partial") == "1", who
    ),
}


@page(form=True)
async def ticket_action(request: Request, staff: Staff, form: FormData) -> Response:
    web = request.app.state.web
    ref, action = request.path_params["ref"], request.path_params["action"]
    call = ACTIONS.get(action)
    if call is None:
        raise HTTPException(404, "no such action")
    try:
        await run_in_threadpool(call, web.app, ref, form, staff.actor)
    except (LookupError, ValueError) as exc:
        message = str(exc).strip("'\"") if str(exc) else "refused"
        return await _ticket_page(request, staff, ref, 400, message)
    return RedirectResponse(f"/tickets/{ref.upper()}?done={action}", status_code=303)


@page()
async def home(request: Request, staff: Staff) -> Response:
    return RedirectResponse("/tickets", status_code=303)


routes = [
    Route("/", home, methods=["GET"]),
    Route("/tickets", ticket_list, methods=["GET"]),
    Route("/tickets/{ref}", ticket, methods=["GET"]),
    Route("/tickets/{ref}/open-restricted", ticket_restricted, methods=["POST"]),
    Route("/tickets/{ref}/{action}", ticket_action, methods=["POST"]),
]
