"""A ticket's whole story, oldest first, as a staff member may read it: the retailer's messages,
replies, the bot's messages, internal notes, visits, callbacks and the pledges' events.

Read only. What the member may see and how much of the retailer's data is `access`'s rule; every
text is shown in the member's view of the ticket (masked for the service view).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot import texts
from bot.models import (
    AuthorKind,
    CallbackRecord,
    OutboxMessage,
    OutboxStatus,
    Pledge,
    Retailer,
    StaffMember,
    VisitRecord,
)
from bot.services import access, tickets

# What each event of the trail says to staff; events with their own entry (a reply, a note, a visit,
# a callback) are not repeated.
_EVENT_WORDS = {
    "opened": "建单", "claimed": "接单", "pledge_started": "承诺开始计时", "pledge_met": "承诺已兑现",
    "pledge_cancelled": "承诺取消", "pledge_not_applicable": "承诺不适用", "pledge_restarted": "重新计时",
    "pledge_paused": "暂停计时", "pledge_resumed": "恢复计时", "pledge_reassigned": "改派",
    "visit_needed": "需要上门", "callback_unreachable": "回访未接通", "pledge_warned": "即将超时提醒",
    "pledge_breached": "已超时", "pledge_escalated": "升级通知", "reopened": "重新打开", "closed": "关闭",
    "answered_from_knowledge": "机器人按知识库自动答复",
    "first_aid_from_knowledge": "机器人附上知识库答复供先行参考（仍需人工处理）",
    "answered_from_data": "机器人按货源、新品信息自动答复", "wording_added": "加入知识库问法",
    "retailer_identified": "已确认店铺", "merged": "合并重复工单", "knowledge_entry_created": "新建知识条目",
    "category_changed": "改类别", "not_a_request": "标为不是诉求（不计入诉求统计）",
    "ticketed_by_staff": "机器人没建单，工作人员补建",
    "message_added": None, "replied": None, "note": None, "visited": None, "callback_recorded": None,
}
PLEDGE_WORDS = {"reply": "回复", "visit": "上门", "callback": "回访"}
# The reasons the services record as codes, in words; a reason written in Chinese is shown as it is.
_REASON_WORDS = {
    "handover": "客户要求转人工", "not solved": "客户说问题没解决", "staff": "工作人员操作",
    "small_talk": "机器人当作闲聊", "not_a_request": "机器人认为没提诉求",
    "low satisfaction": "回访评分低", "callback satisfied": "回访满意",
    "callback not applicable": "无法回访，承诺已办结", "retailer moved": "客户换了客户经理",
}


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # retailer, reply, bot, note, visit, callback, event
    who: str
    text: str


@dataclass(frozen=True)
class TicketPage:
    ticket: dict[str, Any]
    retailer: Retailer | None
    view: access.View
    pledges: list[Pledge]
    owners: dict[int, str]  # staff id -> name, for the pledges' owners
    entries: list[Entry]
    merged_into: int | None = None  # a closed duplicate: the ticket it went into


def _names(session: Session, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.exec(select(StaffMember.id, StaffMember.name).where(col(StaffMember.id).in_(ids)))
    return {staff_id: name for staff_id, name in rows if staff_id is not None}


def _event_text(action: str, detail: dict[str, Any], names: dict[int, str]) -> str | None:
    words = _EVENT_WORDS.get(action, "其他操作")
    if words is None:
        return None
    kind = PLEDGE_WORDS.get(detail.get("kind", ""), "")
    extra = []
    if kind:
        extra.append(f"{kind}承诺")
    for key in ("owner_staff_id", "to_staff_id"):
        if detail.get(key):
            extra.append(f"给 {names.get(detail[key], '#' + str(detail[key]))}")
    if detail.get("to"):
        was, to = (texts.CATEGORY_LABELS.get(detail[key], detail[key]) for key in ("was", "to"))
        extra.append(f"{was} → {to}")
    if detail.get("source_ticket_id"):
        moved = len(detail.get("message_ids") or [])
        extra.append(f"工单 #{detail['source_ticket_id']} 并入本单，移入 {moved} 条消息")
    for key in ("entry", "reason", "note", "level"):
        value = detail.get(key)
        if value:
            words_of = f"级别 {value}" if key == "level" else _REASON_WORDS.get(value, value) if key == "reason" \
                else value
            extra.append(str(words_of))
    return f"{words}（{'，'.join(extra)}）" if extra else words


def _call_answers(call: CallbackRecord) -> list[str]:
    """The retailer's confirmations and satisfaction items, in words."""
    answers = []
    for label, confirmed in (("回复及时", call.reply_in_time), ("确已上门", call.visit_happened)):
        if confirmed is not None:
            answers.append(f"{label}：{'是' if confirmed else '否'}")
    for field, label in texts.SATISFACTION_ITEMS.items():
        value = getattr(call, field)
        if value:
            answers.append(f"{label}：{texts.SATISFACTION_NAMES.get(value, value)}")
    return answers


def ticket_page(session: Session, staff: StaffMember, ticket_id: int, *,
                public_numbers: Collection[str]) -> TicketPage:
    """Not found when the member may not see the ticket, as in the API."""
    detail, retailer, view = access.ticket_detail(session, staff, ticket_id, public_numbers=public_numbers)

    def shown(text: str | None) -> str:
        return access.shown_text(text, view, public_numbers) or ""

    visits = list(session.exec(select(VisitRecord).where(VisitRecord.ticket_id == ticket_id)))
    calls = list(session.exec(select(CallbackRecord).where(CallbackRecord.ticket_id == ticket_id)))
    sent = list(session.exec(select(OutboxMessage).where(
        OutboxMessage.ticket_id == ticket_id, col(OutboxMessage.target_kind) == "group",
        col(OutboxMessage.status).in_([OutboxStatus.SENT, OutboxStatus.PENDING, OutboxStatus.SENDING]))))
    pledges: list[Pledge] = detail["pledges"]
    staff_ids = {int(m["author_id"]) for m in detail["messages"]
                 if m["author_kind"] == AuthorKind.STAFF and str(m["author_id"]).isdigit()}
    staff_ids |= {int(e["actor_id"]) for e in detail["events"]
                  if e["actor_kind"] == AuthorKind.STAFF and str(e["actor_id"]).isdigit()}
    staff_ids |= {v.staff_id for v in visits} | {c.staff_id for c in calls}
    staff_ids |= {p.owner_staff_id for p in pledges if p.owner_staff_id}
    staff_ids |= {e["detail"][key] for e in detail["events"] for key in ("owner_staff_id", "to_staff_id")
                  if isinstance(e["detail"].get(key), int)}
    names = _names(session, staff_ids)
    sender = retailer.store_name if retailer else (detail["sender_name"] or detail["sender_user_id"])

    entries: list[Entry] = []
    for message in detail["messages"]:
        if message["author_kind"] == AuthorKind.STAFF:
            who = names.get(int(message["author_id"]), "客服") if str(message["author_id"]).isdigit() else "客服"
            entries.append(Entry(message["created_at"], "reply", who, message["text"]))
        else:
            entries.append(Entry(message["created_at"], "retailer", sender, message["text"]))
    for row in sent:
        if row.text.startswith(texts.agent_reply(ticket_id, "")):
            continue  # a reply's delivery: the reply is its own entry already
        entries.append(Entry(row.created_at, "bot", "机器人", shown(row.text)))
    for event in detail["events"]:
        who = (names.get(int(event["actor_id"]), "工作人员") if event["actor_kind"] == AuthorKind.STAFF
               and str(event["actor_id"]).isdigit() else "系统" if event["actor_kind"] == AuthorKind.SYSTEM
               else "机器人" if event["actor_kind"] == AuthorKind.BOT else sender)
        if event["action"] == "note":
            entries.append(Entry(event["at"], "note", who, event["detail"].get("text", "")))
            continue
        text = _event_text(event["action"], event["detail"], names)
        if text:
            entries.append(Entry(event["at"], "event", who, text))
    for visit in visits:
        text = visit.action
        if visit.outcome:
            text += f"\n结果：{texts.VISIT_OUTCOME_NAMES.get(visit.outcome, visit.outcome)}"
        if visit.notes:
            text += f"\n备注：{visit.notes}"
        if visit.photo_url:
            text += f"\n照片：{visit.photo_url}"
        entries.append(Entry(visit.visited_at, "visit", names.get(visit.staff_id, "客户经理"), shown(text)))
    for call in calls:
        if call.reached:
            text = f"回访评分 {call.score} 分" + (f"：{call.comment}" if call.comment else "")
            answers = _call_answers(call)
            if answers:
                text += "\n" + "；".join(answers)
        else:
            text = "回访未接通" + (f"：{call.comment}" if call.comment else "")
        entries.append(Entry(call.recorded_at, "callback", names.get(call.staff_id, "回访员"), shown(text)))
    entries.sort(key=lambda entry: entry.at)
    ticket = {key: value for key, value in detail.items() if key not in ("messages", "events", "pledges")}
    return TicketPage(ticket=ticket, retailer=retailer, view=view, pledges=pledges,
                      owners={p.owner_staff_id: names.get(p.owner_staff_id, "") for p in pledges
                              if p.owner_staff_id}, entries=entries,
                      merged_into=tickets.merged_into(session, tickets.get(session, ticket_id)))
