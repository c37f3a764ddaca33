"""The staff console: Chinese pages under /console/, served by the bot's own process.

Server-rendered (Jinja2) with htmx for the parts that change live; every script and style is in
`static/`, nothing from a CDN. Pages are thin: they call the same services as the API and the chat.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.console import (
    auth,
    directory,
    field,
    knowledge,
    launches,
    live,
    outbox,
    reports,
    staff_and_groups,
    supply,
    tickets,
    unticketed,
)
from api.console.web import HERE, Refused, SignInRequired, render, signed_in

router = APIRouter(include_in_schema=False)  # under /console, given where it is included
for module in (auth, tickets, unticketed, field, live, reports, outbox, supply, launches, directory, staff_and_groups,
               knowledge):
    router.include_router(module.router)


async def _sign_in_first(_: Request, error: SignInRequired) -> RedirectResponse:
    return RedirectResponse(f"/console/login?next={quote(error.next_url)}", status_code=303)


async def _refused(request: Request, error: Refused) -> HTMLResponse:
    try:
        member = signed_in(request)
    except SignInRequired:
        member = None
    return render(request, "error.html", member, status_code=403, message=str(error))


def install(app: FastAPI) -> None:
    app.include_router(router, prefix="/console")  # as api.main.install: no extra pass over the routes
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.add_exception_handler(SignInRequired, _sign_in_first)  # type: ignore[arg-type]
    app.add_exception_handler(Refused, _refused)  # type: ignore[arg-type]
