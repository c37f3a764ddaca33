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
from bot.services.errors import Conflict, NotFound

FIRST_ADMIN_NAME = "管理员"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def authenticate(session: Session, token: str) -> StaffMember | None:
    digest = hash_token(token)
    staff = session.exec(select(StaffMember).where(StaffMember.token_hash == digest)).first()
    if staff is None or not staff.active or not hmac.compare_digest(staff.token_hash, digest):
        return None
    return staff


def ensure_first_admin(session: Session, token: str, *, now: datetime) -> StaffMember | None:
    """Make ADMIN_TOKEN the credential of the first admin (created if missing)."""
    if not token:
        return None
    digest = hash_token(token)
    admin = session.exec(select(StaffMember).where(StaffMember.token_hash == digest)).first()
    if admin is None:
        admin = session.exec(
            select(StaffMember).where(StaffMember.name == FIRST_ADMIN_NAME).order_by(col(StaffMember.id))
        ).first() or StaffMember(name=FIRST_ADMIN_NAME, roles=[Role.ADMIN], created_at=now)
        admin.token_hash = digest
    if Role.ADMIN not in admin.roles:
        admin.roles = [*admin.roles, Role.ADMIN]
    admin.active = True
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
    return staff


def update_staff(session: Session, staff_id: int, changes: dict[str, Any]) -> StaffMember:
    staff = session.get(StaffMember, staff_id)
    if staff is None:
        raise NotFound(f"员工 {staff_id} 不存在")
    if changes.get("chat_user_id") not in (None, staff.chat_user_id):
        _check_chat_account_free(session, changes["chat_user_id"])
    for field, value in changes.items():
        setattr(staff, field, value)
    session.add(staff)
    return staff


def _check_chat_account_free(session: Session, chat_user_id: str | None) -> None:
    if chat_user_id and session.exec(
        select(StaffMember.id).where(StaffMember.chat_user_id == chat_user_id)
    ).first():
        raise Conflict(f"聊天账号 {chat_user_id} 已属于另一位员工")
