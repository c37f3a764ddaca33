import pytest

from bot.models import Role, StaffMember
from bot.services import directory, staff
from bot.services.errors import Conflict, ServiceError
from tests import factories as make


def test_the_only_admin_cannot_rotate_their_own_token_but_can_rotate_others(session, clock):
    admin = make.staff(session, clock, Role.ADMIN, name="管理员")
    admin_token = staff.issue_token(session, admin)
    agent = make.staff(session, clock, Role.AGENT)
    with pytest.raises(Conflict, match="唯一在用的管理员"):
        staff.rotate_token(session, admin, caller=admin)
    session.rollback()
    assert staff.authenticate(session, admin_token).id == admin.id  # nothing changed
    assert staff.authenticate(session, staff.rotate_token(session, agent, caller=admin)).id == agent.id


def test_with_a_second_admin_an_admin_may_rotate_their_own_token(session, clock):
    admin = make.staff(session, clock, Role.ADMIN, name="管理员")
    make.staff(session, clock, Role.ADMIN, Role.SUPERVISOR, name="赵主管")
    token = staff.rotate_token(session, admin, caller=admin)
    assert staff.authenticate(session, token).id == admin.id


def test_the_last_active_admin_cannot_be_deactivated_or_demoted(session, clock):
    first = make.staff(session, clock, Role.ADMIN, name="管理员")
    second = make.staff(session, clock, Role.ADMIN, name="赵主管")
    make.staff(session, clock, Role.ADMIN, name="离职管理员").active = False
    session.commit()
    staff.update_staff(session, second.id, {"active": False})
    session.commit()
    for change in ({"active": False}, {"roles": [Role.AGENT]}):
        with pytest.raises(Conflict, match="唯一在用的管理员"):
            staff.update_staff(session, first.id, change)
        session.rollback()
    staff.update_staff(session, first.id, {"name": "王管理员", "roles": [Role.ADMIN, Role.AGENT]})
    session.commit()
    assert session.get(StaffMember, first.id).active


def test_create_admin_makes_or_reissues_an_admin_and_refuses_a_bad_name(session, clock):
    admin, token = staff.create_admin(session, "钱管理员", now=clock.now())
    session.commit()
    assert staff.authenticate(session, token).has_role(Role.ADMIN)
    admin.active = False  # locked out: the command lets them back in with a new token
    session.commit()
    again, new_token = staff.create_admin(session, "钱管理员", now=clock.now())
    session.commit()
    assert again.id == admin.id and staff.authenticate(session, token) is None
    assert staff.authenticate(session, new_token).id == admin.id
    for bad in ("", "   ", "名" * 65):
        with pytest.raises(ServiceError, match="名字"):
            staff.create_admin(session, bad, now=clock.now())
    assert len(directory.list_rows(session, StaffMember)) == 1
