"""Interest: who asked about which notice or product, and how retailers answered publicity posts."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlmodel import Session, col, select

from bot.models import ChatGroup, Interest, Product

FEEDBACK = {"want": "想订", "not_interested": "不感兴趣"}


def record_interest(session: Session, *, subject: str, subject_id: int, kind: str, platform: str,
                    chat_user_id: str, now: datetime, chat_group_id: int | None = None,
                    retailer_id: int | None = None, product_id: int | None = None) -> None:
    """Count a question or an answer; a retailer's later 想订/不感兴趣 replaces the earlier one."""
    if kind in FEEDBACK:
        for earlier in session.exec(select(Interest).where(
                col(Interest.subject) == subject, col(Interest.subject_id) == subject_id,
                col(Interest.platform) == platform, col(Interest.chat_user_id) == chat_user_id,
                col(Interest.kind).in_(list(FEEDBACK)))):
            session.delete(earlier)
    session.add(Interest(subject=subject, subject_id=subject_id, kind=kind, platform=platform,
                         chat_user_id=chat_user_id, chat_group_id=chat_group_id, retailer_id=retailer_id,
                         product_id=product_id, created_at=now))


def interest_counts(session: Session, *, subject: str, subject_id: int) -> list[dict]:
    """How many asked, want or are not interested, per group and product (distinct retailers for answers)."""
    rows = session.exec(
        select(Interest, ChatGroup, Product)
        .join(ChatGroup, col(ChatGroup.id) == Interest.chat_group_id, isouter=True)
        .join(Product, col(Product.id) == Interest.product_id, isouter=True)
        .where(col(Interest.subject) == subject, col(Interest.subject_id) == subject_id)).all()
    counts: Counter[tuple] = Counter()
    for interest, group, product in rows:
        counts[(group.group_id if group else None, group.name if group else None,
                product.name if product else None, interest.kind)] += 1
    return [{"group_id": group_id, "group_name": name, "product": product, "kind": kind, "count": count}
            for (group_id, name, product, kind), count in sorted(counts.items(), key=lambda item: str(item[0]))]
