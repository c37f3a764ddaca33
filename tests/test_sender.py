"""The sender drains the outbox through whatever bots are connected."""

import pytest
from sqlmodel import select

from bot.models import OutboxMessage, OutboxStatus
from bot.sender import Sender
from bot.services import outbox


class RecordingTransport:
    """Stands in for the chat connection; the end-to-end tests use a real one."""

    def __init__(self, bots=None, fail_times=0):
        self.bots = {"20000": "qq"} if bots is None else bots
        self.sent, self.fail_times = [], fail_times

    def connected(self):
        return self.bots

    async def send(self, bot_id, message):
        if self.fail_times:
            self.fail_times -= 1
            raise TimeoutError("no answer from the bot")
        self.sent.append((bot_id, message.target_id, message.text))
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


async def test_each_bot_account_is_paced_with_jitter(runtime, session, clock):
    for n in range(6):
        outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="group", target_id=str(900_000 + n),
                       text=f"通知{n}", bot_id="20000" if n % 2 == 0 else "20001")
    session.commit()
    paced = runtime.settings.model_copy(update={"outbox_min_interval_seconds": 1.5, "outbox_jitter_seconds": 0.5})
    virtual, stamps = VirtualTime(), []

    class StampingTransport(RecordingTransport):
        async def send(self, bot_id, message):
            stamps.append((bot_id, virtual.now))
            return await super().send(bot_id, message)

    original, runtime.settings = runtime.settings, paced
    try:
        sender = Sender(runtime, StampingTransport(bots={"20000": "qq", "20001": "qq"}),
                        monotonic=virtual.monotonic, sleep=virtual.sleep)
        assert await sender.deliver_due() == 6
    finally:
        runtime.settings = original
    for bot in ("20000", "20001"):
        times = [at for who, at in stamps if who == bot]
        gaps = [later - earlier for earlier, later in zip(times, times[1:])]
        assert len(times) == 3 and all(1.5 <= gap <= 2.0 for gap in gaps), gaps
