"""What intake keeps in memory (groups, staff chat accounts, bindings): a change made in this process is seen
by the next message, one made on another instance sharing the database within `lookups_refresh_seconds`, and
a change rolled back leaves nothing behind."""

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from itertools import cycle

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from bot.db import Prepared, make_engine
from bot.models import LookupVersion, Role, Ticket
from bot.policy import Policies
from bot.services import directory, intake, lookups
from bot.services import staff as staff_service
from bot.services.intake import Result
from bot.services.lookups import BINDING, GROUP, STAFF
from tests import factories as make

# requests that each open a ticket of their own, so the next message of a sender is not a follow-up
REQUESTS = cycle(["扫码枪扫不出来怎么办", "订货平台登录不上", "送货少送了两条", "许可证快到期了怎么延续", "发票怎么开",
                  "积分怎么兑换", "终端黑屏了开不了机", "客户经理电话多少", "条码秤不出纸", "网上订货密码忘了"])


@pytest.fixture
def other(runtime) -> Iterator[Session]:
    """A session of another instance: its own engine on the same database."""
    engine = make_engine(runtime.settings.database_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture
def reads(monkeypatch) -> Counter:
    """How often intake read each kept table from the store."""
    counted = Counter()
    tables = {lookups._GROUP: "chat_group", lookups._ALL_STAFF: "staff_member", lookups._STAFF: "staff_member",
              lookups._BINDING: "chat_binding"}
    execute = Prepared.execute

    def counting(self, session, params):
        if self in tables:
            counted[tables[self]] += 1
        return execute(self, session, params)

    monkeypatch.setattr(Prepared, "execute", counting)
    return counted


def ask(session, clock, runtime, user_id, *, group_id="900001"):
    return make.post(session, clock, runtime.settings, next(REQUESTS), user_id=user_id, group_id=group_id)


def retailer_of(session, outcome) -> int | None:
    assert outcome.result == Result.OPENED, outcome
    return session.get(Ticket, outcome.ticket_id).retailer_id


def as_retailer(outcome) -> bool:
    return outcome.result in (Result.OPENED, Result.FOLLOW_UP)


def bind(session, clock, runtime, user_id) -> None:
    assert directory.self_bind(session, platform="qq", chat_user_id=user_id, license_no="430102100001",
                               phone_last4="5678", now=clock.now(), tz=runtime.settings.tz).result == "bound"
    session.commit()


def test_a_repeat_sender_costs_no_read_of_groups_staff_or_bindings(session, clock, runtime, reads):
    make.bound_shop(session, clock, manager_id=None)
    make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    ask(session, clock, runtime, "10001")
    ask(session, clock, runtime, "10002")
    assert reads == {"chat_group": 1, "staff_member": 1, "chat_binding": 2}  # staff accounts: all at once
    reads.clear()
    ask(session, clock, runtime, "10001")
    ask(session, clock, runtime, "10002")
    ask(session, clock, runtime, "10003")
    assert reads == {"chat_binding": 1}  # only the new sender's binding


def test_a_supply_question_in_a_group_is_answered_without_reading_the_group_again(session, clock, runtime, group,
                                                                                   reads):
    """The inquiry gets the group intake keeps (its district decides which notice reaches it), not its row read
    again for every question after a notice."""
    ask(session, clock, runtime, "10001")
    session.expunge_all()  # nothing left in the session to stand in for a read
    group_reads: list[str] = []

    def seen(_connection, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM chat_group" in statement:
            group_reads.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        asked = make.post(session, clock, runtime.settings, "这周中华能订几条", user_id="10002")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert asked.result == Result.INQUIRY and asked.ticket_id is not None
    assert group_reads == [] and reads["chat_group"] == 1


def test_a_change_made_here_is_not_forgotten_again_at_the_next_check(session, clock, runtime, reads):
    make.retailer(session, clock, license_no="430102100001", phone="13912345678")
    make.group(session, clock)
    assert retailer_of(session, ask(session, clock, runtime, "10001")) is None  # the group's account recorded
    bind(session, clock, runtime, "10001")
    assert retailer_of(session, ask(session, clock, runtime, "10001")) is not None
    clock.advance(seconds=runtime.settings.lookups_refresh_seconds)
    assert retailer_of(session, ask(session, clock, runtime, "10001")) is not None
    assert reads == {"chat_group": 1, "staff_member": 1, "chat_binding": 2}


def test_a_change_made_here_does_not_hide_one_made_on_another_instance(session, other, clock, runtime):
    make.group(session, clock)
    assert as_retailer(ask(session, clock, runtime, "10001"))
    assert ask(session, clock, runtime, "10001", group_id="900002").reason == "group not registered"
    make.group(other, clock, "900002")
    # through another account: this changes the one kept group, and raises the version past the other's
    make.post(session, clock, runtime.settings, next(REQUESTS), user_id="10002", self_id="20001")
    clock.advance(seconds=runtime.settings.lookups_refresh_seconds)
    assert as_retailer(ask(session, clock, runtime, "10001", group_id="900002"))


def test_a_group_two_accounts_are_in_is_not_read_again_as_its_account_changes(session, clock, runtime, reads):
    make.group(session, clock)
    for n, account in enumerate(["20000", "20001", "20000", "20001"]):
        make.post(session, clock, runtime.settings, next(REQUESTS), user_id=f"1000{n}", self_id=account)
        assert lookups.group(session, "qq", "900001").bot_id == account  # answered through the latest
        session.commit()
    assert reads["chat_group"] == 1


def test_this_processs_changes_are_seen_by_the_next_message(session, clock, runtime):
    make.retailer(session, clock, license_no="430102100001", phone="13912345678")
    assert ask(session, clock, runtime, "10001", group_id="900002").reason == "group not registered"
    group = make.group(session, clock, "900002")
    assert retailer_of(session, ask(session, clock, runtime, "10001", group_id="900002")) is None
    bind(session, clock, runtime, "10001")
    shop_id = retailer_of(session, ask(session, clock, runtime, "10001", group_id="900002"))
    assert shop_id is not None
    assert directory.self_unbind(session, platform="qq", chat_user_id="10001")
    session.commit()
    assert retailer_of(session, ask(session, clock, runtime, "10001", group_id="900002")) is None

    member = make.staff(session, clock, Role.AGENT, chat_user_id="10001")
    assert ask(session, clock, runtime, "10001", group_id="900002").reason == "staff chat"
    staff_service.update_staff(session, member.id, {"active": False})
    session.commit()
    assert as_retailer(ask(session, clock, runtime, "10001", group_id="900002"))

    directory.update_group(session, group.id, {"active": False})
    session.commit()
    assert ask(session, clock, runtime, "10001", group_id="900002").reason == "group not registered"


def test_another_instances_changes_are_seen_within_the_refresh_interval(session, other, clock, runtime):
    every = timedelta(seconds=runtime.settings.lookups_refresh_seconds)
    make.retailer(session, clock, license_no="430102100001", phone="13912345678")
    make.group(session, clock)
    assert retailer_of(session, ask(session, clock, runtime, "10001")) is None
    assert ask(session, clock, runtime, "10001", group_id="900002").reason == "group not registered"
    assert as_retailer(ask(session, clock, runtime, "10002"))

    make.group(other, clock, "900002")
    bind(other, clock, runtime, "10001")
    member = make.staff(other, clock, Role.AGENT, chat_user_id="10002")
    clock.advance(every - timedelta(milliseconds=1))
    assert ask(session, clock, runtime, "10001", group_id="900002").reason == "group not registered"  # not yet
    assert as_retailer(ask(session, clock, runtime, "10002"))
    clock.advance(milliseconds=1)
    assert retailer_of(session, ask(session, clock, runtime, "10001", group_id="900002")) is not None
    assert ask(session, clock, runtime, "10002").reason == "staff chat"

    staff_service.update_staff(other, member.id, {"active": False})
    other.commit()
    # at once: a member taken for staff is checked against their row, read anyway
    assert as_retailer(ask(session, clock, runtime, "10002"))


def test_a_change_rolled_back_leaves_the_copy_as_it_was(session, clock, runtime):
    make.retailer(session, clock, license_no="430102100001", phone="13912345678")
    make.group(session, clock)
    assert ask(session, clock, runtime, "10001", group_id="900002").reason == "group not registered"
    assert retailer_of(session, ask(session, clock, runtime, "10001")) is None

    directory.create_group(session, {"group_id": "900002"}, now=clock.now())
    directory.self_bind(session, platform="qq", chat_user_id="10001", license_no="430102100001",
                        phone_last4="5678", now=clock.now(), tz=runtime.settings.tz)
    session.flush()
    message = intake.GroupMessage(platform="qq", group_id="900002", user_id="10001", text=next(REQUESTS),
                                  message_id="700001")
    seen = intake.handle_group_message(session, message, now=clock.now(), settings=runtime.settings,
                                       policies=Policies())
    assert retailer_of(session, seen) is not None  # the transaction sees its own changes
    session.rollback()

    assert ask(session, clock, runtime, "10001", group_id="900002").reason == "group not registered"
    assert retailer_of(session, ask(session, clock, runtime, "10001")) is None


def test_every_writer_of_a_kept_table_raises_its_version(session, clock, runtime):
    def versions():
        return dict(session.exec(select(LookupVersion.kind, LookupVersion.version)).all())

    def raises(kind, write):
        before = versions().get(kind, 0)
        write()
        session.commit()
        assert versions()[kind] == before + 1, kind

    shop = make.retailer(session, clock, license_no="430102100001", phone="13912345678")
    group = make.group(session, clock)
    admin = make.staff(session, clock, Role.ADMIN, name="管理员")
    raises(GROUP, lambda: directory.create_group(session, {"group_id": "900002"}, now=clock.now()))
    raises(GROUP, lambda: directory.update_group(session, group.id, {"district": "芙蓉区"}))
    raises(GROUP, lambda: directory.set_group_account(session, lookups.group(session, "qq", "900001"), "20001"))
    raises(BINDING, lambda: bind(session, clock, runtime, "10001"))
    raises(BINDING, lambda: directory.self_unbind(session, platform="qq", chat_user_id="10001"))
    binding = directory.staff_bind(session, shop.id, platform="qq", chat_user_id="10002", staff=admin, now=clock.now())
    session.commit()
    raises(BINDING, lambda: directory.staff_unbind(session, shop.id, binding.id))
    raises(STAFF, lambda: make.staff(session, clock, Role.AGENT, name="李客服", chat_user_id="30001"))
    member = make.staff(session, clock, Role.ADMIN, name="王管理员", chat_user_id="30002")
    raises(STAFF, lambda: staff_service.update_staff(session, member.id, {"active": False}))
    raises(STAFF, lambda: staff_service.create_admin(session, "王管理员", now=clock.now()))  # active again
