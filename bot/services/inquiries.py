"""Retailers asking about supply and new products, answered from the data for that retailer.

本周货源 gets the live notice in brief; 我能订多少 / 中华能订几条 the asker's own quotas
from their grade, by private message (a grade is the retailer's own data),
or in the group when they ask for it there and policy allows; 订货截止 the
ordering window; 新品 the recent launches; <新品> 怎么样 its card; 想订 /
不感兴趣 (quoting a publicity post or naming the product) is counted.
Every question asked is counted as interest for staff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, or_, select

from bot import texts
from bot.models import ChatGroup, Interest, Lane, Product, Retailer, Ticket, id_of
from bot.policy import Policies
from bot.services import broadcast, interest, launches, lookups, outbox, products, supply


class Ask(StrEnum):
    SUMMARY = "summary"
    QUOTA = "quota"
    WINDOW = "window"
    LAUNCHES = "launches"
    PRODUCT = "product"
    FEEDBACK = "feedback"


_CUES = re.compile(r"货源|有什么货|有啥货|限量|订多少|订几条|要几条|拿几条|能订|可以订|截止|订货时间|什么时候订|"
                   r"新品|新烟|想订|想要|不感兴趣|不需要|怎么样|介绍")
_QUOTA = re.compile(r"(?:能|可以|可)(?:订|要|拿|进)(?:多少|几条|几件)|我的限量|限量(?:是)?(?:多少|几条)|"
                    r"(?:订|要|拿)几条|给我(?:多少|几条)")
_WINDOW = re.compile(r"订货截止|截止订货|几号截止|什么时候截止|订货时间|什么时候(?:能|可以)?订|几号(?:能|可以)?订")
# how quotas work, or how much one should order (刚开店 每周订几条合适): the knowledge base answers
_WHY = re.compile(r"为什么|为啥|怎么定|咋定|怎么算|怎么分|凭什么|合适|(?:订|进)(?:多少|几条)(?:好|比较好)")
_SUMMARY = re.compile(r"^(?:本周|这周|这星期|本期|这期|这次|最近)?(?:的)?"
                      r"(?:货源|货源信息|货源通知)(?:是什么|有哪些|呢)?$|"
                      r"(?:本周|这周|本期|这期|这次)(?:的)?货源|有什么货|有啥货|(?:有|来了)(?:什么|啥)烟")
_LAUNCHES = re.compile(r"^(?:最近)?(?:的)?(?:新品|新烟)(?:有哪些|有什么|呢)?$|"
                       r"有(?:什么|啥|哪些)新(?:品|烟)|新品有(?:哪些|什么)")
_ABOUT = re.compile(r"怎么样|咋样|如何|介绍")
_FEEDBACK = {"want": re.compile(r"^(?:我)?(?:想订|想要|要订|有意向|要)"),
             "not_interested": re.compile(r"^(?:我)?(?:不感兴趣|不需要|不要|没兴趣|不订)")}
_IN_GROUP = re.compile(r"群里(?:回|说|发)|在群里|直接回")
_PUNCTUATION = re.compile(r"[\s\W_]+", re.UNICODE)


def might_be(text: str, *, quoting: bool) -> bool:
    """A cheap first look, so the intake path does no more for ordinary chat."""
    return len(text) <= 120 and (quoting or _CUES.search(text) is not None)


def classify(text: str, quoted_broadcast: bool = False) -> Ask | None:
    """Which supply or launch question this is, if any; cheap for all other chat."""
    compact = _PUNCTUATION.sub("", text)
    if not compact or len(compact) > 40:
        return None
    if quoted_broadcast and any(pattern.match(compact) for pattern in _FEEDBACK.values()):
        return Ask.FEEDBACK
    if not _CUES.search(compact):
        return None
    if _WHY.search(compact):
        return None
    if _QUOTA.search(compact):
        return Ask.QUOTA
    if _WINDOW.search(compact):
        return Ask.WINDOW
    if _SUMMARY.search(compact):
        return Ask.SUMMARY
    if _LAUNCHES.search(compact):
        return Ask.LAUNCHES
    if any(pattern.match(compact) for pattern in _FEEDBACK.values()):
        return Ask.FEEDBACK  # names a product, checked against the launches below
    if _ABOUT.search(compact):
        return Ask.PRODUCT
    return None


# What each question is, in staff's words (a ticket's trail), and the column it belongs to. Feedback
# (想订, 不感兴趣) is counted as interest, not logged as a request.
ASK_WORDS = {Ask.SUMMARY: "本周货源", Ask.QUOTA: "订货限量", Ask.WINDOW: "订货时间", Ask.LAUNCHES: "近期新品",
             Ask.PRODUCT: "新品介绍"}
LAUNCH_ASKS = frozenset({Ask.LAUNCHES, Ask.PRODUCT, Ask.FEEDBACK})


@dataclass(frozen=True)
class Answer:
    ask: Ask
    text: str  # said where the question was asked; a private quota goes through the outbox
    told_privately: bool = False  # `text` only says the answer went privately (several are said as one)

    @property
    def is_request(self) -> bool:
        """A question the retailer asked (logged as a ticket the bot answered), not feedback on a launch."""
        return self.ask in ASK_WORDS


class AskedIn(broadcast.Audience, Protocol):
    """The group a question was asked in: its row, or intake's copy of it (`lookups.GroupRow`, no statement)."""

    @property
    def bot_id(self) -> str | None: ...

    @property
    def group_id(self) -> str: ...


@dataclass(frozen=True)
class Asker:
    platform: str
    user_id: str
    group: AskedIn | None  # None in private chat
    reply_to: str | None = None


def _retailer(session: Session, asker: Asker) -> Retailer | None:
    retailer_id = lookups.retailer_id(session, asker.platform, asker.user_id)
    return session.get(Retailer, retailer_id) if retailer_id else None


def _groups_posted_in(session: Session, asker: Asker, retailer: Retailer | None) -> list[ChatGroup]:
    """Active groups the asker has posted in: their tickets (or their retailer's) and supply questions.

    Read from what is stored anyway, so the group path writes nothing more per message; an account
    that has only chatted (greetings are not stored) is not found, and gets the untargeted notices.
    """
    by_ticket = select(Ticket.chat_group_id).where(
        or_(col(Ticket.sender_user_id) == asker.user_id, col(Ticket.retailer_id) == retailer.id) if retailer
        else col(Ticket.sender_user_id) == asker.user_id)
    by_question = select(Interest.chat_group_id).where(
        col(Interest.platform) == asker.platform, col(Interest.chat_user_id) == asker.user_id,
        col(Interest.chat_group_id).is_not(None))
    return list(session.exec(select(ChatGroup).where(
        ChatGroup.active, col(ChatGroup.platform) == asker.platform,
        or_(col(ChatGroup.id).in_(by_ticket), col(ChatGroup.id).in_(by_question)))))


def answer(session: Session, asker: Asker, text: str, *, now: datetime, tz: ZoneInfo, policies: Policies
           ) -> Answer | None:
    """The answer to a supply or launch question, or None when the text is not one."""
    group_pk = asker.group.id if asker.group is not None else None
    quoted = (broadcast.broadcast_of_message(session, group_pk, asker.reply_to)
              if group_pk is not None and asker.reply_to else None)
    ask = classify(text, quoted_broadcast=quoted is not None and quoted.subject == launches.SUBJECT)
    if ask is None:
        return None
    retailer = _retailer(session, asker)
    today = now.astimezone(tz).date()
    district = retailer.district if retailer else None
    asker_groups = (_groups_posted_in(session, asker, retailer) if asker.group is None and district is None
                    else [])

    def count(subject: str, subject_id: int, kind: str = "asked", product_id: int | None = None) -> None:
        interest.record_interest(
            session, subject=subject, subject_id=subject_id, kind=kind, platform=asker.platform,
            chat_user_id=asker.user_id, chat_group_id=group_pk,
            retailer_id=retailer.id if retailer else None, product_id=product_id, now=now)

    if ask in (Ask.LAUNCHES, Ask.PRODUCT, Ask.FEEDBACK):
        found = launches.current_launches(session, group=asker.group, district=district, today=today,
                                           asker_groups=asker_groups)
        if ask == Ask.LAUNCHES:
            for launch, _ in found:
                count(launches.SUBJECT, id_of(launch))
            return Answer(ask, text=texts.launches_list(found))
        if ask == Ask.FEEDBACK and quoted is not None:
            matches = [(launch, product) for launch, product in found if launch.id == quoted.subject_id]
        else:
            by_product = {product.id: (launch, product) for launch, product in found}
            matches = [by_product[product.id] for product in
                     products.find_products(text, [product for _, product in found])]
        if not matches:
            return None  # not about a launch after all: intake decides as for any message
        launch, product = matches[0]
        if ask == Ask.PRODUCT:
            count(launches.SUBJECT, id_of(launch), product_id=id_of(product))
            return Answer(ask, text=texts.launch_card(launch, product))
        kind = next(kind for kind, pattern in _FEEDBACK.items() if pattern.match(_PUNCTUATION.sub("", text)))
        count(launches.SUBJECT, id_of(launch), kind, id_of(product))
        return Answer(ask, text=texts.FEEDBACK_NOTED.format(product=product.name,
                                                                  choice=interest.FEEDBACK[kind]))

    notice = supply.current_notice(session, group=asker.group, district=district, today=today,
                                   asker_groups=asker_groups)
    if notice is None:
        return Answer(ask, text=texts.NO_SUPPLY_NOTICE)
    items = supply.items_of(session, id_of(notice))
    if ask == Ask.SUMMARY:
        count(supply.SUBJECT, id_of(notice))
        return Answer(ask, text=texts.supply_brief(notice, items, tz))
    if ask == Ask.WINDOW:
        count(supply.SUBJECT, id_of(notice))
        return Answer(ask, text=texts.supply_window(notice, tz, now))
    named = products.find_products(text, [product for _, product in items])
    asked_about: list[Product | None] = [*named] or [None]
    for named_product in asked_about:
        count(supply.SUBJECT, id_of(notice), product_id=id_of(named_product) if named_product else None)
    if retailer is None:
        return Answer(ask, text=texts.QUOTA_NEEDS_BINDING)
    reply = supply.quota_reply(notice, items, retailer.grade, named, tz)
    if asker.group is None or (policies.quota_in_group and _IN_GROUP.search(text)):
        return Answer(ask, text=reply)
    outbox.enqueue(session, now=now, platform=asker.platform, target_kind="private", target_id=asker.user_id,
                   text=reply, lane=Lane.REPLY, bot_id=asker.group.bot_id, via_group_id=asker.group.group_id)
    return Answer(ask, text=texts.QUOTA_SENT_PRIVATELY, told_privately=True)
