"""The sender drains the outbox through whatever bots are connected."""

import asyncio
import functools
from itertools import pairwise

import pytest
from sqlmodel import select

from bot.models import Lane, OutboxMessage, OutboxStatus
from bot.policy import Policies
from bot.sender import Sender
from bot.services import intake, outbox
from tests import factories as make
from tests.support.pacing import most_in_any_window, per_minute


class RecordingTransport:
    """Stands in for the chat connection; the end-to-end tests use a real one."""

    def __init__(self, bots=None, fail_times=0):
        self.bots = {"20000": "qq"} if bots is None else bots
        self.sent, self.fail_times = [], fail_times

    def connected(self):
        return self.bots

    async def send(self, bot_id, rows):
        if self.fail_times:
            self.fail_times -= 1
            raise TimeoutError("no answer from the bot")
        self.sent.append((bot_id, rows[0].target_id, "\n".join(text for _, text in outbox.compose(rows))))
        return str(len(self.sent))


@pytest.fixture
def queued(session, clock):
    outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="group", target_id="900001",
                   text="您好", bot_id="20000")
    session.commit()


async def test_messages_go_out_and_are_marked_sent(runtime, session, queued):
    transport = RecordingTransport()
    assert await Sender(runtime, transport).deliver_due() == 1
    assert transport.sent == [("20000", "900001", "您好")]
    row = session.exec(select(OutboxMessage)).one()
    assert (row.status, row.sent_message_id, row.attempts) == (OutboxStatus.SENT, "1", 1)


async def test_nothing_is_lost_while_no_bot_is_connected(runtime, session, queued):
    offline = RecordingTransport(bots={})
    assert await Sender(runtime, offline).deliver_due() == 0
    assert session.exec(select(OutboxMessage)).one().status == OutboxStatus.PENDING
    online = RecordingTransport()
    assert await Sender(runtime, online).deliver_due() == 1


async def test_another_account_of_the_platform_takes_over(runtime, queued):
    transport = RecordingTransport(bots={"20001": "qq"})
    await Sender(runtime, transport).deliver_due()
    assert transport.sent[0][0] == "20001"


async def test_a_failed_send_is_retried_later(runtime, session, clock, queued):
    transport = RecordingTransport(fail_times=1)
    virtual = VirtualTime()  # the retry waits for the account's next turn
    sender = Sender(runtime, transport, monotonic=virtual.monotonic, sleep=virtual.sleep)
    assert await sender.deliver_due() == 0
    row = session.exec(select(OutboxMessage)).one()
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert await sender.deliver_due() == 0  # not due yet
    clock.advance(seconds=5)
    assert await sender.deliver_due() == 1


class VirtualTime:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    async def sleep(self, seconds):
        """Accounts pace concurrently: each sleeper wakes at its own time, not after the others' sleeps."""
        wake_at = self.now + seconds
        await asyncio.sleep(0)  # let the other accounts' senders start their waits from the same moment
        self.now = max(self.now, wake_at)


class Drained(Exception):
    """The sender went idle: it asked for the poll interval."""


POLL = 3600.0  # a poll sleep, told apart from any pacing wait (which never reaches a minute)


def queue(session, clock, count, bots=("20000",)):
    for n in range(count):
        outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="group", target_id=str(900_000 + n),
                       text=f"通知{n}", bot_id=bots[n % len(bots)])
    session.commit()


async def drain(runtime, bots=("20000",), **settings):
    """Run the real `run_forever` in virtual time until it first idles; (bot, time) of every send."""
    virtual, stamps = VirtualTime(), []

    async def sleep(seconds):
        if seconds >= POLL:
            raise Drained
        await virtual.sleep(seconds)

    class StampingTransport(RecordingTransport):
        async def send(self, bot_id, rows):
            stamps.append((bot_id, virtual.now))
            return await super().send(bot_id, rows)

    original = runtime.settings
    runtime.settings = original.model_copy(update={"outbox_poll_seconds": POLL, **settings})
    try:
        sender = Sender(runtime, StampingTransport(bots={bot: "qq" for bot in bots}),
                        monotonic=virtual.monotonic, sleep=sleep)
        with pytest.raises(Drained):
            await sender.run_forever()
    finally:
        runtime.settings = original
    return stamps


@pytest.mark.parametrize("limit, min_interval, jitter", [(30, 0, 0), (30, 1.5, 0.5), (7, 1.5, 0.5), (50, 0.5, 0.4)])
async def test_no_minute_holds_more_than_the_limit_and_the_rate_reaches_it(runtime, session, clock, limit,
                                                                           min_interval, jitter):
    queue(session, clock, 3 * limit)
    stamps = await drain(runtime, outbox_rate_per_minute=limit, outbox_min_interval_seconds=min_interval,
                         outbox_jitter_seconds=jitter)
    times = [at for _, at in stamps]
    assert len(times) == 3 * limit  # every full batch led straight into the next pass
    assert most_in_any_window(times, 60) <= limit
    assert 0.95 * limit <= per_minute(times) <= limit, per_minute(times)
    # spread evenly rather than a minute's worth at once: one send per 60/limit seconds
    assert min(b - a for a, b in pairwise(times)) >= 60 / limit - 0.001


async def test_each_bot_account_has_a_limit_of_its_own(runtime, session, clock):
    bots = ("20000", "20001")
    queue(session, clock, 2 * 3 * 20, bots=bots)
    stamps = await drain(runtime, bots=bots, outbox_rate_per_minute=20)
    for bot in bots:
        times = [at for who, at in stamps if who == bot]
        assert len(times) == 3 * 20 and most_in_any_window(times, 60) <= 20
        assert 0.95 * 20 <= per_minute(times) <= 20
    # the two accounts send side by side: together twice one account's rate
    everything = [at for _, at in stamps]
    assert per_minute(everything) >= 0.95 * 2 * 20


async def test_the_sender_idles_only_when_nothing_more_is_due(runtime, session, clock):
    queue(session, clock, 45)  # more than two claims' worth
    stamps = await drain(runtime, outbox_rate_per_minute=6000)
    assert len(stamps) == 45
    assert not session.exec(select(OutboxMessage).where(OutboxMessage.status != OutboxStatus.SENT)).all()


async def test_each_bot_account_is_paced_with_jitter(runtime, session, clock):
    """Where the rate limit allows more, the minimum interval plus a random jitter paces each account."""
    for n in range(6):
        outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="group", target_id=str(900_000 + n),
                       text=f"通知{n}", bot_id="20000" if n % 2 == 0 else "20001")
    session.commit()
    paced = runtime.settings.model_copy(update={"outbox_min_interval_seconds": 1.5, "outbox_jitter_seconds": 0.5,
                                                "outbox_rate_per_minute": 120})
    virtual, stamps = VirtualTime(), []

    class StampingTransport(RecordingTransport):
        async def send(self, bot_id, rows):
            stamps.append((bot_id, virtual.now))
            return await super().send(bot_id, rows)

    original, runtime.settings = runtime.settings, paced
    try:
        sender = Sender(runtime, StampingTransport(bots={"20000": "qq", "20001": "qq"}),
                        monotonic=virtual.monotonic, sleep=virtual.sleep)
        assert await sender.deliver_due() == 6
    finally:
        runtime.settings = original
    all_gaps = []
    for bot in ("20000", "20001"):
        times = [at for who, at in stamps if who == bot]
        gaps = [later - earlier for earlier, later in pairwise(times)]
        assert len(times) == 3 and all(1.5 <= gap <= 2.0 for gap in gaps), gaps
        all_gaps += gaps
    assert len({round(gap, 6) for gap in all_gaps}) > 1  # jittered, not a fixed beat


async def test_a_notice_broadcast_to_many_groups_goes_out_at_the_limit(runtime, session, clock):
    from bot.services import broadcast, supply
    from bot.services.supply import ItemIn
    from tests import factories as make

    for n in range(40):
        make.group(session, clock, str(910_000 + n), bot_id="20000")
    tz = runtime.settings.tz
    notice = make.supply_notice(session, clock, tz, [
        ItemIn(product="玉溪(软)", quotas=[{"min_grade": 1, "max_grade": 30, "cartons": 5}])])
    supply.publish(session, notice.id, now=clock.now(), tz=tz)
    session.commit()
    stamps = await drain(runtime, outbox_rate_per_minute=20, outbox_min_interval_seconds=1.5,
                         outbox_jitter_seconds=0.5)
    times = [at for _, at in stamps]
    assert len(times) == 40 and most_in_any_window(times, 60) <= 20
    assert 0.95 * 20 <= per_minute(times) <= 20
    statuses = broadcast.deliveries(session, subject="supply", subject_id=notice.id)
    assert {item.status for item in statuses} == {"sent"} and len(statuses) == 40


# -- lanes, combining, dropping and waking -------------------------------------------------------

class Stop(Exception):
    """Raised by a test's sleep hook to end `run_forever` once the outbox is drained."""


def in_virtual_time(runtime, transport, **settings):
    """A Sender on virtual time whose idle poll ends the run (raises Stop)."""
    virtual = VirtualTime()

    async def sleep(seconds):
        if seconds >= POLL:
            raise Stop
        await virtual.sleep(seconds)

    runtime.settings = runtime.settings.model_copy(update={"outbox_poll_seconds": POLL, **settings})
    return Sender(runtime, transport, monotonic=virtual.monotonic, sleep=sleep), virtual


@pytest.fixture
def restore_settings(runtime):
    original = runtime.settings
    yield
    runtime.settings = original


class RowsTransport(RecordingTransport):
    """Keeps what each send carried: (virtual time, rows)."""

    def __init__(self, virtual_now=lambda: 0.0, on_send=None):
        super().__init__()
        self.sends, self.virtual_now, self.on_send = [], virtual_now, on_send

    async def send(self, bot_id, rows):
        self.sends.append((self.virtual_now(), rows))
        if self.on_send:
            await self.on_send(len(self.sends), rows)
        return await super().send(bot_id, rows)


async def test_a_reply_queued_behind_300_escalations_goes_out_at_the_next_turn(runtime, session, clock,
                                                                              restore_settings):
    outbox.enqueue_many(session, [dict(platform="qq", target_kind="private", target_id=str(31_000 + n),
                                       text=f"【已超时】{n}", lane=Lane.ESCALATION, bot_id="20000")
                                  for n in range(300)], now=clock.now())
    session.commit()

    async def agent_replies(count, rows):
        if count == 3:  # while the third escalation is going out
            await runtime.run(outbox.enqueue, now=clock.now(), platform="qq", target_kind="group",
                              target_id="900001", text="【工单 #1 客服回复】已处理", bot_id="20000")

    transport = RowsTransport(on_send=agent_replies)
    sender, virtual = in_virtual_time(runtime, transport, outbox_rate_per_minute=30)
    transport.virtual_now = virtual.monotonic
    with pytest.raises(Stop):
        await sender.run_forever()
    texts = [rows[0].text for _, rows in transport.sends]
    assert len(texts) == 301 and texts[3] == "【工单 #1 客服回复】已处理"
    assert transport.sends[3][0] - transport.sends[2][0] == pytest.approx(2.0)  # one send interval at 30/min
    times = [at for at, _ in transport.sends]
    assert most_in_any_window(times, 60) <= 30  # the turn given back was not used twice
    assert not session.exec(select(OutboxMessage).where(OutboxMessage.status != OutboxStatus.SENT)).all()


def acknowledgements(session, clock, settings, count, group_id="900001"):
    """`count` retailers' questions, each acknowledged through the outbox by intake."""
    from tests import factories as make

    rows = []
    for n in range(count):
        user = str(10_001 + n)
        outcome = make.post(session, clock, settings, f"扫码枪扫不出来怎么办{n}", user_id=user, group_id=group_id,
                            message_id=str(600_000 + n))
        rows.append(session.exec(select(OutboxMessage).where(OutboxMessage.ticket_id == outcome.ticket_id,
                                                             OutboxMessage.kind == outbox.ACK)).one())
    return rows


async def test_acknowledgements_in_a_burst_go_as_one_message_naming_each(runtime, session, clock,
                                                                          restore_settings):
    from tests import factories as make

    make.group(session, clock)
    acks = acknowledgements(session, clock, runtime.settings, 12)
    transport = RowsTransport()
    sender, virtual = in_virtual_time(runtime, transport, outbox_rate_per_minute=30)
    transport.virtual_now = virtual.monotonic
    assert await sender.deliver_due() == 12
    assert [len(rows) for _, rows in transport.sends] == [10, 2]  # at most 10 to a message
    assert transport.sends[1][0] - transport.sends[0][0] == pytest.approx(2.0)  # each counted as one send
    lines = outbox.compose(transport.sends[0][1])
    assert lines[0] == (None, "以下 10 条提问已分别登记为工单，客服会逐一回复：")
    assert lines[1:] == [(ack.mention_user_id, ack.text) for ack in acks[:10]]
    session.expire_all()
    stored = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(m.status, m.sent_message_id) for m in stored] == [(OutboxStatus.SENT, "1")] * 10 + [
        (OutboxStatus.SENT, "2")] * 2
    assert outbox.tickets_of_sent_message(session, target_id="900001", sent_message_id="1") == [
        ack.ticket_id for ack in acks[:10]]
    assert outbox.tickets_of_sent_message(session, target_id="900002", sent_message_id="1") == []


async def test_a_single_acknowledgement_goes_as_it_is_quoting_the_retailer(runtime, session, clock,
                                                                          restore_settings):
    from tests import factories as make

    make.group(session, clock)
    make.group(session, clock, "900002")
    [one] = acknowledgements(session, clock, runtime.settings, 1)
    [other] = acknowledgements(session, clock, runtime.settings, 1, group_id="900002")
    transport = RowsTransport()
    sender, _ = in_virtual_time(runtime, transport)
    assert await sender.deliver_due() == 2
    assert [[row.id for row in rows] for _, rows in transport.sends] == [[one.id], [other.id]]
    assert transport.sends[0][1][0].reply_to == one.reply_to
    assert transport.sent[0][2] == one.text
    assert outbox.tickets_of_sent_message(session, target_id="900001", sent_message_id="1") == [one.ticket_id]


async def test_escalations_for_one_recipient_within_a_minute_go_as_one_digest(runtime, session, clock,
                                                                             restore_settings):
    def escalate(target, text):
        return outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="private", target_id=target,
                              text=text, lane=Lane.ESCALATION, kind=outbox.ESCALATION, bot_id="20000")

    first = escalate("41001", "【超时上报·第1级】工单 #1")
    other = escalate("41002", "【超时上报·第1级】工单 #2")
    clock.advance(seconds=30)
    second = escalate("41001", "【超时上报·第1级】工单 #3")
    clock.advance(seconds=30)
    third = escalate("41001", "【超时上报·第1级】工单 #4")
    clock.advance(minutes=2)
    later = escalate("41001", "【超时上报·第2级】工单 #1")
    session.commit()
    transport = RowsTransport()
    sender, _ = in_virtual_time(runtime, transport)
    assert await sender.deliver_due() == 5
    assert [[row.id for row in rows] for _, rows in transport.sends] == [
        [first.id, second.id, third.id], [other.id], [later.id]]
    assert transport.sent[0] == ("20000", "41001", "【超时汇总】共 3 条\n1. 【超时上报·第1级】工单 #1\n"
                                                   "2. 【超时上报·第1级】工单 #3\n3. 【超时上报·第1级】工单 #4")
    assert transport.sent[2][2] == "【超时上报·第2级】工单 #1"
    session.expire_all()
    assert {m.status for m in session.exec(select(OutboxMessage))} == {OutboxStatus.SENT}


async def test_an_escalation_whose_pledge_is_met_while_it_waits_is_not_sent(runtime, session, clock,
                                                                           restore_settings):
    from bot.models import Pledge, Role, StaffMember, Ticket
    from bot.policy import Policies
    from bot.services import intake
    from tests import factories as make

    make.group(session, clock)
    outcome = make.post(session, clock, runtime.settings, "扫码枪扫不出来怎么办")
    make.sent(session, outcome.ticket_id, "ack-1", clock)
    pledge = session.exec(select(Pledge).where(Pledge.ticket_id == outcome.ticket_id)).one()
    agent = make.staff(session, clock, Role.AGENT, chat_user_id="31001")
    first = outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="private", target_id="32001",
                           text="【回访任务】工单 #9", lane=Lane.STAFF, bot_id="20000")
    stale = outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="private", target_id="31001",
                           text="【已超时】工单 #1", lane=Lane.ESCALATION, kind=outbox.ESCALATION,
                           pledge_id=pledge.id, ticket_id=outcome.ticket_id, bot_id="20000")
    session.commit()

    def reply_in_the_group(session):  # meets the pledge and queues nothing
        intake.record_reply(session, session.get(Ticket, outcome.ticket_id), session.get(StaffMember, agent.id),
                            "已处理", now=clock.now(), policies=Policies(), tz=runtime.settings.tz, via="chat",
                            post=False)

    async def agent_replies(count, rows):  # while the first notice goes out, both already claimed
        if count == 1:
            await runtime.run(reply_in_the_group)

    transport = RowsTransport(on_send=agent_replies)
    sender, _ = in_virtual_time(runtime, transport)
    assert await sender.deliver_due() == 1
    assert [rows[0].id for _, rows in transport.sends] == [first.id]
    session.expire_all()
    dropped = session.get(OutboxMessage, stale.id)
    assert (dropped.status, dropped.attempts, dropped.sent_at) == (OutboxStatus.DROPPED, 0, None)
    assert "met" in dropped.last_error


@pytest.mark.parametrize("through", ["event loop", "worker thread"])
async def test_a_commit_that_queued_something_wakes_the_idle_sender(runtime, clock, through):
    """The sender waits on an hour-long poll; the enqueue alone must bring it back."""
    idle, delivered = asyncio.Event(), asyncio.Event()

    async def sleep(seconds):
        if seconds >= POLL:
            idle.set()
            await asyncio.Future()  # the poll never ends by itself
        # otherwise a pacing wait, which one send never needs

    class Signalling(RecordingTransport):
        async def send(self, bot_id, rows):
            delivered.set()
            return await super().send(bot_id, rows)

    original = runtime.settings
    runtime.settings = original.model_copy(update={"outbox_poll_seconds": POLL})
    transport = Signalling()
    task = asyncio.create_task(Sender(runtime, transport, monotonic=VirtualTime().monotonic, sleep=sleep)
                               .run_forever())
    try:
        await asyncio.wait_for(idle.wait(), timeout=30)
        queue_one = functools.partial(outbox.enqueue, now=clock.now(), platform="qq", target_kind="group",
                                      target_id="900001", text="收到，已登记为工单 #1。", kind=outbox.ACK)
        if through == "event loop":
            await runtime.run(queue_one)
        else:  # FastAPI runs a sync route's unit of work in a worker thread
            await asyncio.to_thread(runtime.unit_of_work, queue_one)
        await asyncio.wait_for(delivered.wait(), timeout=30)  # a guard only: it comes at once
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        runtime.settings = original
    assert transport.sent == [("20000", "900001", "收到，已登记为工单 #1。")]


async def test_a_sender_cancelled_as_its_send_completes_stops(runtime, session, clock, queued, restore_settings):
    """Shutdown cancels the sender; a cancellation landing on a finished send must not be swallowed."""

    class CancelledMidSend(RecordingTransport):
        async def send(self, bot_id, rows):
            task.cancel()  # the shutdown comes while the message is on its way
            return await super().send(bot_id, rows)

    sender, _ = in_virtual_time(runtime, CancelledMidSend())
    task = asyncio.create_task(sender.run_forever())
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()  # not carried on to the idle poll (Stop)
    await sender.recorded()  # as shutdown waits: the message went out, so it is marked sent
    assert session.exec(select(OutboxMessage.status)).all() == [OutboxStatus.SENT]


# -- a process that died mid-send ----------------------------------------------------------------

class Platform(RecordingTransport):
    """Keeps what was posted where, as NapCat answers `get_group_msg_history` (`history=False`: an
    implementation without the call). A send of `dies_on` never returns, as when the process is killed
    while it waits for the answer; `posts_first` says whether the platform had posted it by then."""

    def __init__(self, clock, posted, *, history=True, dies_on=None, posts_first=True):
        super().__init__()
        self.clock, self.posted, self.history = clock, posted, history
        self.dies_on, self.posts_first, self.dying = dies_on, posts_first, asyncio.Event()

    async def send(self, bot_id, rows):
        text = "\n".join(text for _, text in outbox.compose(rows))
        message_id = f"m{len(self.posted) + 1}"
        if text != self.dies_on or self.posts_first:
            self.posted.append((bot_id, rows[0].target_id, text, message_id, self.clock.now()))
        if text == self.dies_on:
            self.dying.set()
            await asyncio.Future()
        return message_id

    async def find_sent(self, bot_id, rows, *, since):
        if not self.history:
            raise RuntimeError("ActionFailed: get_group_msg_history is not supported")
        if rows[0].target_kind != "group":
            return None
        text = "\n".join(text for _, text in outbox.compose(rows))
        return next((message_id for bot, target, posted, message_id, at in self.posted
                     if (bot, target, posted) == (bot_id, rows[0].target_id, text) and at >= since), None)


@pytest.mark.parametrize("case, copies", [
    ("posted before the process died", 1),
    ("never reached the platform", 1),
    ("platform without history", 2),  # the documented fallback: sent again rather than lost
])
async def test_after_a_crash_mid_send_each_claimed_message_goes_out_once_and_at_once(
        runtime, session, clock, restore_settings, case, copies):
    rows = [outbox.enqueue(session, now=clock.now(), platform="qq", target_kind=kind, target_id=target,
                           text=text, bot_id="20000")
            for kind, target, text in [("group", "900001", "第一条"), ("group", "900002", "第二条"),
                                       ("private", "31001", "第三条")]]
    session.commit()
    posted = []
    dead = Platform(clock, posted, dies_on="第一条", posts_first=case != "never reached the platform")
    first_life, _ = in_virtual_time(runtime, dead)
    task = asyncio.create_task(first_life.deliver_due())
    await dead.dying.wait()
    task.cancel()  # killed while the first message is in flight: nothing after it runs
    await asyncio.gather(task, return_exceptions=True)
    session.expire_all()
    assert {session.get(OutboxMessage, row.id).status for row in rows} == {OutboxStatus.SENDING}

    clock.advance(seconds=1)
    second_life, _ = in_virtual_time(runtime, Platform(clock, posted, history=case != "platform without history"))
    assert await second_life.deliver_due() == 3  # its own claims: no lease to wait out
    assert [text for _, _, text, _, _ in posted] == ["第一条"] * copies + ["第二条", "第三条"]
    session.expire_all()
    first = session.get(OutboxMessage, rows[0].id)
    assert first.status == OutboxStatus.SENT and first.sent_message_id == posted[copies - 1][3]
    assert ("recovered" in (first.last_error or "")) == (case == "posted before the process died")
    assert {session.get(OutboxMessage, row.id).status for row in rows} == {OutboxStatus.SENT}


async def test_another_instances_dead_claim_waits_for_the_lease_then_is_found_not_resent(
        runtime, session, clock, restore_settings):
    row = outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="group", target_id="900001",
                         text="第一条", bot_id="20000")
    session.commit()
    posted = []
    dead = Platform(clock, posted, dies_on="第一条")
    runtime.settings = runtime.settings.model_copy(update={"instance_name": "other"})
    other, _ = in_virtual_time(runtime, dead)
    task = asyncio.create_task(other.deliver_due())
    await dead.dying.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    runtime.settings = runtime.settings.model_copy(update={"instance_name": ""})
    sender, _ = in_virtual_time(runtime, Platform(clock, posted))
    assert sender.worker != other.worker
    clock.advance(seconds=1)
    assert await sender.deliver_due() == 0  # that instance may be alive, its send still on its way
    clock.advance(outbox.CLAIM_LEASE)
    assert await sender.deliver_due() == 1
    assert len(posted) == 1
    session.expire_all()
    stored = session.get(OutboxMessage, row.id)
    assert (stored.status, stored.sent_message_id) == (OutboxStatus.SENT, "m1")
    assert other.worker in stored.last_error


def _acknowledged(runtime, clock, user_id):
    message = intake.GroupMessage(platform="qq", group_id="900001", user_id=user_id, text="扫码枪扫不出来怎么办",
                                  message_id=f"m{user_id}", self_id="20000")
    return runtime.unit_of_work(intake.handle_group_message, message, now=clock.now(), settings=runtime.settings,
                                policies=Policies())


async def test_a_running_sender_is_handed_acknowledgements_without_claiming_them(
        runtime, session, clock, restore_settings):
    make.group(session, clock)
    runtime.settings = runtime.settings.model_copy(update={"outbox_rate_per_minute": 4})  # it holds 2 at most
    runtime.sender_running = True
    try:
        outcomes = [_acknowledged(runtime, clock, str(41_000 + n)) for n in range(3)]
    finally:
        runtime.sender_running = False
    rows = {row.ticket_id: row for row in session.exec(select(OutboxMessage))}
    first, second, third = (rows[outcome.ticket_id] for outcome in outcomes)
    # stored already claimed by this process, so no other instance claims them; a crash leaves them to
    # `take_back` like any claim
    assert {(row.status, row.claimed_by) for row in (first, second)} == {
        (OutboxStatus.SENDING, runtime.settings.worker)}
    assert (third.status, third.claimed_by) == (OutboxStatus.PENDING, None)  # past what it may hold: queued
    assert [row.id for row in outbox.claim_due(session, now=clock.now(), platforms=["qq"], worker="other")] == [
        third.id]
    session.rollback()

    transport = RecordingTransport()
    assert await Sender(runtime, transport).deliver_due() == 3  # the handed two, then the claimed one
    assert runtime.take_handed_off() == []
    session.expire_all()
    assert {row.status for row in session.exec(select(OutboxMessage))} == {OutboxStatus.SENT}


async def test_acknowledgements_handed_to_a_pass_that_fails_go_out_with_the_next(runtime, session, clock,
                                                                                    monkeypatch):
    make.group(session, clock)
    runtime.sender_running = True
    try:
        _acknowledged(runtime, clock, "42001")
    finally:
        runtime.sender_running = False
    transport = RecordingTransport()
    sender = Sender(runtime, transport)

    def store_refuses(*args, **kwargs):
        raise RuntimeError("the store refused the claim")

    monkeypatch.setattr(sender, "_claim", store_refuses)
    with pytest.raises(RuntimeError):
        await sender.deliver_due()
    monkeypatch.undo()
    assert await sender.deliver_due() == 1 and len(transport.sent) == 1


async def test_a_reply_committed_in_the_claims_batch_goes_out_first_in_the_same_pass(runtime, session, clock,
                                                                                     monkeypatch):
    """The store writer may commit an intake and the sender's claim in one transaction (always so on a database
    server, where it has a thread of its own): the claim takes the staff notice the intake queued, while the
    intake's acknowledgement is handed to the sender only at the commit. The pass sends the acknowledgement first;
    it used to send the notice and leave the acknowledgement to a later pass, behind the notice's send (15 s when
    the account never answers)."""
    make.group(session, clock)
    transport = RecordingTransport()
    virtual = VirtualTime()
    sender = Sender(runtime, transport, monotonic=virtual.monotonic, sleep=virtual.sleep)
    claim = sender._claim

    def beside_an_intake(batch_session, **kwargs):
        message = intake.GroupMessage(platform="qq", group_id="900001", user_id="43001", text="扫码枪扫不出来怎么办",
                                      message_id="m43001", self_id="20000")
        intake.handle_group_message(batch_session, message, now=clock.now(), settings=runtime.settings,
                                    policies=Policies())
        outbox.enqueue(batch_session, now=clock.now(), platform="qq", target_kind="private", target_id="30001",
                       text="【任务】工单", bot_id="20000", lane=Lane.STAFF)
        return claim(batch_session, **kwargs)

    monkeypatch.setattr(sender, "_claim", beside_an_intake)
    runtime.sender_running = True
    try:
        await sender.deliver_due()
    finally:
        runtime.sender_running = False
    assert [target for _, target, _ in transport.sent][:1] == ["900001"] and runtime.take_handed_off() == []
    monkeypatch.undo()
    await sender.deliver_due()  # the notice: given way to the acknowledgement's turn, not lost
    assert [target for _, target, _ in transport.sent] == ["900001", "30001"]
