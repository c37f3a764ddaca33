"""Several bot accounts: a group message goes only through an account in the group, never a stranger; a
group none of whose accounts is connected waits, unclaimed, and holds up no other group."""

from sqlmodel import select

from bot.models import Lane, OutboxMessage, OutboxStatus
from bot.sender import CLAIM_BATCH, Sender, spread
from bot.services import accounts, outbox
from tests.test_sender import RecordingTransport, VirtualTime


def member_of(session, clock, bot_id, *groups):
    accounts.groups_listed(session, "qq", bot_id, list(groups), now=clock.now())
    session.commit()


def to_group(session, clock, group, text, *, bot_id=None, lane=Lane.REPLY):
    row = outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="group", target_id=group, text=text,
                         bot_id=bot_id, lane=lane)
    session.commit()
    return row.id


def sender_for(runtime, transport):
    virtual = VirtualTime()
    return Sender(runtime, transport, monotonic=virtual.monotonic, sleep=virtual.sleep)


async def test_a_group_message_waits_for_its_own_account_never_a_strangers(runtime, session, clock):
    member_of(session, clock, "20000", "900001")
    member_of(session, clock, "20001", "900002")
    row_id = to_group(session, clock, "900001", "您好", bot_id="20000")
    stranger_only = RecordingTransport(bots={"20001": "qq"})
    sender = sender_for(runtime, stranger_only)
    assert await sender.deliver_due() == 0
    assert stranger_only.sent == []
    session.expire_all()
    row = session.get(OutboxMessage, row_id)
    assert (row.status, row.claimed_by, row.attempts) == (OutboxStatus.PENDING, None, 0)  # not even claimed

    stranger_only.bots = {"20001": "qq", "20000": "qq"}  # its account is back
    assert await sender.deliver_due() == 1
    assert stranger_only.sent == [("20000", "900001", "您好")]


async def test_a_message_naming_a_stranger_goes_through_the_groups_account(runtime, session, clock):
    member_of(session, clock, "20000", "900001")
    member_of(session, clock, "20001", "900002")
    to_group(session, clock, "900001", "这条消息记的是别的账号", bot_id="20001")
    both = RecordingTransport(bots={"20000": "qq", "20001": "qq"})
    assert await sender_for(runtime, both).deliver_due() == 1
    assert both.sent == [("20000", "900001", "这条消息记的是别的账号")]


async def test_another_member_of_the_group_takes_over_when_the_named_one_is_offline(runtime, session, clock):
    member_of(session, clock, "20000", "900001")
    member_of(session, clock, "20001", "900001", "900002")
    member_of(session, clock, "20002", "900003")
    to_group(session, clock, "900001", "您好", bot_id="20000")
    others = RecordingTransport(bots={"20002": "qq", "20001": "qq"})
    assert await sender_for(runtime, others).deliver_due() == 1
    assert others.sent == [("20001", "900001", "您好")]


async def test_a_waiting_group_holds_up_no_other_group(runtime, session, clock):
    member_of(session, clock, "20000", "900001")
    member_of(session, clock, "20001", "900002")
    for n in range(CLAIM_BATCH + 5):  # more than a claim, older and in a more urgent lane
        to_group(session, clock, "900001", f"等待{n}", bot_id="20000", lane=Lane.REPLY)
    to_group(session, clock, "900002", "供货通知", bot_id="20001", lane=Lane.BROADCAST)
    only_b = RecordingTransport(bots={"20001": "qq"})
    assert await sender_for(runtime, only_b).deliver_due() == 1
    assert only_b.sent == [("20001", "900002", "供货通知")]
    waiting = session.exec(select(OutboxMessage).where(OutboxMessage.target_id == "900001")).all()
    assert {row.status for row in waiting} == {OutboxStatus.PENDING}


async def test_a_private_message_through_a_group_goes_through_an_account_in_that_group(runtime, session, clock):
    member_of(session, clock, "20000", "900001")
    member_of(session, clock, "20001", "900002")
    outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="private", target_id="10001",
                   text="您的工单已受理", via_group_id="900001")
    outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="private", target_id="10002",
                   text="好友私聊", bot_id="20000")
    session.commit()
    only_b = RecordingTransport(bots={"20001": "qq"})
    sender = sender_for(runtime, only_b)
    assert await sender.deliver_due() == 1
    # a friend's private chat keeps the old rule (any account of the platform); the group member's waits
    assert only_b.sent == [("20001", "10002", "好友私聊")]
    only_b.bots = {"20000": "qq", "20001": "qq"}
    assert await sender.deliver_due() == 1
    assert only_b.sent[-1] == ("20000", "10001", "您的工单已受理")


async def test_a_group_nothing_is_known_of_keeps_the_old_rule(runtime, session, clock):
    member_of(session, clock, "20001", "900002")
    to_group(session, clock, "900009", "您好", bot_id="20000")
    other = RecordingTransport(bots={"20001": "qq"})
    assert await sender_for(runtime, other).deliver_due() == 1
    assert other.sent == [("20001", "900009", "您好")]


async def test_the_group_list_replaces_what_was_learnt_but_keeps_an_admins_addition(session, clock):
    from bot.models import ChatGroup

    group = ChatGroup(group_id="900005", created_at=clock.now())
    session.add(group)
    session.commit()
    accounts.note_member(session, "qq", "900004", "20000", now=clock.now())
    accounts.add_member(session, group.id, "20000", now=clock.now())
    accounts.groups_listed(session, "qq", "20000", ["900001"], now=clock.now())
    session.commit()
    found = accounts.members_of(session, [("qq", "900001"), ("qq", "900004"), ("qq", "900005")])
    assert found == {("qq", "900001"): {"20000"}, ("qq", "900005"): {"20000"}}


async def test_private_messages_are_spread_over_the_accounts_each_person_keeping_theirs(runtime, session, clock):
    people = [str(31_000 + n) for n in range(12)]
    for person in people:
        outbox.enqueue(session, now=clock.now(), platform="qq", target_kind="private", target_id=person,
                       text=f"任务{person}", lane=Lane.STAFF)
    session.commit()
    both = RecordingTransport(bots={"20000": "qq", "20001": "qq"})
    sender = sender_for(runtime, both)
    while await sender.deliver_due():
        pass
    through = {to: bot for bot, to, _ in both.sent}
    assert set(through) == set(people)
    assert set(through.values()) == {"20000", "20001"}  # both accounts carry some
    assert through == {person: spread(person, ["20000", "20001"]) for person in people}  # the same rule each time

    # one account goes away: only its people move, to an account still there; the others keep theirs
    assert spread(people[0], ["20001", "20000", "20002"]) == spread(people[0], ["20000", "20001", "20002"])
    for person in people:
        kept = spread(person, ["20000", "20001", "20002"])
        if kept != "20002":
            assert spread(person, ["20000", "20001"]) == kept
