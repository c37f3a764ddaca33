"""The outbox: proactive messages are stored first, then delivered by one sender.

Rows are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL (a no-op on
SQLite, whose single writer serialises claims anyway) and a conditional
update, so two service instances never send the same row. A claim that is
never finished (the process died mid-send) is taken up again after a lease.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from bot.models import OutboxMessage, OutboxStatus

CLAIM_LEASE = timedelta(minutes=2)


def enqueue(session: Session, *, now: datetime, platform: str, target_kind: str, target_id: str,
            text: str, lane: int, kind: str | None = None, pledge_id: int | None = None,
            mention_user_id: str | None = None, bot_id: str | None = None, reply_to: str | None = None,
            ticket_id: int | None = None, dedupe_key: str | None = None,
            via_group_id: str | None = None) -> OutboxMessage | None:
    """`via_group_id`: a private message to someone met in that group (QQ's temporary chat, no friendship needed)."""
    if dedupe_key and session.exec(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)).first():
        return None
    message = OutboxMessage(platform=platform, bot_id=bot_id, target_kind=target_kind,
                            target_id=target_id, text=text, reply_to=reply_to, lane=lane, kind=kind,
                            pledge_id=pledge_id, mention_user_id=mention_user_id,
                            ticket_id=ticket_id, dedupe_key=dedupe_key, via_group_id=via_group_id,
                            next_attempt_at=now, created_at=now)
    session.add(message)
    session.flush()
    return message


def enqueue_many(session: Session, rows: list[dict], *, now: datetime) -> None:
    keys = [row["dedupe_key"] for row in rows if row.get("dedupe_key")]
    present = set(session.exec(select(OutboxMessage.dedupe_key).where(col(OutboxMessage.dedupe_key).in_(keys))))
    for row in rows:
        if row.get("dedupe_key") not in present:
            session.add(OutboxMessage(**row, next_attempt_at=now, created_at=now))
    session.flush()


def claim_due(session: Session, *, now: datetime, platforms: list[str], worker: str,
              limit: int = 20) -> list[OutboxMessage]:
    if not platforms:
        return []
    due = or_(
        and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == OutboxStatus.SENDING,
             col(OutboxMessage.claimed_at) < now - CLAIM_LEASE),
    )
    candidates = session.exec(
        select(OutboxMessage)
        .where(due, col(OutboxMessage.platform).in_(platforms))
        .order_by(col(OutboxMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = []
    for message in candidates:
        taken = session.exec(  # type: ignore[call-overload]
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == message.id, due)
            .values(status=OutboxStatus.SENDING, claimed_by=worker, claimed_at=now)
        )
        if taken.rowcount == 1:
            session.refresh(message)
            claimed.append(message)
    return claimed


def mark_sent(session: Session, message_id: int, *, now: datetime, sent_message_id: str | None
              ) -> None:
    message = session.get(OutboxMessage, message_id)
    message.status, message.sent_at = OutboxStatus.SENT, now
    message.sent_message_id = sent_message_id
    message.attempts += 1
    session.add(message)


def mark_failed(session: Session, message_id: int, *, now: datetime, error: str,
                max_attempts: int) -> OutboxMessage:
    """Back off exponentially; after `max_attempts` the row is a dead letter."""
    message = session.get(OutboxMessage, message_id)
    message.attempts += 1
    message.last_error = error[:2000]
    if message.attempts >= max_attempts:
        message.status = OutboxStatus.DEAD
    else:
        message.status = OutboxStatus.PENDING
        message.next_attempt_at = now + timedelta(seconds=min(600, 5 * 2 ** (message.attempts - 1)))
    message.claimed_by = message.claimed_at = None
    session.add(message)
    return message


def release(session: Session, message_id: int) -> None:
    """Give a claim back untouched (no bot could take it), costing no attempt."""
    message = session.get(OutboxMessage, message_id)
    message.status, message.claimed_by, message.claimed_at = OutboxStatus.PENDING, None, None
    session.add(message)


def list_messages(session: Session, *, status: str | None, offset: int, limit: int
                  ) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(col(OutboxMessage.id).desc()).offset(offset).limit(limit)
    if status:
        query = query.where(OutboxMessage.status == status)
    return list(session.exec(query))
