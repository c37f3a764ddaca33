"""Supervisors' daily digest and monthly appraisal: sent privately once, on working days, from `digest_at`."""

from datetime import datetime

import pytest
from sqlmodel import col, select

from bot.models import Lane, OutboxMessage, Role
from bot.policy import Policies
from bot.services import digests, escalation
from tests import factories as make

CONSOLE = "https://kf.example.cn"


@pytest.fixture
def policies():
    return Policies()


def deliver(session, clock, runtime, policies):
    sent = digests.deliver(session, now=clock.now(), policies=policies, tz=runtime.settings.tz, console_url=CONSOLE)
    session.commit()
    return sent


def private_texts(session, to):
    return [m.text for m in session.exec(select(OutboxMessage).where(
        OutboxMessage.target_id == to, OutboxMessage.lane == Lane.STAFF).order_by(col(OutboxMessage.id)))]


def at(clock, runtime, *args):
    clock.set(datetime(*args, tzinfo=runtime.settings.tz))


def test_the_digest_tells_supervisors_what_breached_and_what_falls_due_once_each_working_day(session, clock, runtime,
                                                                                             policies):
    make.group(session, clock)
    make.staff(session, clock, Role.SUPERVISOR, chat_user_id="40001", name="督查")
    make.staff(session, clock, Role.SUPERVISOR, name="没有QQ的督查")
    make.staff(session, clock, Role.AGENT, chat_user_id="30001", name="客服甲")
    late = make.post(session, clock, runtime.settings, "订货平台登录不上怎么办").ticket_id  # Monday 10:00
    clock.advance(minutes=31)
    escalation.sweep(session, now=clock.now(), policies=policies, tz=runtime.settings.tz)
    session.commit()
    at(clock, runtime, 2026, 11, 23, 17, 20)
    make.post(session, clock, runtime.settings, "送货时间能不能改到下午", user_id="10002")  # due Tuesday 08:50

    at(clock, runtime, 2026, 11, 24, 7, 59)
    assert deliver(session, clock, runtime, policies) == 0
    at(clock, runtime, 2026, 11, 24, 8, 0)
    assert deliver(session, clock, runtime, policies) == 2  # the digest, and October's appraisal
    digest, monthly = private_texts(session, "40001")
    assert digest.startswith("【每日督办】11月24日（周二）")
    assert f"上个工作日以来超时 1 项：客服回复 1（#{late}）" in digest
    assert "今天到期 1 项：客服回复 1" in digest and "仍在超时未兑现：1 项" in digest
    assert f"{CONSOLE}/console/tickets?view=breached" in digest
    assert monthly.startswith("【月度考评】2026年10月") and "month=2026-10" in monthly

    clock.advance(minutes=5)
    assert deliver(session, clock, runtime, policies) == 0  # once a day, however often the scheduler asks
    at(clock, runtime, 2026, 11, 28, 9, 0)  # Saturday
    assert deliver(session, clock, runtime, policies) == 0


def test_the_monthly_appraisal_goes_out_on_the_first_working_day_with_the_ranking(session, clock, runtime, policies):
    make.group(session, clock)
    make.staff(session, clock, Role.SUPERVISOR, chat_user_id="40001", name="督查")
    for n in range(1, 5):
        make.staff(session, clock, Role.AGENT, chat_user_id=f"3000{n}", name=f"客服{n}")
    make.post(session, clock, runtime.settings, "订货平台登录不上怎么办")
    clock.advance(minutes=31)
    escalation.sweep(session, now=clock.now(), policies=policies, tz=runtime.settings.tz)  # charged to all four
    session.commit()
    at(clock, runtime, 2026, 11, 24, 8, 0)
    deliver(session, clock, runtime, policies)  # October's, on the first day the service sees

    at(clock, runtime, 2026, 12, 1, 8, 30)  # Tuesday, the first working day of December
    deliver(session, clock, runtime, policies)
    november = private_texts(session, "40001")[-1]
    assert november.startswith("【月度考评】2026年11月")
    assert "参评 4 人，优秀（90 分及以上）4 人" in november
    assert "前三名：客服1 98、客服2 98、客服3 98" in november
    assert "得分最低：客服4 98（超时 1 次，低分回访 0 次）" in november
    at(clock, runtime, 2026, 12, 2, 8, 30)
    deliver(session, clock, runtime, policies)
    assert sum(text.startswith("【月度考评】2026年11月") for text in private_texts(session, "40001")) == 1


def test_nobody_reachable_means_nothing_is_queued(session, clock, runtime, policies):
    make.staff(session, clock, Role.SUPERVISOR, name="没有QQ的督查")
    at(clock, runtime, 2026, 11, 24, 9, 0)
    assert deliver(session, clock, runtime, policies) == 0
    assert session.exec(select(OutboxMessage)).all() == []
