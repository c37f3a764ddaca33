from datetime import timedelta

import pytest
from sqlmodel import select

from bot.models import ChatBinding, OutboxMessage, Role, TicketEvent
from bot.services import directory
from bot.services.directory import BindResult
from bot.services.errors import Conflict, NotFound, ServiceError
from tests import factories as make


@pytest.fixture
def bind(session, clock, runtime):
    def attempt(license_no, digits, user="10001"):
        outcome = directory.self_bind(session, platform="qq", chat_user_id=user, license_no=license_no,
                                      phone_last4=digits, now=clock.now(), tz=runtime.settings.tz)
        session.commit()
        return outcome.result

    return attempt


def test_binding_needs_an_active_licence_and_the_phones_last_digits(session, clock, bind):
    make.retailer(session, clock, license_no="430102100001", phone="13912345678")
    make.retailer(session, clock, license_no="430102100002", phone="13900000002", active=False)
    assert bind("430102100001", "1234") == BindResult.MISMATCH
    assert bind("430102999999", "5678") == BindResult.MISMATCH  # an unknown licence reads the same
    assert bind("430102100002", "0002") == BindResult.MISMATCH  # inactive
    assert bind("430102100001", "5678") == BindResult.BOUND
    assert bind("430102100001", "5678") == BindResult.ALREADY


def test_one_account_one_licence_but_a_licence_has_many_accounts(session, clock, bind):
    make.retailer(session, clock, license_no="430102100001", phone="13912345678")
    make.retailer(session, clock, license_no="430102100002", phone="13900000002")
    assert bind("430102100001", "5678", user="1") == BindResult.BOUND
    assert bind("430102100001", "5678", user="2") == BindResult.BOUND
    assert bind("430102100002", "0002", user="1") == BindResult.TAKEN
    assert len(session.exec(select(ChatBinding)).all()) == 2


def test_the_lock_lifts_the_next_local_day(session, clock, bind):
    make.retailer(session, clock, license_no="430102100001", phone="13912345678")
    results = [bind("430102100001", "0000") for _ in range(5)]
    assert results == [BindResult.MISMATCH] * 4 + [BindResult.LOCKED]
    assert bind("430102100001", "5678") == BindResult.LOCKED
    clock.advance(hours=13)  # 23:00 in Shanghai: still the same day
    assert bind("430102100001", "5678") == BindResult.LOCKED
    clock.advance(hours=1, minutes=1)  # past midnight in Shanghai
    assert bind("430102100001", "5678") == BindResult.BOUND


def test_a_lock_is_per_account(session, clock, bind):
    make.retailer(session, clock, license_no="430102100001", phone="13912345678")
    for _ in range(5):
        bind("430102100001", "0000", user="666")
    assert bind("430102100001", "5678", user="777") == BindResult.BOUND


def test_staff_binding_refuses_an_account_bound_elsewhere(session, clock):
    admin = make.staff(session, clock, Role.ADMIN)
    first, second = make.retailer(session, clock), make.retailer(session, clock)
    directory.staff_bind(session, first.id, platform="qq", chat_user_id="1", staff=admin, now=clock.now())
    with pytest.raises(Conflict):
        directory.staff_bind(session, second.id, platform="qq", chat_user_id="1", staff=admin, now=clock.now())
    with pytest.raises(NotFound):
        directory.staff_unbind(session, second.id, 12345)


def test_a_retailers_manager_must_be_an_account_manager(session, clock):
    agent = make.staff(session, clock, Role.AGENT)
    with pytest.raises(ServiceError):
        make.retailer(session, clock, manager_id=agent.id)
    manager = make.staff(session, clock, Role.MANAGER, name="刘经理")
    assert make.retailer(session, clock, manager_id=manager.id).manager_id == manager.id


def test_a_chat_account_belongs_to_one_staff_member(session, clock):
    make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    with pytest.raises(Conflict):
        make.staff(session, clock, Role.MANAGER, chat_user_id="30001")


def test_timestamps_come_from_the_clock(session, clock):
    clock.advance(timedelta(days=2))
    assert make.retailer(session, clock).created_at == clock.now()


def test_open_visit_tasks_follow_the_retailer_to_the_new_manager(session, clock, runtime):
    from bot.models import Pledge, PledgeKind, PledgeState
    from tests.factories import group, post

    old = make.staff(session, clock, Role.MANAGER, name="刘经理")
    new = make.staff(session, clock, Role.MANAGER, name="陈经理", chat_user_id="60002")
    shop = make.retailer(session, clock, manager_id=old.id)
    session.add(ChatBinding(platform="qq", chat_user_id="10001", retailer_id=shop.id, bound_at=clock.now()))
    group(session, clock)
    post(session, clock, runtime.settings, "终端坏了怎么办")  # a hardware fault: a visit by rule
    assert session.exec(select(Pledge).where(Pledge.kind == PledgeKind.VISIT)).one().owner_staff_id == old.id
    admin = make.staff(session, clock, Role.ADMIN, name="管理员")
    moved = directory.transfer_territory(session, from_manager_id=old.id, to_manager_id=new.id, district=None,
                                         retailer_ids=None, staff_id=admin.id, now=clock.now(),
                                         policies=runtime.policies, tz=runtime.settings.tz)
    session.commit()
    assert moved == (1, 1)
    visit = session.exec(select(Pledge).where(Pledge.kind == PledgeKind.VISIT)).one()
    assert (visit.owner_staff_id, visit.state) == (new.id, PledgeState.PENDING)
    [task] = session.exec(select(OutboxMessage.text).where(OutboxMessage.target_id == "60002")).all()
    assert "上门任务" in task  # the new manager is told, as a reassignment does
    assert "pledge_reassigned" in session.exec(select(TicketEvent.action)).all()
    with pytest.raises(ServiceError):  # only to an account manager
        directory.transfer_territory(session, from_manager_id=new.id, to_manager_id=admin.id, district=None,
                                     retailer_ids=None, staff_id=admin.id, now=clock.now(),
                                     policies=runtime.policies, tz=runtime.settings.tz)
