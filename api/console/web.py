"""What every console page shares: templates, the signed-in member, CSRF, and role checks.

A page's route reads the form, calls one service through the runtime and renders or redirects; who
may do what is `access`'s role lists, the same the API checks.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from pyrate_limiter import Duration, InMemoryBucket, Rate, RateItem

from bot.models import Role, StaffMember
from bot.runtime import Runtime, get_runtime
from bot.services import access, signin
from bot.texts import CATEGORY_LABELS

HERE = Path(__file__).parent
SESSION_COOKIE = "console_session"
LOGIN_CSRF_COOKIE = "console_login_csrf"
templates = Jinja2Templates(directory=HERE / "templates")

ROLE_NAMES = {Role.ADMIN: "管理员", Role.SUPERVISOR: "主管", Role.AGENT: "客服", Role.MANAGER: "客户经理",
              Role.CALLBACK: "回访员", Role.MARKETING: "营销"}
STATUS_NAMES = {"open": "待处理", "answered": "已自动答复", "replied": "已回复", "closed": "已关闭"}


class SignInRequired(Exception):
    """No valid session: the page sends the browser to the sign-in form (see `install`)."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class Refused(Exception):
    """Signed in, but the member's roles do not allow this page or action (403)."""


@dataclass(frozen=True)
class Member:
    staff: StaffMember
    csrf: str
    token: str

    def may(self, roles: tuple[str, ...]) -> bool:
        return self.staff.has_role(*roles)


def runtime() -> Runtime:
    return get_runtime()


def signed_in(request: Request) -> Member:
    token = request.cookies.get(SESSION_COOKIE)
    found = None
    if token:
        rt = get_runtime()
        found = rt.unit_of_work(signin.session_of, token, now=rt.clock.now())
    if found is None:
        raise SignInRequired(str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""))
    staff, csrf = found
    return Member(staff, csrf, token or "")


MemberDep = Annotated[Member, Depends(signed_in)]


def checked_form(member: MemberDep, csrf: Annotated[str, Form()] = "") -> Member:
    """A form post of the signed-in member, with the session's CSRF token (a page of ours sent it)."""
    if not secrets.compare_digest(csrf.encode(), member.csrf.encode()):
        raise Refused("页面已过期或来源不明（CSRF 校验失败），请刷新页面后重试")
    return member


FormMemberDep = Annotated[Member, Depends(checked_form)]


def allowed(member: Member, roles: tuple[str, ...]) -> None:
    if not member.may(roles):
        raise Refused("权限不足：需要角色 " + "、".join(ROLE_NAMES.get(Role(role), role) for role in roles))


def render(request: Request, name: str, member: Member | None, status_code: int = 200, **context: Any
           ) -> HTMLResponse:
    rt = get_runtime()
    return templates.TemplateResponse(request, name, {
        "member": member, "access": access, "now": rt.clock.now(), "tz": rt.settings.tz, **context},
        status_code=status_code)


def back_to(url: str, message: str | None = None) -> RedirectResponse:
    """After a successful form post: back to a page (303, so a reload does not post again)."""
    if message:
        url += ("&" if "?" in url else "?") + "done=" + quote(message)
    return RedirectResponse(url, status_code=303)


def set_session_cookie(request: Request, response: Any, opened: signin.Opened) -> None:
    rt = get_runtime()
    response.set_cookie(SESSION_COOKIE, opened.token, httponly=True, samesite="lax", path="/console",
                        secure=request.url.scheme == "https",
                        max_age=int((opened.expires_at - rt.clock.now()).total_seconds()))


class FailedSignIns:
    """Failed sign-ins per client address: after 5 in a minute or 20 in an hour, that address waits.

    Kept in the process (each instance counts its own); wall-clock time, as is right for a guard
    against guessing tokens, not business time.
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._buckets: dict[str, InMemoryBucket] = {}

    def _item(self, address: str) -> tuple[InMemoryBucket, RateItem]:
        bucket = self._buckets.get(address)
        if bucket is None:
            bucket = self._buckets[address] = InMemoryBucket([Rate(5, Duration.MINUTE), Rate(20, Duration.HOUR)])
        now_ms = int(self._monotonic() * 1000)
        bucket.leak(now_ms)
        return bucket, RateItem(address, now_ms)

    def wait_seconds(self, address: str) -> int:
        """How long this address must wait before it may try again (0: it may now)."""
        bucket, item = self._item(address)
        if bucket.put(item):  # a probe: taken straight back out, it costs no attempt
            bucket.items.remove(item)
            return 0
        waiting = bucket.waiting(item)
        assert isinstance(waiting, int), "an in-memory bucket answers at once"
        return max(1, -(-(waiting - 1) // 1000))  # pyrate-limiter counts 1 ms past the window

    def failed(self, address: str) -> None:
        bucket, item = self._item(address)
        bucket.put(item)


failed_sign_ins = FailedSignIns()


def local(moment: datetime | None, fmt: str = "%m-%d %H:%M") -> str:
    if moment is None:
        return ""
    return moment.astimezone(get_runtime().settings.tz).strftime(fmt)


def business_span(span: timedelta | None) -> str:
    """剩 1小时05分 / 超时 20分, counted in business time."""
    if span is None:
        return ""
    minutes = int(abs(span.total_seconds()) // 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{hours}小时{minutes:02d}分" if hours else f"{minutes}分"
    return f"超时 {text}" if span.total_seconds() < 0 else f"剩 {text}"


_PICTURE = re.compile(r"\[图片\] (https?://\S+)")


def with_pictures(text: str) -> Markup:
    """A stored message with each `[图片] <address>` as a link that opens the picture; the rest escaped."""
    pieces, done = [], 0
    for match in _PICTURE.finditer(text):
        pieces += [escape(text[done:match.start()]),
                   Markup('<a href="{}" target="_blank" rel="noopener noreferrer">[图片]</a>').format(match.group(1))]
        done = match.end()
    return Markup("").join([*pieces, escape(text[done:])])


templates.env.filters["local"] = local
templates.env.filters["with_pictures"] = with_pictures
templates.env.filters["business_span"] = business_span
templates.env.globals.update(ROLE_NAMES=ROLE_NAMES, CATEGORY_LABELS=CATEGORY_LABELS, STATUS_NAMES=STATUS_NAMES)
