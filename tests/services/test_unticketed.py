"""A retailer's group line the bot opened no ticket for is kept a week, so staff can make a ticket of a request the
bot took for chatter (建单 in the group, quoting it, or on the console's 未建单 page)."""

import threading

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, func, select

from bot import texts
from bot.db import make_engine
from bot.models import (
    AuthorKind,
    ChatBinding,
    OutboxMessage,
    Pledge,
    PledgeKind,
    PledgeState,
    Role,
    Ticket,
    TicketEvent,
    UnticketedLine,
)
from bot.policy import Policies
from bot.services import intake, tickets, timeline
from bot.services.errors import NotFound, ServiceError
from bot.services.intake import Result
from bot.services.reports import workload
from bot.services.reports.base import Period, Scope
from tests import factories as make
from tests.support.databases import ON_POSTGRES

CHATTER = "哈哈 周末愉快 各位老板"
DETAIL = "型号是老款的那个"  # more about a request, with no ticket to join: asks nothing


@pytest.fixture
def agent(session, clock):
    return make.staff(session, clock, Role.AGENT, chat_user_id="30001", name="客服一")


def _lines(session):
    return session.exec(select(UnticketedLine).order_by(col(UnticketedLine.id))).all()


def _tickets(session):
    return session.exec(select(func.count()).select_from(Ticket)).one()


def _to(session, target_id):
    return session.exec(select(OutboxMessage).where(OutboxMessage.target_id == target_id)
                        .order_by(col(OutboxMessage.id))).all()


def _make(session, clock, settings, line, category, agent):
    opened = intake.ticket_from_unticketed(session, line.id, category, agent, now=clock.now(), settings=settings,
                                           policies=Policies())
    session.commit()
    return opened


def test_what_the_bot_leaves_alone_in_a_group_is_kept_with_what_it_read(session, clock, settings, group):
    assert make.post(session, clock, settings, CHATTER, message_id="c1").result == Result.IGNORED
    assert make.post(session, clock, settings, DETAIL, message_id="d1", user_id="10002").result == Result.IGNORED
    kept = _lines(session)
    assert [(line.message_id, line.text, line.reason, line.sender_user_id, line.sender_name, line.chat_group_id,
             line.said_at, line.ticket_id) for line in kept] == [
        ("c1", CHATTER, "small_talk", "10001", "老王", group.id, clock.now(), None),
        ("d1", DETAIL, "not_a_request", "10002", "老王", group.id, clock.now(), None)]


def test_a_redelivered_chatter_event_is_kept_once(session, clock, settings, group):
    first = clock.now()
    make.post(session, clock, settings, CHATTER, message_id="c1")
    clock.advance(seconds=5)
    assert make.post(session, clock, settings, CHATTER, message_id="c1").result == Result.IGNORED
    make.post(session, clock, settings, CHATTER, message_id="c2")  # the same words again: another line
    assert [(line.message_id, line.said_at) for line in _lines(session)] == [("c1", first), ("c2", clock.now())]


def test_a_request_a_closing_remark_on_a_ticket_and_a_private_chat_are_not_kept(session, clock, settings, group):
    opened = make.post(session, clock, settings, "终端开不了机 咋整", message_id="r1")
    assert opened.result == Result.OPENED
    clock.advance(minutes=3)
    thanks = make.post(session, clock, settings, "好了 谢谢", message_id="r2")
    assert (thanks.result, thanks.ticket_id) == (Result.FOLLOW_UP, opened.ticket_id)  # kept on the ticket
    intake.handle_private_message(session, intake.PrivateMessage(platform="qq", user_id="10001", text=CHATTER),
                                  now=clock.now(), settings=settings, policies=Policies())
    session.commit()
    assert _lines(session) == []


def test_staff_make_a_ticket_of_a_line_the_bot_missed_from_now_and_the_retailer_is_told(session, clock, settings,
                                                                                        group, agent):
    """客户经理大半年没来过了 呵呵 taken for chatter: a complaint made of it has its reply clock from when a person
    saw it, the visit the complaint rule orders, the retailer's shop, and an acknowledgement quoting the line."""
    shop = make.retailer(session, clock)
    session.add(ChatBinding(platform="qq", chat_user_id="10001", retailer_id=shop.id, bound_at=clock.now()))
    session.commit()
    make.post(session, clock, settings, CHATTER, message_id="m-7")
    [line] = _lines(session)
    said_at = clock.now()
    clock.advance(minutes=40)

    opened = _make(session, clock, settings, line, "complaint", agent)

    ticket = session.get(Ticket, opened.ticket_id)
    assert (ticket.category, ticket.text, ticket.retailer_id, ticket.chat_group_id, ticket.created_at) == (
        "complaint", CHATTER, shop.id, group.id, clock.now())
    reply = session.exec(select(Pledge).where(Pledge.ticket_id == ticket.id, Pledge.kind == PledgeKind.REPLY)).one()
    assert reply.started_at == clock.now() and reply.state == PledgeState.PENDING
    visit = session.exec(select(Pledge).where(Pledge.ticket_id == ticket.id, Pledge.kind == PledgeKind.VISIT)).one()
    assert visit.state == PledgeState.PENDING
    [made] = session.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                    TicketEvent.action == "ticketed_by_staff")).all()
    assert (made.actor_kind, made.actor_id, made.detail) == (
        AuthorKind.STAFF, str(agent.id), {"said_at": said_at.isoformat(), "reason": "small_talk"})
    [ack] = _to(session, group.group_id)
    assert (ack.reply_to, ack.ticket_id) == ("m-7", ticket.id)
    assert f"已登记为工单 #{ticket.id}（意见投诉）" in ack.text
    session.refresh(line)
    assert (line.ticket_id, line.ticketed_by, line.ticketed_at) == (ticket.id, agent.id, clock.now())
    assert tickets.corrected_lines(session, said_at) == {"complaint": [CHATTER]}  # a line to train on
    day = clock.now().astimezone(settings.tz).date()
    work = workload.report(session, Period(day, day), Scope(), settings.tz, lambda _: True)
    assert (work.requests, work.ticketed_by_staff, work.asked_nothing) == (1, 1, 0)  # a request the bot missed
    page = timeline.ticket_page(session, agent, ticket.id, public_numbers=())
    assert [(e.who, e.text) for e in page.entries if e.text.startswith("机器人没建单")] == [
        ("客服一", "机器人没建单，工作人员补建（机器人当作闲聊）")]


def test_without_a_category_the_ticket_takes_the_request_the_model_finds_likeliest(session, clock, settings, group,
                                                                                   agent):
    """许可证延续的材料今天交上去了 reads as news, not a question; if it was one, it was about the licence."""
    make.post(session, clock, settings, "许可证延续的材料今天交上去了", message_id="m-1")
    [line] = _lines(session)
    opened = _make(session, clock, settings, line, None, agent)
    assert session.get(Ticket, opened.ticket_id).category == "monopoly"


@pytest.mark.parametrize("category", ["weather", "chatter", ""])
def test_a_category_that_is_not_one_is_refused_and_changes_nothing(session, clock, settings, group, agent, category):
    make.post(session, clock, settings, CHATTER)
    [line] = _lines(session)
    with pytest.raises(ServiceError, match="没有这个类别") if category else pytest.raises(NotFound):
        intake.ticket_from_unticketed(session, line.id if category else line.id + 99, category or None, agent,
                                      now=clock.now(), settings=settings, policies=Policies())
    session.rollback()
    assert _tickets(session) == 0 and _lines(session)[0].ticket_id is None and _to(session, group.group_id) == []


def test_a_line_already_made_a_ticket_of_is_refused_the_second_time(session, clock, settings, group, agent):
    make.post(session, clock, settings, CHATTER)
    [line] = _lines(session)
    first = _make(session, clock, settings, line, "other", agent)
    with pytest.raises(ServiceError, match=f"已建单：工单 #{first.ticket_id}"):
        intake.ticket_from_unticketed(session, line.id, "supply", agent, now=clock.now(), settings=settings,
                                      policies=Policies())
    session.rollback()
    assert _tickets(session) == 1 and len(_to(session, group.group_id)) == 1


def test_lines_nobody_made_a_ticket_of_are_forgotten_after_a_week(session, clock, settings, group, agent):
    make.post(session, clock, settings, CHATTER, message_id="old")
    make.post(session, clock, settings, "吃了吗 各位", message_id="made", user_id="10002")
    _make(session, clock, settings, _lines(session)[1], "other", agent)
    clock.advance(days=6, hours=23)
    make.post(session, clock, settings, "早上好", message_id="new", user_id="10003")
    assert tickets.forget_unticketed(session, now=clock.now()) == 0
    clock.advance(hours=1, minutes=1)
    assert tickets.forget_unticketed(session, now=clock.now()) == 1
    session.commit()
    assert [line.message_id for line in _lines(session)] == ["made", "new"]  # a ticket's line stays with it
    since = clock.now() - tickets.UNTICKETED_KEPT_FOR
    assert [line.message_id for line in tickets.unticketed_lines(session, since=since)] == ["new"]


# -- in the group: an agent quotes the line and says 建单 ----------------------------------------

def _staff_says(session, clock, settings, text, reply_to):
    return make.post(session, clock, settings, text, user_id="30001", reply_to=reply_to)


def test_an_agent_quoting_a_line_the_bot_left_alone_with_jiandan_makes_a_ticket_of_it(session, clock, settings,
                                                                                      group, agent):
    make.post(session, clock, settings, CHATTER, message_id="q1")
    clock.advance(minutes=10)
    said = _staff_says(session, clock, settings, "建单 投诉", "q1")
    [line] = _lines(session)
    ticket = session.get(Ticket, line.ticket_id)
    assert (said.result, said.ticket_id, ticket.category) == (Result.OPENED, ticket.id, "complaint")
    assert said.reply_text == texts.TICKETED_BY_STAFF.format(ticket_id=ticket.id, category="意见投诉")
    acks = [m for m in _to(session, group.group_id) if m.reply_to == "q1"]
    assert [m.ticket_id for m in acks] == [ticket.id]
    told = [m.text for m in _to(session, "30001")]  # privately, not in the group (after the unbound shop's
    assert told[-1] == said.reply_text and "请确认店铺" in told[0]  # visit task: the complaint rule orders one)

    again = _staff_says(session, clock, settings, "建单", "q1")  # the line is a ticket's now: not a reply "建单"
    assert again.reply_text == texts.ALREADY_TICKETED.format(ticket_id=ticket.id)
    assert _tickets(session) == 1 and session.exec(select(func.count()).select_from(TicketEvent).where(
        TicketEvent.action == "replied")).one() == 0


@pytest.mark.parametrize(("command", "quoted", "answer"), [
    ("建单 天气", "q1", texts.UNKNOWN_CATEGORY.format(word="天气")),
    ("建单", "nobody-said-this", texts.NOT_LEFT_ALONE),
])
def test_jiandan_on_an_unknown_category_or_a_line_not_left_alone_says_why_and_makes_nothing(
        session, clock, settings, group, agent, command, quoted, answer):
    make.post(session, clock, settings, CHATTER, message_id="q1")
    said = _staff_says(session, clock, settings, command, quoted)
    assert said.reply_text == answer
    assert _tickets(session) == 0 and _lines(session)[0].ticket_id is None
    assert [m.text for m in _to(session, "30001")] == [answer]


def test_a_category_is_named_by_any_unambiguous_part_of_its_label():
    assert [intake.category_named(word) for word in ("投诉", "意见投诉", "货源", "终端", "其他", "咨询", "天气")] == [
        "complaint", "complaint", "supply", "terminal", "other", None, None]  # 咨询: 营销, 专卖 and 送货咨询


@pytest.mark.skipif(not ON_POSTGRES, reason="two instances share one PostgreSQL database (SQLite has one writer)")
def test_two_people_making_a_ticket_of_one_line_at_once_make_one(session, clock, settings, group, agent):
    """One agent's 建单 holds the line until it commits; the other's waits for it, then is told it is a ticket."""
    make.post(session, clock, settings, CHATTER)
    [line] = _lines(session)
    engines = [make_engine(settings.database_url) for _ in range(2)]  # as two instances: the shared pool untouched
    first, second = Session(engines[0]), Session(engines[1])
    refused: list[Exception] = []

    def the_other_agent():
        try:
            intake.ticket_from_unticketed(second, line.id, "supply", agent, now=clock.now(), settings=settings,
                                          policies=Policies())
            second.commit()
        except ServiceError as error:
            refused.append(error)
            second.rollback()

    try:
        made = intake.ticket_from_unticketed(first, line.id, "complaint", agent, now=clock.now(), settings=settings,
                                             policies=Policies())
        other = threading.Thread(target=the_other_agent)
        other.start()
        with Session(engines[0]) as watcher:  # the other agent's unit of work waits on the line's lock
            waiting = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                           "AND datname = current_database()")
            for _ in range(2000):
                if watcher.execute(waiting).scalar_one():
                    break
                watcher.rollback()
                threading.Event().wait(0.005)
            else:
                pytest.fail("the second 建单 never waited for the first")
        first.commit()
        other.join(timeout=30)
    finally:
        first.close()
        second.close()
        for engine in engines:
            engine.dispose()
    assert [str(error) for error in refused] == [f"这条消息已建单：工单 #{made.ticket_id}"]
    assert _tickets(session) == 1
