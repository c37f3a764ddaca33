"""Console sign-in: sessions opened with an API token or a one-time link, and how they end."""

from datetime import timedelta

import pytest
from sqlmodel import select

from bot.models import ConsoleSession, LoginLink, Role
from bot.services import signin
from bot.services import staff as staff_service
from bot.services.errors import Conflict, NotFound
from tests import factories as make


@pytest.fixture
def agent(session, clock):
    return make.staff(session, clock, Role.AGENT, chat_user_id="30001", name="李客服")


@pytest.fixture
def api_token(session, agent):
    token = staff_service.issue_token(session, agent)
    session.commit()
    return token


def opened(session, clock, agent):
    result = signin.open_session(session, agent.id, now=clock.now(), address="10.0.0.8")
    session.commit()
    return result


def seen(session, token, clock):
    found = signin.session_of(session, token, now=clock.now())
    session.commit()
    return found


# -- signing in with the API token -------------------------------------------------------------

def test_the_api_token_opens_a_session_and_only_its_hash_is_stored(session, clock, agent, api_token):
    result = signin.sign_in_with_token(session, api_token, now=clock.now(), address="10.0.0.8")
    session.commit()
    assert result is not None and result.expires_at == clock.now() + signin.SESSION_LIFETIME
    row = session.exec(select(ConsoleSession)).one()
    assert row.token_hash == staff_service.hash_token(result.token) != result.token
    assert (row.staff_id, row.csrf_token, row.address, row.ended_at) == (agent.id, result.csrf, "10.0.0.8", None)
    staff, csrf = seen(session, result.token, clock)
    assert (staff.id, csrf) == (agent.id, result.csrf)


def test_a_wrong_token_opens_nothing(session, clock, agent, api_token):
    assert signin.sign_in_with_token(session, api_token + "x", now=clock.now(), address=None) is None
    assert signin.sign_in_with_token(session, "", now=clock.now(), address=None) is None
    assert session.exec(select(ConsoleSession)).all() == []


def test_an_inactive_staff_members_token_opens_nothing_and_their_sessions_stop(session, clock, agent, api_token):
    result = opened(session, clock, agent)
    staff_service.update_staff(session, agent.id, {"active": False})
    session.commit()
    assert signin.sign_in_with_token(session, api_token, now=clock.now(), address=None) is None
    assert seen(session, result.token, clock) is None
    assert len(session.exec(select(ConsoleSession)).all()) == 1


def test_a_token_reset_ends_the_members_sessions_but_not_the_resetting_admins_own(session, clock, agent, api_token):
    first, second = opened(session, clock, agent), opened(session, clock, agent)
    admin = make.staff(session, clock, Role.ADMIN, name="王管理")
    make.staff(session, clock, Role.ADMIN, name="赵管理")  # another admin, so one may reset their own
    admins_session = opened(session, clock, admin)
    kept = opened(session, clock, admin)

    _, new_token = signin.reset_token(session, agent.id, caller=admin, now=clock.now(),
                                      keep_session=admins_session.token)
    session.commit()
    assert seen(session, first.token, clock) is None and seen(session, second.token, clock) is None
    assert signin.sign_in_with_token(session, api_token, now=clock.now(), address=None) is None
    assert signin.sign_in_with_token(session, new_token, now=clock.now(), address=None) is not None
    assert seen(session, kept.token, clock)[0].id == admin.id, "another member's reset leaves the admin's sessions"

    signin.reset_token(session, admin.id, caller=admin, now=clock.now(), keep_session=admins_session.token)
    session.commit()
    assert seen(session, admins_session.token, clock)[0].id == admin.id, "resetting your own keeps this session"
    assert seen(session, kept.token, clock) is None


def test_a_refused_token_reset_ends_no_session(session, clock, agent):
    admin = make.staff(session, clock, Role.ADMIN, name="王管理")
    own = opened(session, clock, admin)
    with pytest.raises(Conflict):
        signin.reset_token(session, admin.id, caller=admin, now=clock.now())  # the only admin's own
    with pytest.raises(NotFound):
        signin.reset_token(session, 999_999, caller=admin, now=clock.now())
    session.rollback()
    assert seen(session, own.token, clock)[0].id == admin.id


def test_an_unknown_cookie_is_no_session(session, clock, agent):
    opened(session, clock, agent)
    assert seen(session, "not-a-token", clock) is None


# -- how a session ends ------------------------------------------------------------------------

def test_a_session_ends_after_two_hours_unused(session, clock, agent):
    result = opened(session, clock, agent)
    clock.advance(signin.SESSION_IDLE - timedelta(seconds=1))
    assert seen(session, result.token, clock) is not None  # used: the idle clock starts again
    clock.advance(signin.SESSION_IDLE - timedelta(seconds=1))
    assert seen(session, result.token, clock) is not None
    clock.advance(signin.SESSION_IDLE)
    assert seen(session, result.token, clock) is None


def test_a_session_in_use_still_ends_twelve_hours_after_it_opened(session, clock, agent):
    result = opened(session, clock, agent)
    for _ in range(11):
        clock.advance(hours=1)
        assert seen(session, result.token, clock) is not None
    clock.advance(minutes=59, seconds=59)
    assert seen(session, result.token, clock) is not None
    clock.advance(seconds=1)
    assert seen(session, result.token, clock) is None


def test_signing_out_ends_the_session(session, clock, agent):
    result, other = opened(session, clock, agent), opened(session, clock, agent)
    signin.sign_out(session, result.token, now=clock.now())
    signin.sign_out(session, "not-a-token", now=clock.now())
    session.commit()
    assert seen(session, result.token, clock) is None
    assert seen(session, other.token, clock) is not None  # another browser stays signed in
    ended = session.exec(select(ConsoleSession).where(ConsoleSession.token_hash ==
                                                      staff_service.hash_token(result.token))).one()
    assert ended.ended_at == clock.now()
    clock.advance(minutes=5)
    signin.sign_out(session, result.token, now=clock.now())  # twice: the first end stands
    session.commit()
    session.refresh(ended)
    assert ended.ended_at == clock.now() - timedelta(minutes=5)


def test_last_seen_is_written_at_most_once_a_minute(session, clock, agent):
    result = opened(session, clock, agent)
    row = session.exec(select(ConsoleSession)).one()
    opened_at = clock.now()
    clock.advance(seconds=30)
    assert seen(session, result.token, clock) is not None
    session.refresh(row)
    assert row.last_seen_at == opened_at
    clock.advance(seconds=29)
    seen(session, result.token, clock)
    session.refresh(row)
    assert row.last_seen_at == opened_at
    clock.advance(seconds=1)  # a minute since it was last written
    seen(session, result.token, clock)
    session.refresh(row)
    assert row.last_seen_at == clock.now()
    written = clock.now()
    clock.advance(seconds=59)
    seen(session, result.token, clock)
    session.refresh(row)
    assert row.last_seen_at == written


# -- one-time links ----------------------------------------------------------------------------

def issued(session, clock, chat_user_id="30001"):
    code = signin.issue_link(session, platform="qq", chat_user_id=chat_user_id, now=clock.now())
    session.commit()
    return code


def redeemed(session, clock, code):
    result = signin.redeem_link(session, code, now=clock.now(), address="10.0.0.9")
    session.commit()
    return result


def test_a_link_opens_a_session_once(session, clock, agent):
    code = issued(session, clock)
    link = session.exec(select(LoginLink)).one()
    assert link.code_hash == staff_service.hash_token(code) != code
    assert (link.staff_id, link.platform, link.chat_user_id, link.used_at) == (agent.id, "qq", "30001", None)
    assert link.expires_at == clock.now() + signin.LINK_LIFETIME
    clock.advance(minutes=1)
    result = redeemed(session, clock, code)
    staff, _ = seen(session, result.token, clock)
    assert staff.id == agent.id
    session.refresh(link)
    assert link.used_at == clock.now()
    with pytest.raises(Conflict, match="已使用"):
        redeemed(session, clock, code)
    session.rollback()
    assert len(session.exec(select(ConsoleSession)).all()) == 1


def test_a_link_expires_after_ten_minutes(session, clock, agent):
    late, in_time = issued(session, clock), issued(session, clock)
    clock.advance(signin.LINK_LIFETIME - timedelta(seconds=1))
    assert redeemed(session, clock, in_time).token
    clock.advance(seconds=1)
    with pytest.raises(Conflict, match="过期"):
        redeemed(session, clock, late)
    session.rollback()
    assert session.exec(select(LoginLink.used_at).where(LoginLink.code_hash ==
                                                        staff_service.hash_token(late))).one() is None


def test_an_unknown_code_is_not_found(session, clock, agent):
    issued(session, clock)
    with pytest.raises(NotFound, match="登录链接无效"):
        redeemed(session, clock, "no-such-code")


def test_a_link_of_a_deactivated_staff_member_opens_nothing(session, clock, agent):
    code = issued(session, clock)
    staff_service.update_staff(session, agent.id, {"active": False})
    session.commit()
    with pytest.raises(Conflict, match="停用"):
        redeemed(session, clock, code)
    session.rollback()
    assert session.exec(select(ConsoleSession)).all() == []
    assert session.exec(select(LoginLink.used_at)).one() is None


def test_a_link_is_only_for_an_active_staff_members_chat_account(session, clock, agent):
    make.staff(session, clock, Role.MANAGER, chat_user_id="60001", name="王经理")
    staff_service.update_staff(session, agent.id, {"active": False})
    session.commit()
    assert issued(session, clock, "10001") is None  # a retailer
    assert issued(session, clock, "30001") is None  # deactivated
    assert signin.issue_link(session, platform="console", chat_user_id="60001", now=clock.now()) is None
    assert session.exec(select(LoginLink)).all() == []
    assert issued(session, clock, "60001")


def test_sessions_and_links_over_for_thirty_days_are_forgotten_and_the_rest_kept(session, clock, agent):
    signed_out = opened(session, clock, agent)
    opened(session, clock, agent)  # left unused until it lapses
    signin.sign_out(session, signed_out.token, now=clock.now())
    signin.issue_link(session, platform="qq", chat_user_id="30001", now=clock.now())
    session.commit()
    clock.advance(days=29)
    recent = opened(session, clock, agent)
    assert signin.forget_old(session, now=clock.now()) == 0  # within thirty days: kept, who signed in from where
    clock.advance(days=2)
    assert signin.forget_old(session, now=clock.now()) == 3  # the signed-out one, the idle one and the link
    session.commit()
    kept = session.exec(select(ConsoleSession.token_hash)).all()
    assert kept == [staff_service.hash_token(recent.token)]
    assert session.exec(select(LoginLink)).all() == []
