import threading
from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from bot.db import make_engine
from bot.models import Lane, OutboxMessage, OutboxStatus, Pledge, Role, Ticket, TicketEvent
from bot.policy import Policies
from bot.services import intake, outbox, pledges
from bot.services.errors import NotFound, ServiceError
from tests.factories import group as make_group
from tests.factories import staff as make_staff
from tests.support.databases import ON_POSTGRES


def queue(session, clock, n=1, platform="qq"):
    rows = [outbox.enqueue(session, now=clock.now(), platform=platform, target_kind="group",
                           target_id="900001", text=f"消息{i}") for i in range(n)]
    session.commit()
    return rows


def test_due_messages_are_claimed_once(session, clock, runtime):
    queue(session, clock, 3)
    first = outbox.claim_due(session, now=clock.now(), platforms=["qq"], worker="a")
    session.commit()
    with Session(runtime.engine) as other:
        assert outbox.claim_due(other, now=clock.now(), platforms=["qq"], worker="b") == []
    assert [m.status for m in first] == [OutboxStatus.SENDING] * 3


def test_only_platforms_with_a_connected_bot_are_claimed(session, clock):
    queue(session, clock, 1, platform="console")
    assert outbox.claim_due(session, now=clock.now(), platforms=["qq"], worker="a") == []
    assert outbox.claim_due(session, now=clock.now(), platforms=[], worker="a") == []


def test_failures_back_off_then_become_dead_letters(session, clock):
    [message] = queue(session, clock)
    for attempt in range(1, 4):
        [claimed] = outbox.claim_due(session, now=clock.now(), platforms=["qq"], worker="a")
        [failed] = outbox.mark_failed(session, [claimed.id], now=clock.now(), error="timeout", max_attempts=3)
        session.commit()
        if attempt < 3:
            assert failed.status == OutboxStatus.PENDING
            assert outbox.claim_due(session, now=clock.now(), platforms=["qq"], worker="a") == []
            clock.advance(failed.next_attempt_at - clock.now())
    assert session.get(OutboxMessage, message.id).status == OutboxStatus.DEAD
    assert session.get(OutboxMessage, message.id).last_error == "timeout"
    assert [m.id for m in outbox.list_messages(session, status="dead", offset=0, limit=10)] == [message.id]


def test_another_instances_unfinished_claim_is_taken_back_only_after_the_lease(session, clock):
    """It may still be alive and sending: only the lease running out says it is not."""
    [message] = queue(session, clock)
    claimed_at = clock.now()
    outbox.claim_due(session, now=claimed_at, platforms=["qq"], worker="host-a:8080")
    session.commit()
    started = claimed_at + timedelta(seconds=10)  # this worker has just (re)started
    soon = claimed_at + timedelta(seconds=30)
    assert outbox.take_back(session, now=soon, platforms=["qq"], worker="host-b:8080", started_at=started) == []
    assert outbox.claim_due(session, now=soon, platforms=["qq"], worker="host-b:8080") == []
    later = claimed_at + outbox.CLAIM_LEASE + timedelta(seconds=1)
    [taken] = outbox.take_back(session, now=later, platforms=["qq"], worker="host-b:8080", started_at=started)
    session.commit()
    assert (taken.message.id, taken.claimed_by, taken.claimed_at) == (message.id, "host-a:8080", claimed_at)
    stored = session.get(OutboxMessage, message.id)
    assert (stored.status, stored.claimed_by, stored.claimed_at) == (OutboxStatus.SENDING, "host-b:8080", later)


def test_a_restarted_worker_takes_back_its_own_earlier_claims_at_once(session, clock):
    """The same worker name claimed them before this start: that process is dead, it need not wait."""
    own = queue(session, clock, 3)
    outbox.claim_due(session, now=clock.now(), platforms=["qq"], worker="host-a:8080")
    others = queue(session, clock, 1)
    outbox.claim_due(session, now=clock.now(), platforms=["qq"], worker="host-a:8081")
    session.commit()
    claimed_at = clock.now()
    clock.advance(seconds=5)
    started = clock.now()
    live = queue(session, clock, 1)  # claimed by this life: not taken back from itself
    outbox.claim_due(session, now=clock.now(), platforms=["qq"], worker="host-a:8080")
    session.commit()
    clock.advance(seconds=1)
    taken = outbox.take_back(session, now=clock.now(), platforms=["qq"], worker="host-a:8080", started_at=started)
    session.commit()
    assert [(t.message.id, t.claimed_by, t.claimed_at) for t in taken] == [
        (message.id, "host-a:8080", claimed_at) for message in own]
    assert {session.get(OutboxMessage, m.id).claimed_at for m in own} == {clock.now()}
    assert outbox.take_back(session, now=clock.now(), platforms=["qq"], worker="host-a:8080",
                            started_at=started) == []  # taken back once, now live claims of this life
    for message, worker in [(others[0], "host-a:8081"), (live[0], "host-a:8080")]:
        stored = session.get(OutboxMessage, message.id)
        assert (stored.status, stored.claimed_by) == (OutboxStatus.SENDING, worker)
    assert outbox.take_back(session, now=clock.now(), platforms=["console"], worker="host-a:8080",
                            started_at=started) == []  # no bot to check or send them with


@pytest.mark.skipif(not ON_POSTGRES, reason="two instances share one PostgreSQL database")
def test_two_instances_claiming_at_once_never_take_the_same_row(session, clock, runtime):
    queue(session, clock, 60)
    engines = [make_engine(runtime.settings.database_url) for _ in range(2)]
    start, claimed = threading.Barrier(2), []

    def instance(engine, worker):
        start.wait()
        while True:
            with Session(engine) as own:
                batch = [m.id for m in outbox.claim_due(own, now=clock.now(), platforms=["qq"], worker=worker,
                                                        limit=4)]
                own.commit()
            if not batch:
                return
            claimed.extend((worker, message_id) for message_id in batch)

    threads = [threading.Thread(target=instance, args=(engine, f"w{n}")) for n, engine in enumerate(engines)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    ids = [message_id for _, message_id in claimed]
    assert len(ids) == 60 == len(set(ids))
    assert {worker for worker, _ in claimed} == {"w0", "w1"}
    for engine in engines:
        engine.dispose()


# -- lanes, dedupe, stale notices ------------------------------------------------------------

def test_a_claimed_combinable_row_brings_its_groups_others_up_to_a_message(session, clock):
    """In a burst a claim's oldest rows belong to many groups: each group's notes (acknowledgements, quotas sent
    privately) come with it, so the sender combines them instead of sending them one a turn."""
    groups = [str(900_001 + n) for n in range(3)]
    rows = []
    for n in range(36):  # 12 a group, each beside a private quota, interleaved as they come in a burst
        target = groups[n % 3]
        rows.append(outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="private",
                                   target_id=str(10_000 + n), text="您的限量"))
        rows.append(outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="group", target_id=target,
                                   text="您的限量已私信发给您", kind=outbox.TOLD_PRIVATELY,
                                   mention_user_id=str(10_000 + n)))
    outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="group", target_id=groups[0], text="答复")
    session.commit()
    claimed = outbox.claim_due(session, now=clock.now(), platforms=["qq"], worker="a", limit=4)
    session.commit()
    by_kind = [(m.target_kind, m.target_id) for m in claimed]
    assert by_kind.count(("private", "10000")) == 1 and by_kind.count(("private", "10001")) == 1
    told = [m for m in claimed if m.kind == outbox.TOLD_PRIVATELY]
    assert {m.target_id: sum(t.target_id == m.target_id for t in told) for m in told} == {groups[0]: 10, groups[1]: 10}
    assert [m.id for m in told if m.target_id == groups[0]] == [
        r.id for r in rows if r.kind == outbox.TOLD_PRIVATELY and r.target_id == groups[0]][:10]  # oldest first
    assert all(m.status == OutboxStatus.SENDING for m in claimed)
    rest = outbox.claim_due(session, now=clock.now(), platforms=["qq"], worker="b", limit=100)
    assert not {m.id for m in rest} & {m.id for m in claimed} and len(rest) + len(claimed) == 73


def notice(session, clock, target_id, *, lane=Lane.ESCALATION, **extra):
    return outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="private", target_id=target_id,
                          text=f"【已超时】通知 {target_id}", lane=lane, **extra)


def test_enqueue_writes_nothing_for_a_dedupe_key_already_queued(session, clock):
    first = notice(session, clock, "31001", dedupe_key="pledge:1:breach")
    session.commit()
    assert notice(session, clock, "31001", dedupe_key="pledge:1:breach") is None
    session.commit()  # no IntegrityError, nothing half-written
    assert [m.id for m in session.exec(select(OutboxMessage))] == [first.id]


def test_enqueue_many_skips_keys_already_queued_or_repeated(session, clock):
    notice(session, clock, "31001", dedupe_key="a")
    rows = [dict(platform="qq", target_kind="group", target_id="900001", text=f"第{n}部分", lane=Lane.BROADCAST,
                 dedupe_key=key) for n, key in enumerate(["a", "b", "b", "c"])]
    rows.append(dict(platform="qq", target_kind="group", target_id="900001", text="无键", lane=Lane.BROADCAST))
    outbox.enqueue_many(session, rows, now=clock.now())
    session.commit()
    stored = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(m.dedupe_key, m.text, m.lane) for m in stored] == [
        ("a", "【已超时】通知 31001", Lane.ESCALATION), ("b", "第1部分", Lane.BROADCAST),
        ("c", "第3部分", Lane.BROADCAST), (None, "无键", Lane.BROADCAST)]
    assert all(m.status == OutboxStatus.PENDING and m.next_attempt_at == clock.now() for m in stored)


def test_enqueue_many_refuses_a_field_the_outbox_does_not_have(session, clock):
    with pytest.raises(TypeError, match="colour"):
        outbox.enqueue_many(session, [dict(platform="qq", target_kind="group", target_id="1", text="x",
                                           colour="red")], now=clock.now())


def test_a_reply_queued_after_300_escalations_is_claimed_first(session, clock):
    rows = [dict(platform="qq", target_kind="private", target_id=str(31_000 + n), text=f"【已超时】{n}",
                 lane=Lane.ESCALATION) for n in range(300)]
    rows += [dict(platform="qq", target_kind="group", target_id="900001", text=f"货源{n}", lane=Lane.BROADCAST)
             for n in range(5)]
    outbox.enqueue_many(session, rows, now=clock.now())
    staff = notice(session, clock, "32001", lane=Lane.STAFF)
    reply = outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="group", target_id="900001",
                           text="【工单 #1 客服回复】已处理", lane=Lane.REPLY)
    session.commit()
    claimed = outbox.claim_due(session, now=clock.now(), platforms=["qq"], worker="a", limit=20)
    assert [m.id for m in claimed[:2]] == [reply.id, staff.id]
    assert [m.lane for m in claimed[2:]] == [Lane.ESCALATION] * 18
    assert [m.text for m in claimed[2:4]] == ["【已超时】0", "【已超时】1"]  # then oldest first


@pytest.fixture
def ticket(session, clock, runtime):
    from tests import factories as make

    make.group(session, clock)
    outcome = make.post(session, clock, runtime.settings, "扫码枪扫不出来怎么办")
    make.sent(session, outcome.ticket_id, "ack-1", clock)  # the acknowledgement went out: only notices are queued
    pledge = session.exec(select(Pledge).where(Pledge.ticket_id == outcome.ticket_id)).one()
    return outcome.ticket_id, pledge.id


def _meet(session, clock, runtime, ticket_id):
    from tests import factories as make

    agent = make.staff(session, clock, Role.AGENT, chat_user_id="31001")
    intake.reply_via_api(session, ticket_id, agent, "已处理", now=clock.now(), policies=Policies(),
                         tz=runtime.settings.tz)


def _restart(session, clock, runtime, ticket_id):
    pledges.reopen(session, session.get(Ticket, ticket_id), reason="staff", now=clock.now(), policies=Policies(),
                   tz=runtime.settings.tz, actor_kind="staff", actor_id=None)


def _pause(session, clock, runtime, ticket_id):
    pledge = session.exec(select(Pledge).where(Pledge.ticket_id == ticket_id)).one()
    pledges.pause(session, pledge, now=clock.now(), policies=Policies(), tz=runtime.settings.tz)


@pytest.mark.parametrize("change, why", [(_meet, "met"), (_restart, "restarted"), (_pause, "paused")])
def test_a_notice_whose_pledge_is_no_longer_running_is_dropped_not_claimed(session, clock, runtime, ticket,
                                                                           change, why):
    ticket_id, pledge_id = ticket
    queued = [notice(session, clock, "31001", pledge_id=pledge_id, ticket_id=ticket_id, kind="escalation"),
              notice(session, clock, "32001", lane=Lane.STAFF, pledge_id=pledge_id, ticket_id=ticket_id)]
    other = notice(session, clock, "33001")
    session.commit()
    clock.advance(minutes=5)
    change(session, clock, runtime, ticket_id)
    session.commit()
    claimed = outbox.claim_due(session, now=clock.now(), platforms=["qq"], worker="a")
    session.commit()
    assert other.id in [m.id for m in claimed]
    assert not {m.id for m in queued} & {m.id for m in claimed}
    for message in queued:
        stored = session.get(OutboxMessage, message.id)
        session.refresh(stored)
        assert stored.status == OutboxStatus.DROPPED and stored.sent_at is None
        assert why in stored.last_error


def test_a_notice_queued_after_a_restart_is_kept(session, clock, runtime, ticket):
    ticket_id, pledge_id = ticket
    clock.advance(minutes=5)
    _restart(session, clock, runtime, ticket_id)
    session.commit()
    fresh = notice(session, clock, "31001", pledge_id=pledge_id, ticket_id=ticket_id)
    session.commit()
    assert [m.id for m in outbox.claim_due(session, now=clock.now(), platforms=["qq"], worker="a")] == [fresh.id]


def test_a_claimed_notice_is_dropped_if_its_pledge_is_met_before_it_goes_out(session, clock, runtime, ticket):
    ticket_id, pledge_id = ticket
    stale = notice(session, clock, "31001", pledge_id=pledge_id, ticket_id=ticket_id)
    plain = notice(session, clock, "32001")
    session.commit()
    claimed = outbox.claim_due(session, now=clock.now(), platforms=["qq"], worker="a")
    session.commit()
    assert {m.id for m in claimed} == {stale.id, plain.id}
    assert outbox.still_wanted(session, [stale.id, plain.id]) == [stale.id, plain.id]
    _meet(session, clock, runtime, ticket_id)
    session.commit()
    assert outbox.still_wanted(session, [stale.id, plain.id]) == [plain.id]
    session.commit()
    assert session.get(OutboxMessage, stale.id).status == OutboxStatus.DROPPED


def test_a_unit_of_work_that_queued_something_says_so(runtime, clock):
    def queue_one(session):
        notice(session, clock, "31001")
        return session.info

    def read_only(session):
        outbox.list_messages(session, status=None, offset=0, limit=1)
        return session.info

    assert runtime.unit_of_work(queue_one).get(outbox.ENQUEUED) is True
    assert not runtime.unit_of_work(read_only).get(outbox.ENQUEUED)


def _dead(session, clock, **extra):
    """A message that failed every attempt."""
    message = outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="group", target_id="900001",
                             text="补货通知", **extra)
    session.commit()
    claimed = outbox.claim_due(session, now=clock.now(), platforms=["qq"], worker="a")
    outbox.mark_failed(session, [message.id], now=clock.now(), error="群不存在", max_attempts=1)
    outbox.release(session, [m.id for m in claimed if m.id != message.id])  # the others wait on
    session.commit()
    return message.id


def test_queues_count_what_waits_since_when_and_the_dead_per_account_and_lane(session, clock):
    _dead(session, clock)
    first_waiting = clock.now()
    queue(session, clock, 2)
    clock.advance(minutes=5)
    outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="private", target_id="30001", text="任务",
                   lane=Lane.STAFF)
    session.commit()
    assert [(q.platform, q.bot_id, q.lane, q.waiting, q.oldest, q.dead, q.sends) for q in outbox.queues(session)] == [
        ("qq", None, Lane.REPLY, 2, first_waiting, 1, 2), ("qq", None, Lane.STAFF, 1, clock.now(), 0, 1)]


def test_a_backlog_of_acknowledgements_counts_the_combined_messages_they_make(session, clock):
    """After a notice hundreds ask at once: 23 acknowledgements in one group go out as 3 messages (10 a message),
    2 in another as 1; a quoted answer is a message of its own."""
    for group, count in (("900001", 23), ("900002", 2)):
        for n in range(count):
            outbox.enqueue(session, now=clock.now(), platform="qq", bot_id="20001", target_kind="group",
                           target_id=group, text=f"收到 #{n}", lane=Lane.REPLY, kind=outbox.ACK,
                           mention_user_id=str(10_000 + n))
    outbox.enqueue(session, now=clock.now(), platform="qq", bot_id="20001", target_kind="group", target_id="900001",
                   text="【自动回答】", lane=Lane.REPLY)
    session.commit()
    [found] = outbox.queues(session)
    assert (found.waiting, found.sends) == (26, 5)
    assert outbox.minutes_to_send([found], 30) == {("qq", "20001", Lane.REPLY): 5 / 30}


def test_a_dead_letter_is_sent_again_or_cancelled_and_the_tickets_trail_says_who(session, clock, runtime):
    make_group(session, clock)
    agent = make_staff(session, clock)
    ticket_id = intake.handle_group_message(session, intake.GroupMessage(
        platform="qq", group_id="900001", user_id="10001", text="新品什么时候到", message_id="m1",
        sender_name="老王", reply_to=None, self_id="20000"), now=clock.now(), settings=runtime.settings,
        policies=Policies(), knowledge=None).ticket_id
    session.commit()
    retried = _dead(session, clock, ticket_id=ticket_id)
    cancelled = _dead(session, clock, ticket_id=ticket_id)
    clock.advance(minutes=3)
    again = outbox.retry_dead(session, retried, now=clock.now(), staff_id=agent.id)
    outbox.cancel_unsent(session, cancelled, now=clock.now(), staff_id=agent.id)
    session.commit()
    assert (again.status, again.attempts, again.next_attempt_at, again.last_error) == (
        OutboxStatus.PENDING, 0, clock.now(), "群不存在")
    assert session.get(OutboxMessage, cancelled).status == OutboxStatus.CANCELLED
    trail = [(e.action, e.actor_id, e.detail["message_id"]) for e in session.exec(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id,
                                  col(TicketEvent.action).startswith("outbox_")).order_by(col(TicketEvent.id)))]
    assert trail == [("outbox_retried", str(agent.id), retried), ("outbox_cancelled", str(agent.id), cancelled)]

    for refused in (lambda: outbox.retry_dead(session, retried, now=clock.now(), staff_id=agent.id),  # waiting
                    lambda: outbox.cancel_unsent(session, cancelled, now=clock.now(), staff_id=agent.id)):
        with pytest.raises(ServiceError):
            refused()
    with pytest.raises(NotFound):
        outbox.retry_dead(session, 999_999, now=clock.now(), staff_id=agent.id)


def test_the_time_to_send_a_backlog_counts_the_lanes_sent_first_on_the_same_account():
    """The console's 按限速还需: broadcast parts wait for the replies queued on their account (bench/burst.py
    measured a notice's last parts going out after the whole reply backlog)."""
    def queue(bot_id, lane, waiting):
        return outbox.Queue("qq", bot_id, lane, waiting, None, 0, waiting)

    assert outbox.sends_per_minute(30, 1.5, 0.5) == 30  # the defaults: the limit is the tighter rule
    assert outbox.sends_per_minute(240, 0.5, 0) == 120  # a gap of half a second allows 120
    assert outbox.sends_per_minute(60, 0, 0) == 60
    found = [queue("20001", Lane.BROADCAST, 6), queue("20001", Lane.REPLY, 900), queue("20002", Lane.REPLY, 30),
             queue(None, Lane.REPLY, 4)]
    assert outbox.minutes_to_send(found, 30) == {
        ("qq", "20001", Lane.REPLY): 30, ("qq", "20001", Lane.BROADCAST): 30.2, ("qq", "20002", Lane.REPLY): 1,
        ("qq", None, Lane.REPLY): None}
