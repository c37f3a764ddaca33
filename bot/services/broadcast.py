"""Broadcasts: one message to many groups, through the outbox, with a delivery record per group.

Supply notices, their corrections and withdrawals, and publicity posts all go
this way. A long text is split into parts at line breaks, so each part fits a
chat bubble; every part is an outbox row with a unique key, so publishing
twice (two instances, a retried sweep) never sends twice. How a delivery went
is read from its outbox rows: sent, pending, retrying, failed or cancelled.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlmodel import Session, col, or_, select

from bot.models import Broadcast, ChatGroup, Delivery, Lane, OutboxMessage, OutboxStatus, id_of
from bot.services import outbox
from bot.services.guard import mask_personal_data

PART_LIMIT = 1200  # characters per message: readable on a phone, far below QQ's cap


class Audience(Protocol):
    """What tells whether a broadcast reaches a group: its row, or intake's copy of it (`lookups.GroupRow`)."""

    @property
    def id(self) -> int | None: ...

    @property
    def district(self) -> str | None: ...


def target_groups(session: Session, districts: list[str], group_ids: list[int]) -> list[ChatGroup]:
    """Active groups named directly or by district; none named means every active group."""
    query = select(ChatGroup).where(ChatGroup.active).order_by(col(ChatGroup.id))
    if districts or group_ids:
        query = query.where(or_(col(ChatGroup.district).in_(districts), col(ChatGroup.id).in_(group_ids)))
    return list(session.exec(query))


def reaches(group: Audience, districts: list[str], group_ids: list[int]) -> bool:
    return not (districts or group_ids) or group.id in group_ids or group.district in districts


def reaches_privately(districts: list[str], group_ids: list[int], *, district: str | None,
                      groups: Sequence[Audience]) -> bool:
    """Whether a notice is meant for someone asking in private: untargeted, or for their district; when
    their district is unknown, for a group they post in (it is what they read there)."""
    if not (districts or group_ids):
        return True
    if district is not None:
        return district in districts
    return any(reaches(group, districts, group_ids) for group in groups)


def split(text: str, limit: int = PART_LIMIT) -> list[str]:
    """Parts of at most `limit` characters, cut at line breaks, numbered (1/3) when more than one."""
    parts, current, budget = [], "", limit - 8  # room for the (n/m) mark
    for line in text.split("\n"):
        while len(line) > budget:  # a single huge line is cut where it must be
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:budget])
            line = line[budget:]
        if current and len(current) + 1 + len(line) > budget:
            parts.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        parts.append(current)
    if len(parts) > 1:
        parts = [f"{part}\n（{number}/{len(parts)}）" for number, part in enumerate(parts, 1)]
    return parts


@dataclass(frozen=True)
class Preview:
    """A broadcast before it goes: the parts every target group will receive, exactly as posted."""

    parts: list[str]
    groups: list[ChatGroup]

    @property
    def fingerprint(self) -> str:
        """Names this text: a confirmation carries it, so what is sent is what was previewed."""
        return hashlib.sha256("\x00".join(self.parts).encode()).hexdigest()[:16]


def preview(session: Session, text: str, districts: list[str], group_ids: list[int],
            public_numbers: Collection[str]) -> Preview:
    """The parts as the sender posts them in a group: split, then masked by the personal-data guard."""
    return Preview([mask_personal_data(part, public_numbers) for part in split(text)] if text else [],
                   target_groups(session, districts, group_ids))


def send(session: Session, *, subject: str, subject_id: int, purpose: str, revision: int, text: str,
         groups: list[ChatGroup], now: datetime, image_url: str | None = None) -> Broadcast:
    """Record the broadcast and queue its parts for every group."""
    broadcast = Broadcast(subject=subject, subject_id=subject_id, purpose=purpose, revision=revision,
                          text=text, created_at=now)
    session.add(broadcast)
    session.flush()
    parts = split(text)
    deliveries = [Delivery(broadcast_id=id_of(broadcast), chat_group_id=id_of(group), parts=len(parts))
                  for group in groups]
    session.add_all(deliveries)
    session.flush()
    outbox.enqueue_many(session, [
        dict(platform=group.platform, bot_id=group.bot_id, target_kind="group", target_id=group.group_id,
             text=part, image_url=image_url if number == len(parts) - 1 else None, lane=Lane.BROADCAST,
             delivery_id=delivery.id, dedupe_key=f"bc:{subject}:{subject_id}:{purpose}:{revision}:{group.id}:{number}")
        for group, delivery in zip(groups, deliveries, strict=True) for number, part in enumerate(parts)], now=now)
    return broadcast


def cancel_unsent(session: Session, *, subject: str, subject_id: int) -> int:
    """Withdrawn before it went out: what is still waiting in the outbox is not sent."""
    deliveries = select(Delivery.id).join(Broadcast, col(Broadcast.id) == Delivery.broadcast_id).where(
        col(Broadcast.subject) == subject, col(Broadcast.subject_id) == subject_id)
    return outbox.cancel_pending(session, delivery_ids=deliveries)


def was_sent_anywhere(session: Session, *, subject: str, subject_id: int) -> bool:
    return session.exec(
        select(OutboxMessage.id)
        .join(Delivery, col(Delivery.id) == OutboxMessage.delivery_id)
        .join(Broadcast, col(Broadcast.id) == Delivery.broadcast_id)
        .where(col(Broadcast.subject) == subject, col(Broadcast.subject_id) == subject_id,
               col(OutboxMessage.status) == OutboxStatus.SENT).limit(1)
    ).first() is not None


@dataclass(frozen=True)
class DeliveryStatus:
    broadcast_id: int
    purpose: str
    revision: int
    chat_group_id: int
    group_id: str
    group_name: str | None
    status: str  # sent, pending, retrying, failed, cancelled
    parts: int
    parts_sent: int
    attempts: int
    last_error: str | None
    sent_at: datetime | None


def _status(rows: list[OutboxMessage]) -> str:
    states = {row.status for row in rows}
    if states == {OutboxStatus.SENT}:
        return "sent"
    if OutboxStatus.DEAD in states:
        return "failed"
    if OutboxStatus.CANCELLED in states:
        return "cancelled"
    return "retrying" if any(row.attempts for row in rows if row.status != OutboxStatus.SENT) else "pending"


def deliveries(session: Session, *, subject: str, subject_id: int) -> list[DeliveryStatus]:
    """Every group's delivery of every broadcast about one notice or launch."""
    found = session.exec(
        select(Broadcast, Delivery, ChatGroup)
        .join(Delivery, col(Delivery.broadcast_id) == Broadcast.id)
        .join(ChatGroup, col(ChatGroup.id) == Delivery.chat_group_id)
        .where(col(Broadcast.subject) == subject, col(Broadcast.subject_id) == subject_id)
        .order_by(col(Broadcast.id), col(Delivery.id))
    ).all()
    rows: dict[int | None, list[OutboxMessage]] = defaultdict(list)
    for row in session.exec(select(OutboxMessage).where(
            col(OutboxMessage.delivery_id).in_([delivery.id for _, delivery, _ in found]))):
        rows[row.delivery_id].append(row)
    result = []
    for broadcast, delivery, group in found:
        mine = rows[delivery.id]
        sent = [row for row in mine if row.status == OutboxStatus.SENT]
        errors = [row.last_error for row in mine if row.last_error]
        result.append(DeliveryStatus(
            broadcast_id=id_of(broadcast), purpose=broadcast.purpose, revision=broadcast.revision,
            chat_group_id=id_of(group), group_id=group.group_id, group_name=group.name, status=_status(mine),
            parts=delivery.parts, parts_sent=len(sent), attempts=sum(row.attempts for row in mine),
            last_error=errors[-1] if errors else None,
            sent_at=(max((row.sent_at for row in sent if row.sent_at), default=None)
                     if len(sent) == len(mine) else None)))
    return result


def broadcast_of_message(session: Session, chat_group_id: int, message_id: str) -> Broadcast | None:
    """The broadcast a quoted bot message belongs to (a retailer answering a publicity post)."""
    return session.exec(
        select(Broadcast)
        .join(Delivery, col(Delivery.broadcast_id) == Broadcast.id)
        .join(OutboxMessage, col(OutboxMessage.delivery_id) == Delivery.id)
        .where(col(Delivery.chat_group_id) == chat_group_id, col(OutboxMessage.sent_message_id) == message_id)
    ).first()
