"""The sender drains the outbox through whatever bots are connected."""

import pytest
from sqlmodel import select

from bot.models import OutboxMessage, OutboxStatus
from bot.sender import Sender
from bot.services import outbox
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
    sender = Sender(runtime, transport)
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
        self.now += seconds


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
    assert min(b - a for a, b in zip(times, times[1:])) >= 60 / limit - 0.001


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
        gaps = [later - earlier for earlier, later in zip(times, times[1:])]
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
