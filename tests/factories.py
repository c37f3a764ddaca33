"""Small builders for test data, written through the same services as production."""

from __future__ import annotations

from datetime import date, datetime
from itertools import count
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.clock import ManualClock
from bot.config import Settings
from bot.models import ChatBinding, ChatGroup, Retailer, Role, StaffMember, SupplyNotice
from bot.policy import Policies
from bot.services import directory, intake, supply
from bot.services import staff as staff_service
from bot.services.supply import ItemIn

_ids = count(1)


def group(session: Session, clock: ManualClock, group_id: str = "900001", **extra) -> ChatGroup:
    created = directory.create_group(session, {"group_id": group_id, "name": "测试群", **extra},
                                     now=clock.now())
    session.commit()
    return created


def staff(session: Session, clock: ManualClock, *roles: Role, chat_user_id: str | None = None,
          name: str = "张客服") -> StaffMember:
    member = staff_service.create_staff(session, {"name": name, "roles": list(roles or [Role.AGENT]),
                                              "chat_user_id": chat_user_id}, now=clock.now())
    session.commit()
    return member


def retailer(session: Session, clock: ManualClock, license_no: str | None = None,
             phone: str = "13912345678", **extra) -> Retailer:
    number = license_no or f"4301021{next(_ids):05d}"
    created = directory.create_retailer(
        session, {"license_no": number, "store_name": f"便民店{number[-3:]}", "phone": phone,
                  "grade": 12, **extra}, now=clock.now())
    session.commit()
    return created


def bound_shop(session: Session, clock: ManualClock, manager_id: int | None) -> Retailer:
    """The manager's shop, bound to the QQ account 10001 that `post` writes as, in the registered group."""
    shop = retailer(session, clock, license_no="430102100001", phone="13912345678", address="芙蓉路1号",
                    manager_id=manager_id)
    session.add(ChatBinding(platform="qq", chat_user_id="10001", retailer_id=shop.id, bound_at=clock.now()))
    group(session, clock)
    session.commit()
    return shop


def post(session: Session, clock: ManualClock, settings: Settings, text: str, *,
         policies: Policies | None = None, knowledge=None,
         user_id: str = "10001", message_id: str | None = None, group_id: str = "900001",
         reply_to: str | None = None, self_id: str = "20000") -> intake.Outcome:
    """A group message handled and committed, as the intake plugin does."""
    message = intake.GroupMessage(platform="qq", group_id=group_id, user_id=user_id, text=text,
                                   message_id=message_id or str(next(_ids) + 500_000),
                                   sender_name="老王", reply_to=reply_to, self_id=self_id)
    outcome = intake.handle_group_message(session, message, now=clock.now(), settings=settings,
                                           policies=policies or Policies(), knowledge=knowledge)
    session.commit()
    return outcome


def supply_notice(session: Session, clock: ManualClock, tz: ZoneInfo, items: list[ItemIn], **extra) -> SupplyNotice:
    """A draft notice for the week of 23 November 2026, ordering on Monday and Tuesday."""
    data = {"title": "第48周货源", "period_start": date(2026, 11, 23), "period_end": date(2026, 11, 29),
            "order_opens_at": datetime(2026, 11, 23, 8, 30, tzinfo=tz),
            "order_closes_at": datetime(2026, 11, 24, 17, 0, tzinfo=tz)} | extra
    notice = supply.create_notice(session, data, items, staff_id=None, now=clock.now())
    session.commit()
    return notice


def sent(session: Session, ticket_id: int, message_id: str, clock: ManualClock) -> None:
    """The outbox delivered the ticket's latest message (an acknowledgement, an answer) as `message_id`."""
    from sqlmodel import col, select

    from bot.models import OutboxMessage
    from bot.services import outbox

    row = session.exec(select(OutboxMessage).where(OutboxMessage.ticket_id == ticket_id)
                       .order_by(col(OutboxMessage.id).desc())).first()
    outbox.mark_sent(session, [row.id], now=clock.now(), sent_message_id=message_id)
    session.commit()
