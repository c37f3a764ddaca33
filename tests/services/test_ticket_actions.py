"""The services behind the ticket page's actions: pausing and resuming with a reason, the staff a
pledge can go to, and a ticket teaching the knowledge base."""

from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.models import Pledge, PledgeKind, PledgeState, Role, TicketEvent
from bot.policy import Policies
from bot.services import inbox, knowledge, pledges
from bot.services import staff as staff_service
from bot.services.errors import ServiceError
from tests import factories as make

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ticket_id(session, clock, settings, group):
    return make.post(session, clock, settings, "终端开不了机", message_id="m-1").ticket_id


def _events(session, ticket_id, action):
    return session.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id, TicketEvent.action == action)
                        .order_by(col(TicketEvent.id))).all()


def test_a_pause_and_a_resumption_keep_their_reasons_and_who_on_the_trail(session, clock, runtime, ticket_id):
    agent = make.staff(session, clock)
    tz = runtime.settings.tz
    pledge = pledges.pause_on_ticket(session, ticket_id, PledgeKind.REPLY, reason=" 等客户拍照片 ", staff_id=agent.id,
                                     now=clock.now(), policies=Policies(), tz=tz)
    session.commit()
    assert pledge.state == PledgeState.PAUSED and inbox.clock_of(pledge, clock.now()) == inbox.Clock.PAUSED
    clock.advance(minutes=30)
    pledges.resume_on_ticket(session, ticket_id, PledgeKind.REPLY, reason="照片收到了", staff_id=agent.id,
                             now=clock.now(), policies=Policies(), tz=tz)
    session.commit()
    [paused] = _events(session, ticket_id, "pledge_paused")
    [resumed] = _events(session, ticket_id, "pledge_resumed")
    assert (paused.detail["reason"], paused.actor_id) == ("等客户拍照片", str(agent.id))
    assert (resumed.detail["reason"], resumed.actor_id) == ("照片收到了", str(agent.id))


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_pause_without_a_reason_is_refused_and_changes_nothing(session, clock, runtime, ticket_id, reason):
    with pytest.raises(ServiceError, match="暂停原因不能为空"):
        pledges.pause_on_ticket(session, ticket_id, PledgeKind.REPLY, reason=reason, staff_id=None, now=clock.now(),
                                policies=Policies(), tz=runtime.settings.tz)
    session.rollback()
    assert session.exec(select(Pledge).where(Pledge.kind == PledgeKind.REPLY)).one().state == PledgeState.PENDING
    assert _events(session, ticket_id, "pledge_paused") == []


def test_clocks_that_are_not_running_or_missing_are_refused(session, clock, runtime, ticket_id):
    tz = runtime.settings.tz
    with pytest.raises(ServiceError, match="没有暂停"):
        pledges.resume_on_ticket(session, ticket_id, PledgeKind.REPLY, reason="好了", staff_id=None, now=clock.now(),
                                 policies=Policies(), tz=tz)
    with pytest.raises(ServiceError, match="没有满意度回访承诺"):
        pledges.pause_on_ticket(session, ticket_id, PledgeKind.CALLBACK, reason="等", staff_id=None, now=clock.now(),
                                policies=Policies(), tz=tz)


def test_the_api_may_still_pause_without_a_reason(session, clock, runtime, ticket_id):
    pledge = session.exec(select(Pledge).where(Pledge.kind == PledgeKind.REPLY)).one()
    pledges.pause(session, pledge, now=clock.now(), policies=Policies(), tz=runtime.settings.tz)
    session.commit()
    [paused] = _events(session, ticket_id, "pledge_paused")
    assert paused.detail["reason"] is None and paused.actor_kind == "system"


def test_a_pledge_can_go_to_active_staff_of_its_role(session, clock):
    agent = make.staff(session, clock, Role.AGENT, name="甲")
    both = make.staff(session, clock, Role.AGENT, Role.MANAGER, name="乙")
    manager = make.staff(session, clock, Role.MANAGER, name="丙")
    gone = make.staff(session, clock, Role.AGENT, name="丁")
    staff_service.update_staff(session, gone.id, {"active": False})
    session.commit()
    able = staff_service.able_to_take(session, [Role.AGENT, Role.MANAGER, Role.CALLBACK])
    assert {s.id for s in able[Role.AGENT]} == {agent.id, both.id}
    assert {s.id for s in able[Role.MANAGER]} == {both.id, manager.id}
    assert able[Role.CALLBACK] == []


@pytest.fixture
def base(session, clock):
    """The store seeded from the shipped files."""
    knowledge.seed(session, ROOT / "knowledge", now=clock.now())
    session.commit()


def _learn(session, clock, base, ticket_id, entry_id, **edits):
    entry = knowledge.learn_from_ticket(session, ticket_id, entry_id, staff_id=None, now=clock.now(),
                                        today=clock.now().date(), **edits)
    session.commit()
    return entry


def test_a_ticket_becomes_a_new_entry_with_the_edited_question_and_answer(session, clock, runtime, ticket_id, base):
    agent = make.staff(session, clock)
    from bot.services import intake

    intake.reply_via_api(session, ticket_id, agent, "长按电源键十秒重启终端", now=clock.now(), policies=Policies(),
                         tz=runtime.settings.tz)
    session.commit()
    entry = _learn(session, clock, base, ticket_id, "terminal.power-hold", question="终端开不了机怎么办",
                   answer="长按电源键十秒重启终端，仍不行请联系客服。")
    assert (entry.question, entry.answer) == ("终端开不了机怎么办", "长按电源键十秒重启终端，仍不行请联系客服。")
    assert knowledge.get_entry(session, "terminal.power-hold").answer == entry.answer
    [created] = _events(session, ticket_id, "knowledge_entry_created")
    assert created.detail["entry"] == "terminal.power-hold"
    defaults = _learn(session, clock, base, ticket_id, "terminal.power-default")  # nothing edited: the ticket's
    assert (defaults.question, defaults.answer) == ("终端开不了机", "长按电源键十秒重启终端")
    again = _learn(session, clock, base, ticket_id, "terminal.power-hold", question="终端黑屏没反应")
    assert "终端黑屏没反应" in again.similar and again.answer == entry.answer  # a wording, not a new answer
    assert len(_events(session, ticket_id, "wording_added")) == 1


@pytest.mark.parametrize("entry_id, edits, why", [
    ("终端.开机", {}, "格式不对"),
    ("terminal.power", {"question": " "}, "问题需 2 到 200 字"),
    ("terminal.power", {"question": "终端开不了机", "answer": "好"}, "答案需 2 到 600 字"),
    ("terminal.power", {}, "还没有客服回复"),
])
def test_bad_input_teaches_nothing(session, clock, ticket_id, base, entry_id, edits, why):
    with pytest.raises(ServiceError, match=why):
        _learn(session, clock, base, ticket_id, entry_id, **edits)
    session.rollback()
    assert not knowledge.entry_exists(session, "terminal.power")
    assert _events(session, ticket_id, "knowledge_entry_created") == []
