"""Staff members and their API tokens.

Tokens are random 32-byte secrets shown once; the store keeps only their
SHA-256, which is enough for a secret of that entropy and lets a request be
matched by an index lookup instead of trying every hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.models import Role, StaffMember
from bot.services import lookups
from bot.services.errors import Conflict, NotFound, ServiceError

FIRST_ADMIN_NAME = "管理员"
NAME_LIMIT = 64
NO_ADMIN_WARNING = (
    "没有可用的管理员：请设置 ADMIN_TOKEN 后重启，或运行 `python -m bot create-admin --name 名字` "
    "生成管理员令牌。 / No active admin: set ADMIN_TOKEN and restart, or run "
    "`python -m bot create-admin [--name NAME]` to create one and print its token."
)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def authenticate(session: Session, token: str) -> StaffMember | None:
    digest = hash_token(token)
    staff = session.exec(select(StaffMember).where(col(StaffMember.token_hash) == digest)).first()
    if staff is None or not staff.active or staff.token_hash is None \
            or not hmac.compare_digest(staff.token_hash, digest):
        return None
    return staff


def ensure_first_admin(session: Session, token: str, *, now: datetime) -> StaffMember | None:
    """Make ADMIN_TOKEN the credential of the first admin (created if missing)."""
    if not token:
        return None
    digest = hash_token(token)
    admin = session.exec(select(StaffMember).where(col(StaffMember.token_hash) == digest)).first()
    if admin is None:
        admin = session.exec(
            select(StaffMember).where(col(StaffMember.name) == FIRST_ADMIN_NAME).order_by(col(StaffMember.id))
        ).first() or StaffMember(name=FIRST_ADMIN_NAME, roles=[Role.ADMIN], created_at=now)
        admin.token_hash = digest
    if Role.ADMIN not in admin.roles:
        admin.roles = [*admin.roles, Role.ADMIN]
    _activate(session, admin)
    session.add(admin)
    session.flush()
    return admin


def issue_token(session: Session, staff: StaffMember) -> str:
    token = new_token()
    staff.token_hash = hash_token(token)
    session.add(staff)
    return token


def create_staff(session: Session, data: dict[str, Any], *, now: datetime) -> StaffMember:
    _check_chat_account_free(session, data.get("chat_user_id"))
    staff = StaffMember(**data, created_at=now)
    session.add(staff)
    session.flush()
    if staff.chat_user_id:
        lookups.changed(session, lookups.STAFF)
    return staff


def create_with_token(session: Session, data: dict[str, Any], *, now: datetime) -> tuple[StaffMember, str]:
    """A new member and their token, to be shown once (only its hash is kept)."""
    member = create_staff(session, data, now=now)
    return member, issue_token(session, member)


def update_staff(session: Session, staff_id: int, changes: dict[str, Any]) -> StaffMember:
    staff = session.get(StaffMember, staff_id)
    if staff is None:
        raise NotFound(f"员工 {staff_id} 不存在")
    check_admin_remains(session, staff, changes)
    if changes.get("chat_user_id") not in (None, staff.chat_user_id):
        _check_chat_account_free(session, changes["chat_user_id"])
    for field, value in changes.items():
        setattr(staff, field, value)
    session.add(staff)
    if changes.keys() & {"chat_user_id", "active"}:
        lookups.changed(session, lookups.STAFF)
    return staff


def _activate(session: Session, member: StaffMember) -> None:
    if not member.active and member.chat_user_id:  # intake takes their chat account for staff again
        lookups.changed(session, lookups.STAFF)
    member.active = True


def _check_chat_account_free(session: Session, chat_user_id: str | None) -> None:
    if chat_user_id and session.exec(
        select(StaffMember.id).where(col(StaffMember.chat_user_id) == chat_user_id)
    ).first():
        raise Conflict(f"聊天账号 {chat_user_id} 已属于另一位员工")


def _active_admins(session: Session) -> list[StaffMember]:
    """Active admins, their rows locked so two requests cannot each remove "the other" admin."""
    rows = session.exec(select(StaffMember).where(StaffMember.active).with_for_update()
                        .order_by(col(StaffMember.id))).all()
    return [row for row in rows if Role.ADMIN in row.roles]


def able_to_take(session: Session, roles: list[str]) -> dict[str, list[StaffMember]]:
    """The active staff who hold each role, by name: whom a supervisor may give a pledge of that role."""
    rows = session.exec(select(StaffMember).where(StaffMember.active).order_by(col(StaffMember.name))).all()
    return {role: [row for row in rows if role in row.roles] for role in roles}


def has_active_admin(session: Session) -> bool:
    return bool(_active_admins(session))


def create_admin(session: Session, name: str = FIRST_ADMIN_NAME, *, now: datetime) -> tuple[StaffMember, str]:
    """An admin of that name with a fresh token (made, or re-issued and re-activated if the name exists):
    the way back in when no admin can sign in."""
    name = name.strip()
    if not name or len(name) > NAME_LIMIT:
        raise ServiceError(f"名字须为 1-{NAME_LIMIT} 个字符")
    admin = session.exec(select(StaffMember).where(col(StaffMember.name) == name)
                         .order_by(col(StaffMember.id))).first()
    if admin is None:
        admin = StaffMember(name=name, roles=[Role.ADMIN], created_at=now)
    elif Role.ADMIN not in admin.roles:
        admin.roles = [*admin.roles, Role.ADMIN]
    _activate(session, admin)
    token = issue_token(session, admin)
    session.flush()
    return admin, token


def check_admin_remains(session: Session, member: StaffMember, changes: dict) -> None:
    """Refuse a change that would leave no active admin (deactivating or demoting the last one)."""
    active = member.active if changes.get("active") is None else changes["active"]
    stays_admin = active and Role.ADMIN in (changes.get("roles") or member.roles)
    if stays_admin or [admin.id for admin in _active_admins(session)] != [member.id]:
        return
    raise Conflict(f"{member.name} 是唯一在用的管理员：停用或取消其管理员角色后将无人能管理，请先指定另一位管理员")


def rotate_token(session: Session, member: StaffMember, *, caller: StaffMember) -> str:
    """A new token for the member. The only active admin may not rotate their own through the API:
    a lost answer would leave nobody able to sign in (`python -m bot create-admin` re-issues it)."""
    if member.id == caller.id and [admin.id for admin in _active_admins(session)] == [member.id]:
        raise Conflict("你是唯一在用的管理员，不能通过接口更换自己的令牌（回复丢失将无人能登录）："
                       "请先创建另一位管理员，或在服务器上运行 python -m bot create-admin 重新签发")
    return issue_token(session, member)


def rotate_token_of(session: Session, staff_id: int, *, caller: StaffMember) -> tuple[StaffMember, str]:
    """`rotate_token` for the member with this id (not found: NotFound)."""
    member = session.get(StaffMember, staff_id)
    if member is None:
        raise NotFound(f"员工 {staff_id} 不存在")
    return member, rotate_token(session, member, caller=caller)
