"""Intake: what a chat message is, and who deals with it. It decides; other services write.

In a group, a retailer's message is a menu request, a request to reopen
(没解决, 转人工), a supply or launch question, chatter, more words on an open
ticket, or a new request (chatter or request, and the category, come from the
model in `classify`); a closing remark (已经弄好了 谢谢) is kept on the sender's
ticket of the last day and opens nothing; a staff member's message is a reply or a command
(`#12 接单`, `#12 上门`, `#12 绑定 许可证号`, `#12 加问法 条目`). In private chat
the same requests and commands work, plus binding, 我的信息, 我的任务, 帮助
for each role, and 登录 (a one-time web console link, only ever said in the
staff member's own private chat; in a group it is staff chat, ignored).
Whatever the bot says in a group goes through the outbox, in the reply
lane; staff commands are confirmed privately, never in the group.

Threading never swallows a request: a message joins the sender's open
ticket only when it continues it (a quote of it, more detail, 还是不行);
a different request opens a ticket of its own, and a complaint always does.
After an answer or a reply, 没解决 reopens the ticket and anything else that
asks opens a new one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, select

from bot import texts
from bot.config import Settings
from bot.db import Prepared, after_commit
from bot.models import (
    AuthorKind,
    BindHint,
    Category,
    ChatGroup,
    Lane,
    Retailer,
    Role,
    StaffMember,
    Ticket,
    TicketMessage,
    TicketStatus,
    due_of,
    id_of,
)
from bot.policy import Policies
from bot.services import (
    access,
    accounts,
    classify,
    directory,
    inquiries,
    lookups,
    notices,
    outbox,
    pledges,
    signin,
    tickets,
)
from bot.services import knowledge as kb
from bot.services.errors import Conflict, ServiceError
from bot.services.knowledge import Decision, KnowledgeBase
from bot.services.knowledge import Result as KnowledgeResult
from bot.services.lookups import GroupRow

_PUNCTUATION = re.compile(r"[\s\W_]+", re.UNICODE)
_TICKET_REF = re.compile(r"^\s*[#＃](\d{1,9})\s*(.*)$", re.DOTALL)
_HELP = frozenset({"帮助", "菜单", "help", "功能", "栏目"})
_NOT_SOLVED = re.compile(r"没解决|没有解决|未解决|还是不行|还不行|还是没用|不管用|还没好|还是没好|还是老样子|"
                         r"转人工|人工客服|找人工|要人工|^人工$|^不行$")
_ADD_WORDING = re.compile(r"^(?:加问法|加入知识库)\s*([a-z]+\.[a-z0-9-]+)$")
_VISIT_ORDER = re.compile(r"^(?:需要|需)?上门(?:服务)?\s*[:：，,]?\s*(.*)$", re.DOTALL)
_CLAIM = re.compile(r"^(?:接单|认领|我来)\s*(确认)?$")
_MAKE_TICKET = re.compile(r"^建单\s*(\S+)?$")  # quoting a retailer's line the bot left alone
_IDENTIFY = re.compile(r"^绑定\s*([0-9A-Za-z]{6,32})$")
_VISIT_DONE = re.compile(r"^上门\s*[#＃](\d{1,9})\s*(.+)$", re.DOTALL)
_BIND_ARGS = re.compile(r"^绑定\s*([0-9A-Za-z]{6,32})\s+(\d{4})$")
_MY_TASKS = frozenset({"我的任务", "任务", "待办", "我的待办"})
_MY_CARD = frozenset({"我的信息", "我的资料"})
_SIGN_IN = frozenset({"登录", "登陆", "控制台"})
REOPEN_WINDOW = timedelta(hours=24)
REPLYING_ROLES = access.REPLIERS
_COLUMN_CATEGORY = {"terminal": Category.TERMINAL, "training": Category.TRAINING,
                    "marketing": Category.MARKETING, "delivery": Category.DELIVERY,
                    "monopoly": Category.MONOPOLY, "general": Category.OTHER}
_BIND_ANSWERS = {
    directory.BindResult.BOUND: texts.BIND_OK,
    directory.BindResult.MISMATCH: texts.BIND_MISMATCH,
    directory.BindResult.LOCKED: texts.BIND_LOCKED,
    directory.BindResult.TAKEN: texts.BIND_TAKEN,
    directory.BindResult.ALREADY: texts.BIND_ALREADY,
}


@dataclass(frozen=True)
class GroupMessage:
    """A group chat message, parsed from whichever adapter delivered it."""

    platform: str
    group_id: str
    user_id: str
    text: str
    message_id: str | None = None
    sender_name: str | None = None
    reply_to: str | None = None
    self_id: str | None = None


@dataclass(frozen=True)
class PrivateMessage:
    platform: str
    user_id: str
    text: str
    message_id: str | None = None
    sender_name: str | None = None


class Result(StrEnum):
    IGNORED = "ignored"
    OPENED = "opened"
    FOLLOW_UP = "follow_up"
    REOPENED = "reopened"
    AGENT_REPLY = "agent_reply"
    STAFF_COMMAND = "staff_command"
    MENU = "menu"
    INQUIRY = "inquiry"  # a supply or launch question, answered from the data
    ACCOUNT = "account"  # binding, unbinding, the retailer's own card


@dataclass(frozen=True)
class Outcome:
    result: Result
    ticket_id: int | None = None
    chat_group_id: int | None = None
    # what the bot answers: queued in the outbox from a group, said by the plugin in private chat
    reply_text: str | None = None
    reason: str = ""
    told_privately: bool = False  # the group hears only that the answer went privately
    entry_id: str | None = None  # the knowledge entry whose answer the reply carries (answered, or first aid)


@dataclass(frozen=True)
class _Chat:
    """Where a message was written: a group, or the sender's private chat (group None)."""

    platform: str
    user_id: str
    sender_name: str | None
    group: GroupRow | None


# Intake is the hot path (bench/intake_load.py): statements built once, run on the driver's cursor.
_SEEN = Prepared(select(TicketMessage.id).where(TicketMessage.chat_group_id == bindparam("group_pk"),
                                                TicketMessage.message_id == bindparam("message_id")).limit(1))
_HINT_DAY = Prepared(select(BindHint.id, BindHint.day).where(BindHint.platform == bindparam("platform"),
                                                             BindHint.chat_user_id == bindparam("user_id")))


def _bare(text: str) -> str:
    return _PUNCTUATION.sub("", text).lower()


# -- what a retailer's line is: the group's path and the console's 机器人会怎么答 both read it here ------------

class Reply(StrEnum):
    """What the bot does with a retailer's line that joins no ticket."""

    SMALL_TALK = "small_talk"  # left alone (a closing remark is kept on a recent ticket)
    NOT_A_REQUEST = "not_a_request"  # asks nothing (a detail with no ticket to join): left alone
    ANSWERED = "answered"  # a ticket answered from the knowledge base
    FIRST_AID = "first_aid"  # a ticket for a person, the base's answer under the acknowledgement
    SUGGESTED = "suggested"  # a ticket for a person, near questions listed under the acknowledgement
    ACKNOWLEDGED = "acknowledged"  # a ticket for a person


@dataclass(frozen=True)
class Reading:
    """The intake model's analysis of a line and the knowledge base's decision on it, taken together."""

    analysis: classify.Analysis
    found: KnowledgeResult | None

    @property
    def known(self) -> bool:
        return self.found is not None and self.found.decision == Decision.ANSWER

    @property
    def small_talk(self) -> bool:
        """Chatter, unless the base knows the line and the model is not sure (收完款抽屉没开)."""
        return self.analysis.chatter and (self.analysis.sure or not self.known)

    @property
    def asks(self) -> bool:
        """A request; a question the base knows is one too, unless the model is sure it asks nothing (a detail:
        型号是老款的那个 names a till, it asks nothing about one)."""
        return self.analysis.is_request or (self.known and not self.analysis.sure)

    @property
    def category(self) -> Category:
        """The model's category; a line it files under other that the base answers, the entry's column's."""
        if self.known and self.analysis.category == Category.OTHER:
            assert self.found is not None and self.found.best is not None, "an answer has the entry it answers from"
            return _COLUMN_CATEGORY[self.found.best.column]
        return self.analysis.category

    def needs_visit(self, policies: Policies, text: str) -> bool:
        """Whether the category's rule orders a visit (a complaint, a broken terminal): only a line that asks."""
        return self.asks and policies.needs_visit(self.category, text)

    def reply(self, *, needs_visit: bool) -> Reply:
        """A visit (a complaint, a broken terminal) means a person must deal with it: the ticket waits for them,
        and what the knowledge base knows goes out only as first aid under the acknowledgement."""
        if self.small_talk:
            return Reply.SMALL_TALK
        if not self.asks:
            return Reply.NOT_A_REQUEST
        if self.known:
            return Reply.FIRST_AID if needs_visit else Reply.ANSWERED
        if self.found is not None and self.found.decision == Decision.SUGGEST:
            return Reply.SUGGESTED
        return Reply.ACKNOWLEDGED


def may_be_inquiry(text: str, analysis: classify.Analysis, *, quoting: bool) -> bool:
    """Whether a line may be a supply or launch question, answered from the data: it has their words, and unless it
    quotes a post, the model is not sure it only talks about them (这周货源看了 没啥要加的; of our lines with these
    words, 19 of 20 chatter lines and no request were sure chatter)."""
    return (quoting or not (analysis.chatter and analysis.sure)) and inquiries.might_be(text, quoting=quoting)


def read(text: str, knowledge: KnowledgeBase | None, analysis: classify.Analysis | None = None) -> Reading:
    """`analysis`: the intake model's, when the caller has it already. The base is not asked about a line the model
    is sure asks nothing (most of a group's chatter): nothing it could say changes what happens to the line."""
    analysis = analysis or classify.analyse(text)
    if knowledge is None or analysis.trading or (analysis.sure and not analysis.is_request):
        return Reading(analysis, None)
    return Reading(analysis, knowledge.index.decide(text))


# -- groups ------------------------------------------------------------------------------------

def handle_group_message(session: Session, msg: GroupMessage, *, now: datetime, settings: Settings,
                         policies: Policies, knowledge: KnowledgeBase | None = None,
                         columns: tuple[str, ...] = tuple(texts.COLUMNS)) -> Outcome:
    """Decide what a group message is and have it dealt with; `columns` are those the 帮助 menu lists
    (the column plugins loaded)."""
    lookups.refresh(session, now=now, every=settings.lookups_refresh_seconds)
    group = lookups.group(session, msg.platform, msg.group_id)
    if group is None or not group.active:
        return Outcome(Result.IGNORED, reason="group not registered")
    if msg.self_id and msg.user_id == msg.self_id:
        return Outcome(Result.IGNORED, reason="the bot's own message")
    if msg.self_id and group.bot_id != msg.self_id:  # the account to post back through
        directory.set_group_account(session, group, msg.self_id)
        accounts.note_member(session, group.platform, group.group_id, msg.self_id, now=now)
    if msg.message_id and _SEEN.execute(session, {"group_pk": group.id, "message_id": msg.message_id}).fetchone():
        return Outcome(Result.IGNORED, reason="event already handled")

    staff = lookups.staff_member(session, msg.user_id)
    if staff is not None:
        return _staff_in_group(session, group, staff, msg, now, settings, policies, knowledge)
    chat = _Chat(msg.platform, msg.user_id, msg.sender_name, group)
    if _bare(msg.text) in _HELP:
        outcome = Outcome(Result.MENU, chat_group_id=group.id, reply_text=texts.menu(columns))
    else:
        outcome = _retailer_message(session, chat, msg.text, msg.message_id, msg.reply_to, now, settings, policies,
                                    knowledge)
    if outcome.reply_text:
        _say_in_group(session, group, outcome, msg, now)
    return outcome


def _say_in_group(session: Session, group: GroupRow, outcome: Outcome, msg: GroupMessage, now: datetime) -> None:
    """The bot's answer in the group, quoting the retailer. Acknowledgements, and the notes that a quota went
    privately, due together in one group are combined into one message mentioning each retailer (after a
    supply notice hundreds ask at once, and each account may send only so many a minute)."""
    acknowledging = outcome.result == Result.OPENED and outcome.reason in ("acknowledged", "first aid")
    kind = outbox.ACK if acknowledging else outbox.TOLD_PRIVATELY if outcome.told_privately else None
    assert outcome.reply_text is not None, "only an outcome with an answer is said in the group"
    outbox.enqueue(session, now=now, platform=group.platform, bot_id=msg.self_id or group.bot_id,
                   target_kind="group", target_id=group.group_id, text=outcome.reply_text, lane=Lane.REPLY,
                   kind=kind, mention_user_id=msg.user_id if kind else None,
                   reply_to=msg.message_id, ticket_id=outcome.ticket_id)


def _retailer_message(session: Session, chat: _Chat, text: str, message_id: str | None, reply_to: str | None,
                      now: datetime, settings: Settings, policies: Policies,
                      knowledge: KnowledgeBase | None) -> Outcome:
    """A retailer's message in a group or in private chat (the same rules, the same tickets)."""
    group_pk = chat.group.id if chat.group else None
    if _bare(text) in _HELP:
        return Outcome(Result.MENU, reply_text=texts.RETAILER_HELP)
    quoted = None
    if reply_to and chat.group is not None:
        quoted = next((t for t in tickets.by_message(session, chat.group.id, reply_to)
                       if t.sender_user_id == chat.user_id), None)
    if _NOT_SOLVED.search(text) and len(text) <= 60:
        recent = quoted or _latest(session, chat, now - REOPEN_WINDOW)
        if recent is not None and recent.status != TicketStatus.OPEN:
            return _reopen(session, recent, chat, text, message_id, now, settings, policies)
    analysis = classify.analyse(text)
    if may_be_inquiry(text, analysis, quoting=reply_to is not None) and (asked := inquiries.answer(
            session, inquiries.Asker(chat.platform, chat.user_id, chat.group, reply_to),
            text, now=now, tz=settings.tz, policies=policies)):
        ticket_id = _log_answered(session, chat, text, message_id, asked, now, settings, policies) \
            if asked.is_request else None
        return Outcome(Result.INQUIRY, ticket_id=ticket_id, chat_group_id=group_pk, reply_text=asked.text,
                       reason=asked.ask, told_privately=asked.told_privately)
    reading = read(text, knowledge, analysis)
    if reading.small_talk and quoted is None:
        return _chatter(session, chat, text, message_id, reading.analysis, now)
    window = now - timedelta(minutes=settings.thread_window_minutes)
    candidate = quoted if quoted is not None and quoted.status != TicketStatus.CLOSED else None
    if candidate is None and quoted is None:
        latest = _latest(session, chat, window)
        candidate = latest if latest is not None and latest.status != TicketStatus.CLOSED else None
    if candidate is not None and _continues(candidate, reading, text, quoting=quoted is not None):
        tickets.add_follow_up(session, id_of(candidate), group_pk, message_id, chat.user_id, text, now)
        return Outcome(Result.FOLLOW_UP, ticket_id=candidate.id, chat_group_id=group_pk)
    if not reading.asks:
        _left_alone(session, chat, text, message_id, "not_a_request", now)
        return Outcome(Result.IGNORED, reason="not a request")
    opened = _open(session, chat, text, message_id, reading, now, settings, policies)
    if candidate is not None and _names_nothing(candidate) and opened.ticket_id is not None:
        _said_what_it_was(session, candidate, opened.ticket_id, now, settings, policies)
    return opened


def _names_nothing(ticket: Ticket) -> bool:
    """An open ticket whose words say nothing of what it is about (弄不了, 不会弄): an agent would first have to ask."""
    said = f"{ticket.text} {ticket.latest_text or ''}"
    return ticket.status == TicketStatus.OPEN and not classify.content_words(said)


def _said_what_it_was(session: Session, vague: Ticket, opened_id: int, now: datetime, settings: Settings,
                      policies: Policies) -> None:
    """The sender's next request says what their open ticket that named nothing was about: that ticket goes into
    the new one (its words in the new one's timeline, its clocks cancelled), so no agent is sent to ask what the
    retailer has already said, and the new one keeps its own answer or acknowledgement."""
    if vague.retailer_id not in (None, tickets.get(session, opened_id).retailer_id):
        return  # the account was bound to another shop in between: two shops' requests stay apart
    reason = f"零售户随后说清了是什么事，已合并到工单 #{opened_id}"
    merged = tickets.merge(session, id_of(vague), opened_id, now=now, staff_id=None, reason=reason)
    pledges.cancel_open(session, merged.source, now=now, reason=reason, staff_id=None, policies=policies,
                        tz=settings.tz)


def _chatter(session: Session, chat: _Chat, text: str, message_id: str | None, analysis: classify.Analysis,
             now: datetime) -> Outcome:
    """Chatter opens nothing; a closing remark (已经弄好了 谢谢) is kept on the sender's recent ticket, so
    its timeline shows the retailer was satisfied before the callback."""
    recent = _latest(session, chat, now - REOPEN_WINDOW) if analysis.closing else None
    if recent is None or recent.status == TicketStatus.CLOSED:
        _left_alone(session, chat, text, message_id, "small_talk", now)
        return Outcome(Result.IGNORED, reason="small talk")
    tickets.add_follow_up(session, id_of(recent), chat.group.id if chat.group else None, message_id, chat.user_id,
                          text, now)
    return Outcome(Result.FOLLOW_UP, ticket_id=recent.id, chat_group_id=recent.chat_group_id,
                   reason="closing remark")


def _left_alone(session: Session, chat: _Chat, text: str, message_id: str | None, reason: str,
                now: datetime) -> None:
    """A group line the bot opens nothing for is kept a week, so staff can make a ticket of one it misread."""
    if chat.group is not None:
        tickets.note_unticketed(session, platform=chat.platform, chat_group_id=chat.group.id, message_id=message_id,
                                sender_user_id=chat.user_id, sender_name=chat.sender_name, text=text, reason=reason,
                                now=now)


def ticket_from_unticketed(session: Session, line_id: int, category: str | None, staff: StaffMember, *,
                           now: datetime, settings: Settings, policies: Policies) -> Outcome:
    """Staff found a line the bot left alone asks something (建单): a ticket of it in `category` (the request the
    model finds likeliest when none is given), with its reply pledge, the visit its category's rule orders, and the
    acknowledgement in the group quoting the retailer, who had heard nothing."""
    if category is not None and category not in set(Category):
        raise ServiceError(f"没有这个类别：{category}")
    line = tickets.unticketed_line(session, line_id, lock=True)
    category = category or classify.likeliest_request(line.text)
    ticket_id = tickets.ticket_unticketed(session, line, category=category, staff_id=id_of(staff), now=now,
                                          retailer_id=lookups.retailer_id(session, line.platform, line.sender_user_id))
    group = session.get(ChatGroup, line.chat_group_id)
    assert group is not None, "a line left alone belongs to a registered group"
    due = pledges.start_reply(session, ticket_id, category, met=False, now=now, policies=policies, tz=settings.tz,
                              chat_group_id=group.id, district=group.district)
    if policies.needs_visit(category, line.text):
        pledges.need_visit(session, ticket_id, note="按类别规则需要上门", now=now, policies=policies, tz=settings.tz)
    reply = texts.acknowledgement(ticket_id, category, due, now, settings.tz, False)
    outbox.enqueue(session, now=now, platform=group.platform, bot_id=group.bot_id, target_kind="group",
                   target_id=group.group_id, text=reply, lane=Lane.REPLY, kind=outbox.ACK,
                   mention_user_id=line.sender_user_id, reply_to=line.message_id, ticket_id=ticket_id)
    return Outcome(Result.OPENED, ticket_id=ticket_id, chat_group_id=group.id, reply_text=reply,
                   reason="ticketed by staff")


def category_named(word: str) -> str | None:
    """The category a staff member names in Chinese (投诉, 意见投诉, 货源 …): the one label containing the word."""
    found = [category for category, label in texts.CATEGORY_LABELS.items() if word and word in label]
    return found[0] if len(found) == 1 else None


def _latest(session: Session, chat: _Chat, since: datetime) -> Ticket | None:
    return tickets.latest_of_sender(session, chat.platform, chat.user_id, since,
                                    chat_group_id=chat.group.id if chat.group else None)


def _continues(ticket: Ticket, reading: Reading, text: str, *, quoting: bool) -> bool:
    """Whether a message continues the sender's ticket or is a request of its own."""
    analysis = reading.analysis
    complaint = analysis.category == Category.COMPLAINT
    if complaint and ticket.category != Category.COMPLAINT:
        return False  # a complaint always has its own ticket (its rule orders a visit)
    if ticket.status != TicketStatus.OPEN:  # answered or replied: only words that ask nothing join it (更正一下
        # 少的是一条 after an answer)
        return not reading.asks
    if quoting or not analysis.is_request or _NOT_SOLVED.search(text):
        return True
    if ticket.category != Category.OTHER and analysis.category not in (Category.OTHER, ticket.category):
        return False  # another column's question
    # a question about something the ticket never mentioned is a request of its own (返利什么时候到账
    # after 终端开不了机); one with nothing but question words (怎么办啊) continues it
    about = classify.content_words(text)
    return not about or bool(about & classify.content_words(f"{ticket.text} {ticket.latest_text or ''}"))


def _reopen(session: Session, ticket: Ticket, chat: _Chat, text: str, message_id: str | None, now: datetime,
            settings: Settings, policies: Policies) -> Outcome:
    """没解决 / 转人工 after an answer or a reply: the same ticket, with a fresh reply clock."""
    handover = ticket.status == TicketStatus.ANSWERED
    reply = pledges.reopen(session, ticket, reason="handover" if handover else "not solved", now=now,
                           policies=policies, tz=settings.tz, actor_kind=AuthorKind.RETAILER, actor_id=chat.user_id,
                           text=text, message_id=message_id)
    say = texts.handed_over if handover else texts.reopened
    return Outcome(Result.REOPENED, ticket_id=ticket.id, chat_group_id=ticket.chat_group_id,
                   reply_text=say(id_of(ticket), due_of(reply), now, settings.tz))


def _district_of_retailer(session: Session, retailer_id: int | None) -> str | None:
    """Where a private-chat ticket is counted: its retailer's district (a group's ticket takes the group's)."""
    retailer = session.get(Retailer, retailer_id) if retailer_id else None
    return retailer.district if retailer else None


def _open(session: Session, chat: _Chat, text: str, message_id: str | None, reading: Reading, now: datetime,
          settings: Settings, policies: Policies) -> Outcome:
    retailer_id = _bound_retailer(session, chat)
    group_pk = chat.group.id if chat.group else None
    category, trading, found = reading.category, reading.analysis.trading, reading.found
    needs_visit = reading.needs_visit(policies, text)
    reply_kind = reading.reply(needs_visit=needs_visit)
    answer = found.best if found is not None and reply_kind == Reply.ANSWERED else None
    answered = tickets.Answered(entry_id=answer.id, score=found.matches[0].score) if found and answer else None
    ticket_id = tickets.open_ticket(session, tickets.Request(
        platform=chat.platform, chat_group_id=group_pk, sender_user_id=chat.user_id,
        sender_name=chat.sender_name, retailer_id=retailer_id, category=category, trading=trading, text=text,
        message_id=message_id), now=now, answered=answered)
    district = chat.group.district if chat.group else _district_of_retailer(session, retailer_id)
    due = pledges.start_reply(session, ticket_id, category, met=answer is not None and policies.auto_answer_meets_reply,
                              now=now, policies=policies, tz=settings.tz, chat_group_id=group_pk, district=district)
    if needs_visit:
        pledges.need_visit(session, ticket_id, note="按类别规则需要上门", now=now, policies=policies, tz=settings.tz)
    if answer is not None:
        card = directory.retailer_card(session, retailer_id) if retailer_id else None
        return Outcome(Result.OPENED, ticket_id=ticket_id, chat_group_id=group_pk, reason="answered",
                       entry_id=answer.id, reply_text=texts.auto_answer(ticket_id, answer.render(card)))
    reply = texts.acknowledgement(ticket_id, category, due, now, settings.tz, trading)
    confident = found.best if found is not None and reply_kind == Reply.FIRST_AID else None
    if confident is not None:  # the general answer, never one filled in with the retailer's details
        assert found is not None, "a confident entry is found's best match"
        tickets.mark_first_aid(session, ticket_id, confident.id, found.matches[0].score, now)
        reply += "\n" + texts.first_aid(confident.answer)
    elif found is not None and reply_kind == Reply.SUGGESTED:
        reply += "\n" + texts.suggestions([match.entry.question for match in found.matches])
    if retailer_id is None and _first_hint_today(session, chat, now.astimezone(settings.tz).date().isoformat()):
        reply += "\n" + texts.BIND_HINT
    return Outcome(Result.OPENED, ticket_id=ticket_id, chat_group_id=group_pk, reply_text=reply,
                   reason="first aid" if confident is not None else "acknowledged",
                   entry_id=confident.id if confident is not None else None)


def _bound_retailer(session: Session, chat: _Chat) -> int | None:
    return lookups.retailer_id(session, chat.platform, chat.user_id)


def _log_answered(session: Session, chat: _Chat, text: str, message_id: str | None, asked: inquiries.Answer,
                  now: datetime, settings: Settings, policies: Policies) -> int:
    """A supply or launch question the bot answered from the data is a request like any other: a ticket
    answered by the bot, its reply pledge kept as a knowledge answer keeps it (转人工 hands it over)."""
    retailer_id = _bound_retailer(session, chat)
    group_pk = chat.group.id if chat.group else None
    category = Category.LAUNCH if asked.ask in inquiries.LAUNCH_ASKS else Category.SUPPLY
    ticket_id = tickets.open_ticket(session, tickets.Request(
        platform=chat.platform, chat_group_id=group_pk, sender_user_id=chat.user_id, sender_name=chat.sender_name,
        retailer_id=retailer_id, category=category, trading=False, text=text, message_id=message_id),
        now=now, answered=tickets.Answered(note=inquiries.ASK_WORDS[asked.ask]))
    district = chat.group.district if chat.group else _district_of_retailer(session, retailer_id)
    pledges.start_reply(session, ticket_id, category, met=policies.auto_answer_meets_reply, now=now,
                        policies=policies, tz=settings.tz, chat_group_id=group_pk, district=district)
    return ticket_id


def _first_hint_today(session: Session, chat: _Chat, today: str) -> bool:
    """An unbound sender is told how to bind at most once a day."""
    hint = _HINT_DAY.execute(session, {"platform": chat.platform, "user_id": chat.user_id}).fetchone()
    if hint is not None and hint[1] == today:
        return False
    directory.note_bind_hint(session, chat.platform, chat.user_id, today, hint_id=hint[0] if hint else None)
    return True


# -- staff commands, in a group or in private --------------------------------------------------

def _staff_in_group(session: Session, group: GroupRow, staff: StaffMember, msg: GroupMessage, now: datetime,
                    settings: Settings, policies: Policies, knowledge: KnowledgeBase | None) -> Outcome:
    """Staff never open tickets. A quote of a retailer's message or `#12 …` is a reply or a command;
    anything else is their own chat."""
    if not staff.has_role(*REPLYING_ROLES):
        return Outcome(Result.IGNORED, reason="staff chat")
    text, ticket, ref = msg.text.strip(), None, _TICKET_REF.match(msg.text)
    quoted = tickets.by_message(session, group.id, msg.reply_to) if msg.reply_to else []
    if len(quoted) == 1:
        ticket = quoted[0]
    elif quoted and ref is None:  # a combined acknowledgement: which of its tickets?
        return _confirm_privately(session, staff, group, texts.AMBIGUOUS_QUOTE, None, now)
    if ref is None and msg.reply_to and (make := _MAKE_TICKET.match(text)):
        if ticket is not None:  # not a reply saying 建单 to the retailer
            return _confirm_privately(session, staff, group, texts.ALREADY_TICKETED.format(ticket_id=ticket.id),
                                      ticket.id, now)
        return _ticket_quoted_line(session, staff, group, msg.reply_to, make.group(1), now, settings, policies)
    if ticket is None:
        if ref is None:
            return Outcome(Result.IGNORED, reason="staff chat")
        ticket, text = session.get(Ticket, int(ref.group(1))), ref.group(2).strip()
        if ticket is None:
            return _confirm_privately(session, staff, group, texts.NO_SUCH_TICKET.format(ticket_id=ref.group(1)),
                                      None, now)
    if not text:
        return Outcome(Result.IGNORED, reason="staff chat")
    in_place = ticket.chat_group_id == group.id  # the retailer sees this very message
    answer = _staff_command(session, staff, ticket, text, in_place=in_place, message_id=msg.message_id, now=now,
                            settings=settings, policies=policies, knowledge=knowledge)
    assert answer.reply_text is not None, "a staff command always says what happened"
    return _confirm_privately(session, staff, group, answer.reply_text, ticket.id, now, answer.result)


def _ticket_quoted_line(session: Session, staff: StaffMember, group: GroupRow, quoted: str, named: str | None,
                        now: datetime, settings: Settings, policies: Policies) -> Outcome:
    """建单 quoting a retailer's line the bot left alone: a ticket of it; what happened goes to the staff member."""
    line = tickets.unticketed_by_message(session, group.id, quoted)
    if line is None:
        return _confirm_privately(session, staff, group, texts.NOT_LEFT_ALONE, None, now)
    category = category_named(named) if named else None
    if named and category is None:
        return _confirm_privately(session, staff, group, texts.UNKNOWN_CATEGORY.format(word=named), None, now)
    try:
        opened = ticket_from_unticketed(session, id_of(line), category, staff, now=now, settings=settings,
                                        policies=policies)
    except ServiceError as refused:
        return _confirm_privately(session, staff, group, str(refused), None, now)
    assert opened.ticket_id is not None, "a ticket was made"
    ticket = tickets.get(session, opened.ticket_id)
    return _confirm_privately(session, staff, group, texts.TICKETED_BY_STAFF.format(
        ticket_id=ticket.id, category=texts.CATEGORY_LABELS[ticket.category]), ticket.id, now, Result.OPENED)


def _confirm_privately(session: Session, staff: StaffMember, group: GroupRow, text: str, ticket_id: int | None,
                       now: datetime, result: Result = Result.STAFF_COMMAND) -> Outcome:
    notices.to_staff_member(session, staff, text, now=now, via_group=session.get(ChatGroup, group.id),
                            ticket_id=ticket_id)
    return Outcome(result, ticket_id=ticket_id, chat_group_id=group.id, reply_text=text)


def _staff_command(session: Session, staff: StaffMember, ticket: Ticket, text: str, *, in_place: bool,
                   message_id: str | None, now: datetime, settings: Settings, policies: Policies,
                   knowledge: KnowledgeBase | None) -> Outcome:
    """One staff command on a ticket; the answer says what happened (or why not)."""
    tz = settings.tz

    def said(reply: str, result: Result = Result.STAFF_COMMAND) -> Outcome:
        return Outcome(result, ticket_id=ticket.id, chat_group_id=ticket.chat_group_id, reply_text=reply)

    if claim := _CLAIM.match(text):
        try:
            before = pledges.one(session, id_of(ticket), "reply")
            mine = before is not None and before.owner_staff_id == staff.id
            pledge = pledges.claim(session, tickets.get_open(session, id_of(ticket)), staff, now=now,
                                   confirm=claim.group(1) is not None)
        except ServiceError as refused:
            return said(str(refused))
        if mine:
            return said(texts.CLAIMED_ALREADY.format(ticket_id=ticket.id))
        return said(texts.CLAIMED.format(ticket_id=ticket.id, due=texts.local_time(due_of(pledge), tz, now)))
    if wording := _ADD_WORDING.match(text):
        entry_id = wording.group(1)
        if knowledge is None or not kb.entry_exists(session, entry_id):
            return said(f"知识条目 {entry_id} 不存在")
        try:
            kb.learn_from_ticket(session, id_of(ticket), entry_id, question=ticket.text[:200], staff_id=staff.id,
                                 now=now, today=now.astimezone(tz).date())
        except ServiceError as refused:
            return said(str(refused))
        after_commit(session, knowledge.refresh_soon)
        return said(texts.WORDING_ADDED.format(entry=entry_id))
    if ticket.status == TicketStatus.CLOSED:
        return said(texts.TICKET_CLOSED.format(ticket_id=ticket.id))
    if identify := _IDENTIFY.match(text):
        return said(_identify_shop(session, staff, ticket, identify.group(1), now, policies, tz))
    if visit := _VISIT_ORDER.match(text):
        ordered = pledges.need_visit(session, id_of(ticket), note=visit.group(1) or None, now=now, policies=policies,
                                     tz=tz, staff_id=staff.id)
        return said(ordered.confirmation(id_of(ticket)))
    owner = pledges.one(session, id_of(ticket), "reply")
    taken_by = pledges.owner_name(session, owner) if owner and owner.owner_staff_id not in (None, staff.id) else None
    record_reply(session, ticket, staff, text, now=now, policies=policies, tz=tz, message_id=message_id,
                 via="chat", post=not in_place)
    if taken_by:
        return said(texts.REPLY_CLAIMED_BY_OTHER.format(ticket_id=ticket.id, owner=taken_by), Result.AGENT_REPLY)
    confirmation = texts.REPLY_RECORDED if in_place else texts.REPLY_POSTED
    return said(confirmation.format(ticket_id=ticket.id), Result.AGENT_REPLY)


def _identify_shop(session: Session, staff: StaffMember, ticket: Ticket, license_no: str, now: datetime,
                   policies: Policies, tz: Any) -> str:
    """`#12 绑定 许可证号`: the unbound sender is that shop; a waiting visit goes to its manager."""
    retailer = session.exec(select(Retailer).where(Retailer.license_no == license_no, Retailer.active)).first()
    if retailer is None:
        return texts.NO_SUCH_LICENSE.format(license_no=license_no)
    try:
        directory.staff_bind(session, id_of(retailer), platform=ticket.platform, chat_user_id=ticket.sender_user_id,
                             staff=staff, now=now)
    except Conflict as refused:
        return str(refused)
    tickets.attach_retailer(session, ticket, id_of(retailer), now=now, staff_id=id_of(staff))
    answer = texts.RETAILER_IDENTIFIED.format(ticket_id=ticket.id, store_name=retailer.store_name)
    ordered = pledges.retailer_identified(session, ticket, retailer, now=now, policies=policies, tz=tz)
    return answer + ("\n" + ordered.confirmation(id_of(ticket)) if ordered else "")


def record_reply(session: Session, ticket: Ticket, staff: StaffMember, text: str, *, now: datetime,
                 policies: Policies, tz: Any, message_id: str | None = None, via: str, post: bool) -> None:
    """A person's reply: kept on the ticket, meeting its reply pledge; `post` has the bot deliver it
    to the retailer's chat (quoting their question) when it was not written there."""
    tickets.record_reply(session, ticket, id_of(staff), text, now=now, message_id=message_id, via=via)
    pledges.replied(session, ticket, staff, now=now, policies=policies, tz=tz)
    if not post:
        return
    group = session.get(ChatGroup, ticket.chat_group_id) if ticket.chat_group_id else None
    if group is not None:
        outbox.enqueue(session, now=now, platform=group.platform, bot_id=group.bot_id, target_kind="group",
                       target_id=group.group_id, text=texts.agent_reply(id_of(ticket), text), lane=Lane.REPLY,
                       reply_to=tickets.first_retailer_message(session, id_of(ticket)), ticket_id=ticket.id)
    else:
        outbox.enqueue(session, now=now, platform=ticket.platform, target_kind="private",
                       target_id=ticket.sender_user_id, text=texts.agent_reply(id_of(ticket), text), lane=Lane.REPLY,
                       ticket_id=ticket.id)


def reply_via_api(session: Session, ticket_id: int, staff: StaffMember, text: str, *, now: datetime,
                  policies: Policies, tz: Any, confirm: bool = False) -> Ticket:
    """An agent's reply from the console: recorded now, delivered by the outbox. Replying on a ticket
    another agent has taken needs `confirm`."""
    ticket = tickets.get(session, ticket_id)
    if ticket.status == TicketStatus.CLOSED:
        raise ServiceError(f"工单 #{ticket_id} 已关闭，不能再回复")
    owner = pledges.one(session, id_of(ticket), "reply")
    if owner is not None and owner.owner_staff_id not in (None, staff.id) and not confirm:
        raise Conflict(texts.CLAIMED_BY_OTHER.format(ticket_id=ticket.id, owner=pledges.owner_name(session, owner))
                       + "（接口请带 confirm=true）")
    record_reply(session, ticket, staff, text, now=now, policies=policies, tz=tz, via="api", post=True)
    return ticket


def close_ticket(session: Session, ticket_id: int, staff: StaffMember, note: str | None, *, now: datetime,
                 policies: Policies, tz: Any) -> Ticket:
    ticket = tickets.get(session, ticket_id)
    tickets.close(session, ticket, now=now, actor_kind=AuthorKind.STAFF, actor_id=str(staff.id), reason="staff",
                  note=note)
    pledges.cancel_open(session, ticket, now=now, reason="工作人员关闭了工单", staff_id=staff.id, policies=policies,
                        tz=tz)
    return ticket


def recategorise_ticket(session: Session, ticket_id: int, category: str, staff: StaffMember, *, now: datetime,
                        policies: Policies, tz: Any) -> Ticket:
    """Staff corrected the category the bot read (a complaint filed as 其他, a delivery shortage as supply); the
    new category's rule decides the visit from now (`pledges.category_changed`)."""
    if category not in set(Category):
        raise ServiceError(f"没有这个类别：{category}")
    ticket = tickets.get(session, ticket_id)
    was = tickets.recategorise(session, ticket, category, now=now, staff_id=id_of(staff))
    pledges.category_changed(session, ticket, was, now=now, policies=policies, tz=tz, staff_id=id_of(staff))
    return ticket


def mark_not_a_request(session: Session, ticket_id: int, staff: StaffMember, note: str | None, *, now: datetime,
                       policies: Policies, tz: Any) -> Ticket:
    """Staff found the ticket asks nothing (chatter the bot took for a request): closed, what ran cancelled, and
    not counted among the month's requests. A breach it already had stays until a supervisor excuses it."""
    ticket = tickets.get(session, ticket_id)
    tickets.mark_asked_nothing(session, ticket, now=now, staff_id=id_of(staff), note=note)
    pledges.cancel_open(session, ticket, now=now, reason="工作人员判定不是诉求", staff_id=staff.id, policies=policies,
                        tz=tz)
    return ticket


def merge_tickets(session: Session, source_id: int, target_id: int, staff: StaffMember, *,
                  now: datetime, policies: Policies, tz: Any) -> tickets.Merged:
    """A duplicate from the same sender goes into their other ticket: its messages show on the target,
    it is closed naming the target, and what it still had running is cancelled for the same reason."""
    merged = tickets.merge(session, source_id, target_id, now=now, staff_id=id_of(staff))
    pledges.cancel_open(session, merged.source, now=now, reason=f"已合并到工单 #{target_id}", staff_id=staff.id,
                        policies=policies, tz=tz)
    return merged


def reopen_ticket(session: Session, ticket_id: int, staff: StaffMember, note: str | None, *, now: datetime,
                  policies: Policies, tz: Any, confirm: bool = False) -> Ticket:
    ticket = tickets.get(session, ticket_id)
    if ticket.status == TicketStatus.OPEN:
        raise ServiceError(f"工单 #{ticket_id} 本来就是待处理状态")
    pledges.reopen(session, ticket, reason="staff", now=now, policies=policies, tz=tz,
                   actor_kind=AuthorKind.STAFF, actor_id=str(staff.id), note=note)
    return ticket


# -- private chat ------------------------------------------------------------------------------

def handle_private_message(session: Session, msg: PrivateMessage, *, now: datetime, settings: Settings,
                           policies: Policies, knowledge: KnowledgeBase | None = None) -> Outcome:
    """A private message to the bot; the answer comes back as `reply_text` for the plugin to say."""
    text = msg.text.strip()
    bare = _bare(text)
    if bare in _SIGN_IN:
        return _console_link(session, msg, now, settings)
    lookups.refresh(session, now=now, every=settings.lookups_refresh_seconds)
    staff = lookups.staff_member(session, msg.user_id)
    if staff is not None:
        answer = _staff_private(session, staff, text, bare, now, settings, policies, knowledge)
        if answer is not None:
            return answer
    if bare in _HELP and staff is not None:
        return Outcome(Result.MENU, reply_text=texts.staff_help(staff.roles))
    if staff is None and _VISIT_DONE.match(text):  # the managers' command; 上门维修要多久 is a question
        return Outcome(Result.IGNORED, reply_text=texts.VISIT_NOT_STAFF)
    if bare in _MY_CARD:
        return Outcome(Result.ACCOUNT, reply_text=directory.my_card(session, platform=msg.platform,
                                                                    chat_user_id=msg.user_id))
    if text == "解绑":
        removed = directory.self_unbind(session, platform=msg.platform, chat_user_id=msg.user_id)
        return Outcome(Result.ACCOUNT, reply_text=texts.UNBIND_OK if removed else texts.UNBIND_NONE)
    if text.startswith("绑定"):
        args = _BIND_ARGS.match(text)
        if args is None:
            return Outcome(Result.ACCOUNT, reply_text=texts.BIND_USAGE)
        bound = directory.self_bind(session, platform=msg.platform, chat_user_id=msg.user_id,
                                    license_no=args.group(1), phone_last4=args.group(2), now=now, tz=settings.tz)
        return Outcome(Result.ACCOUNT, reply_text=_BIND_ANSWERS[bound.result].format(store_name=bound.store_name))
    if staff is not None:  # staff asking like a retailer get the answers, not tickets
        asked = inquiries.answer(session, inquiries.Asker(msg.platform, msg.user_id, None), text, now=now,
                                 tz=settings.tz, policies=policies)
        return Outcome(Result.INQUIRY, reply_text=asked.text if asked else texts.STAFF_UNKNOWN_COMMAND)
    chat = _Chat(msg.platform, msg.user_id, msg.sender_name, None)
    return _retailer_message(session, chat, text, msg.message_id, None, now, settings, policies, knowledge)


def _console_link(session: Session, msg: PrivateMessage, now: datetime, settings: Settings) -> Outcome:
    """登录: a one-time web console link, said only in this private chat with the account registered for
    the staff member (never queued, never in a group); anyone else is told no, and no ticket is opened."""
    code = signin.issue_link(session, platform=msg.platform, chat_user_id=msg.user_id, now=now)
    if code is None:
        return Outcome(Result.IGNORED, reply_text=texts.CONSOLE_NOT_STAFF, reason="not staff")
    url = f"{settings.console_url}/console/login/{code}"
    return Outcome(Result.STAFF_COMMAND, reply_text=texts.CONSOLE_LINK.format(url=url))


def _staff_private(session: Session, staff: StaffMember, text: str, bare: str, now: datetime, settings: Settings,
                   policies: Policies, knowledge: KnowledgeBase | None) -> Outcome | None:
    """Staff commands in private chat; None when the text is not one."""
    if bare in _MY_TASKS:
        items = [(pledge.kind, id_of(ticket), _about(session, ticket), due_of(pledge))
                 for pledge, ticket in pledges.open_tasks(session, staff)]
        return Outcome(Result.STAFF_COMMAND, reply_text=texts.my_tasks(items, now, settings.tz))
    if text.startswith("上门"):
        visit = _VISIT_DONE.match(text)
        if visit is None:
            return Outcome(Result.STAFF_COMMAND, reply_text=texts.VISIT_USAGE)
        if not staff.has_role(Role.MANAGER, Role.SUPERVISOR, Role.ADMIN):
            return Outcome(Result.STAFF_COMMAND, reply_text=texts.VISIT_NOT_STAFF)
        ticket_id = int(visit.group(1))
        if session.get(Ticket, ticket_id) is None:
            return Outcome(Result.STAFF_COMMAND, reply_text=texts.NO_SUCH_TICKET.format(ticket_id=ticket_id))
        try:
            pledges.record_visit(session, ticket_id, staff, action=visit.group(2).strip(), notes=None,
                                 visited_at=None, now=now, policies=policies, tz=settings.tz)
        except ServiceError as refused:
            return Outcome(Result.STAFF_COMMAND, ticket_id=ticket_id, reply_text=str(refused))
        return Outcome(Result.STAFF_COMMAND, ticket_id=ticket_id,
                       reply_text=texts.VISIT_RECORDED.format(ticket_id=ticket_id))
    ref = _TICKET_REF.match(text)
    if ref is None:
        return None
    if not staff.has_role(*REPLYING_ROLES):
        return Outcome(Result.STAFF_COMMAND, reply_text=texts.staff_help(staff.roles))
    ticket = session.get(Ticket, int(ref.group(1)))
    if ticket is None:
        return Outcome(Result.STAFF_COMMAND, reply_text=texts.NO_SUCH_TICKET.format(ticket_id=ref.group(1)))
    if not ref.group(2).strip():
        return Outcome(Result.STAFF_COMMAND, reply_text=texts.staff_help(staff.roles))
    return _staff_command(session, staff, ticket, ref.group(2).strip(), in_place=False, message_id=None, now=now,
                          settings=settings, policies=policies, knowledge=knowledge)


def _about(session: Session, ticket: Ticket) -> str:
    ctx = notices.context(ticket, session.get(Retailer, ticket.retailer_id) if ticket.retailer_id else None)
    return f"{ctx.who}：{ctx.request}"
