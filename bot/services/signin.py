"""Staff sign-in to the web console: browser sessions and one-time login links. Sole writer of
`console_session` and `login_link`.

A staff member signs in with their API token, or with a link the bot sends privately to the chat
account registered for them (`登录` in private chat). Cookie tokens and link codes are random secrets
handed out once; only their SHA-256 is stored, so a copy of the database opens nothing, and a secret
is found by an index lookup on its hash rather than by comparing secrets (no timing leak). The CSRF
token is stored as is: it is per session and worth nothing without the cookie.

A session ends when signed out, after SESSION_IDLE unused, or SESSION_LIFETIME after it opened,
whichever comes first, and as soon as the staff member is deactivated. Resetting a member's API token
(it may have leaked) also ends their console sessions, all but the one of the admin doing it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select

from bot.models import ConsoleSession, LoginLink, StaffMember, id_of
from bot.services import staff as staff_service
from bot.services.errors import Conflict, NotFound
from bot.services.notices import STAFF_PLATFORM

SESSION_LIFETIME = timedelta(hours=12)   # absolute limit
SESSION_IDLE = timedelta(hours=2)        # ends after this long unused
LINK_LIFETIME = timedelta(minutes=10)
KEPT_FOR = timedelta(days=30)  # ended sessions and used or expired links stay this long (who signed in, from where)
SEEN_PRECISION = timedelta(minutes=1)   # last_seen_at is written at most this often, not on every request
ADDRESS_LIMIT = 64


@dataclass(frozen=True)
class Opened:
    token: str        # goes in the cookie; only its hash is stored
    csrf: str
    expires_at: datetime


def _hash(secret: str) -> str:
    return staff_service.hash_token(secret)


def sign_in_with_token(session: Session, api_token: str, *, now: datetime, address: str | None) -> Opened | None:
    """The same check as the API's bearer token; None if it is wrong or its staff member inactive."""
    staff = staff_service.authenticate(session, api_token)
    if staff is None:
        return None
    return open_session(session, id_of(staff), now=now, address=address)


def open_session(session: Session, staff_id: int, *, now: datetime, address: str | None) -> Opened:
    staff = session.get(StaffMember, staff_id)
    if staff is None:
        raise NotFound(f"员工 {staff_id} 不存在")
    if not staff.active:
        raise Conflict("该员工账号已停用，不能登录控制台")
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires_at = now + SESSION_LIFETIME
    session.add(ConsoleSession(token_hash=_hash(token), staff_id=staff_id, csrf_token=csrf, created_at=now,
                               expires_at=expires_at, last_seen_at=now,
                               address=address[:ADDRESS_LIMIT] if address else None))
    session.flush()
    return Opened(token=token, csrf=csrf, expires_at=expires_at)


def _by_token(session: Session, token: str) -> ConsoleSession | None:
    return session.exec(select(ConsoleSession).where(col(ConsoleSession.token_hash) == _hash(token))).first()


def session_of(session: Session, token: str, *, now: datetime) -> tuple[StaffMember, str] | None:
    """The signed-in staff member and the session's CSRF token, or None when the session is unknown,
    ended, past its lifetime or idle limit, or its staff member is inactive. Marks the session used
    (at most once a SEEN_PRECISION, so reading pages does not write on every request)."""
    row = _by_token(session, token)
    if row is None or row.ended_at is not None or now >= row.expires_at or now >= row.last_seen_at + SESSION_IDLE:
        return None
    staff = session.get(StaffMember, row.staff_id)
    if staff is None or not staff.active:
        return None
    if now - row.last_seen_at >= SEEN_PRECISION:
        row.last_seen_at = now
        session.add(row)
    return staff, row.csrf_token


def sign_out(session: Session, token: str, *, now: datetime) -> None:
    """Ends the session; an unknown or already ended one is left as it is."""
    row = _by_token(session, token)
    if row is not None and row.ended_at is None:
        row.ended_at = now
        session.add(row)


def reset_token(session: Session, staff_id: int, *, caller: StaffMember, now: datetime,
                keep_session: str | None = None) -> tuple[StaffMember, str]:
    """A new API token for the member (`staff.rotate_token_of`'s rules) and the end of every console session
    they have open: one may have been opened with the old token. `keep_session` (the caller's own cookie
    token) stays open, so an admin resetting their own token is not signed out by it."""
    member, token = staff_service.rotate_token_of(session, staff_id, caller=caller)
    ending = update(ConsoleSession).where(col(ConsoleSession.staff_id) == staff_id,
                                          col(ConsoleSession.ended_at).is_(None))
    if keep_session is not None:
        ending = ending.where(col(ConsoleSession.token_hash) != _hash(keep_session))
    session.execute(ending.values(ended_at=now))
    return member, token


def issue_link(session: Session, *, platform: str, chat_user_id: str, now: datetime) -> str | None:
    """A single-use sign-in code for the active staff member registered with this chat account, or None
    when it is no staff member's. Staff chat accounts are QQ numbers (notices reach staff on QQ), so an
    account of another platform with the same id gets nothing."""
    if platform != STAFF_PLATFORM or not chat_user_id:
        return None
    staff = session.exec(select(StaffMember).where(col(StaffMember.chat_user_id) == chat_user_id,
                                                   col(StaffMember.active)).order_by(col(StaffMember.id))).first()
    if staff is None:
        return None
    code = secrets.token_urlsafe(32)
    session.add(LoginLink(code_hash=_hash(code), staff_id=id_of(staff), platform=platform,
                          chat_user_id=chat_user_id, created_at=now, expires_at=now + LINK_LIFETIME))
    session.flush()
    return code


def redeem_link(session: Session, code: str, *, now: datetime, address: str | None) -> Opened:
    """Opens a session for the link's staff member. The link is claimed with a conditional update, so two
    simultaneous uses cannot both succeed; a refused link is left unused."""
    link = session.exec(select(LoginLink).where(col(LoginLink.code_hash) == _hash(code))).first()
    if link is None:
        raise NotFound("登录链接无效")
    if link.used_at is not None:
        raise Conflict("该登录链接已使用过（每个链接只能用一次），请在私聊中向机器人发送「登录」获取新链接")
    if now >= link.expires_at:
        raise Conflict("该登录链接已过期（有效期 10 分钟），请在私聊中向机器人发送「登录」获取新链接")
    staff = session.get(StaffMember, link.staff_id)
    if staff is None or not staff.active:
        raise Conflict("该员工账号已停用，不能登录控制台")
    claimed = session.exec(
        update(LoginLink)
        .where(col(LoginLink.id) == link.id, col(LoginLink.used_at).is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise Conflict("该登录链接已使用过（每个链接只能用一次），请在私聊中向机器人发送「登录」获取新链接")
    session.refresh(link)
    return open_session(session, link.staff_id, now=now, address=address)


def forget_old(session: Session, *, now: datetime) -> int:
    """Delete sessions and links over for more than KEPT_FOR (the scheduler runs this hourly); how many."""
    before = now - KEPT_FOR
    over = or_(col(ConsoleSession.ended_at) < before, col(ConsoleSession.expires_at) < before,
               col(ConsoleSession.last_seen_at) < before - SESSION_IDLE)
    sessions = session.exec(delete(ConsoleSession).where(over))
    links = session.exec(delete(LoginLink).where(col(LoginLink.expires_at) < before))
    return sessions.rowcount + links.rowcount

