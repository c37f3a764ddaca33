import threading
from datetime import timedelta

import pytest
from sqlmodel import Session

from bot.db import make_engine
from tests.support.databases import ON_POSTGRES

from bot.models import OutboxMessage, OutboxStatus
from bot.services import outbox


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


def test_a_claim_abandoned_by_a_dead_process_is_taken_up_after_the_lease(session, clock):
    queue(session, clock)
    outbox.claim_due(session, now=clock.now(), platforms=["qq"], worker="crashed")
    session.commit()
    assert outbox.claim_due(session, now=clock.now() + timedelta(seconds=30), platforms=["qq"], worker="b") == []
    later = clock.now() + outbox.CLAIM_LEASE + timedelta(seconds=1)
    assert len(outbox.claim_due(session, now=later, platforms=["qq"], worker="b")) == 1


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
