"""Signing in and out: with the member's API token, or a one-time link the bot sends on 登录.

The link's page asks for one click before it signs in: chat apps open links to preview them, and a
preview must not use up a single-use link.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.console.web import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    FormMemberDep,
    failed_sign_ins,
    render,
    set_session_cookie,
)
from bot.runtime import get_runtime
from bot.services import signin
from bot.services.errors import ServiceError

router = APIRouter()


def _safe_next(next_url: str | None) -> str:
    """Only a console page of ours: never another site."""
    if next_url and next_url.startswith("/console/") and not next_url.startswith("//"):
        return next_url
    return "/console/tickets"


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_form(request: Request, *, error: str | None = None, next_url: str = "", status_code: int = 200
                ) -> HTMLResponse:
    csrf = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, status_code=status_code, error=error, csrf=csrf,
                      next_url=next_url)
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="strict", path="/console",
                        secure=request.url.scheme == "https", max_age=3600)
    return response


def _checked_login_csrf(request: Request, csrf: str) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return bool(cookie) and secrets.compare_digest(cookie.encode(), csrf.encode())


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "") -> HTMLResponse:
    return _login_form(request, next_url=next)


@router.post("/login", response_model=None)
def login(request: Request, token: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    if not _checked_login_csrf(request, csrf):
        return _login_form(request, error="页面已过期，请重新输入令牌登录", next_url=next, status_code=403)
    address = _address(request)
    wait = failed_sign_ins.wait_seconds(address)
    if wait:
        return _login_form(request, error=f"登录失败次数过多，请 {wait} 秒后再试", next_url=next, status_code=429)
    runtime = get_runtime()
    opened = runtime.unit_of_work(signin.sign_in_with_token, token.strip(), now=runtime.clock.now(),
                                  address=address) if token.strip() else None
    if opened is None:
        failed_sign_ins.failed(address)
        return _login_form(request, error="令牌无效或账号已停用", next_url=next, status_code=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(request, response, opened)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return response


@router.get("/login/{code}", response_class=HTMLResponse)
def link_page(request: Request, code: str) -> HTMLResponse:
    csrf = secrets.token_urlsafe(24)
    response = render(request, "link.html", None, code=code, csrf=csrf)
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="strict", path="/console",
                        secure=request.url.scheme == "https", max_age=3600)
    return response


@router.post("/login/{code}", response_model=None)
def redeem(request: Request, code: str, csrf: Annotated[str, Form()] = "") -> HTMLResponse | RedirectResponse:
    if not _checked_login_csrf(request, csrf):
        return _login_form(request, error="页面已过期，请重新打开登录链接", status_code=403)
    address = _address(request)
    wait = failed_sign_ins.wait_seconds(address)
    if wait:
        return _login_form(request, error=f"登录失败次数过多，请 {wait} 秒后再试", status_code=429)
    runtime = get_runtime()
    try:
        opened = runtime.unit_of_work(signin.redeem_link, code, now=runtime.clock.now(), address=address)
    except ServiceError as refused:
        failed_sign_ins.failed(address)
        return _login_form(request, error=str(refused), status_code=410)  # the form says how to get a new link
    response = RedirectResponse("/console/tickets", status_code=303)
    set_session_cookie(request, response, opened)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return response


@router.post("/logout", response_model=None)
def logout(member: FormMemberDep) -> RedirectResponse:
    runtime = get_runtime()
    runtime.unit_of_work(signin.sign_out, member.token, now=runtime.clock.now())
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response
