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

from sqlmodel import Session, col, select

from bot.models import Role, StaffMember

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
