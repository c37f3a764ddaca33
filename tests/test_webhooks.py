"""Staff alerts beyond QQ: WeCom and DingTalk group robots, against a real HTTP server standing in for them,
through the one outbox and sender."""

import asyncio
import base64
import hashlib
import hmac
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.models import Lane, OutboxMessage, OutboxStatus, Role
from bot.policy import Policies
from bot.sender import Sender
from bot.services import escalation, outbox
from bot.webhooks import AlertConfigError, WebhookTransport, health, resolve
from tests import factories as make
from tests.support.robot_server import robot_server
from tests.test_sender import RecordingTransport, VirtualTime

SECRET = "SEC0123456789abcdef"
WECOM_KEY = "key=0a1b2c3d-wecom-key-never-shown"
DING_TOKEN = "access_token=ding-token-never-shown"


@pytest.fixture
def robot():
    with robot_server() as server:
        yield server


def alert_policies(routes, **channels):
    defaults = {"duty": {"kind": "wecom", "url_env": "DUTY_URL"},
                "leaders": {"kind": "dingtalk", "url_env": "LEADERS_URL", "secret_env": "LEADERS_SECRET"}}
    return Policies.model_validate({"alerts": {"channels": channels or defaults, "routes": routes}})


def environment(robot):
    return {"DUTY_URL": robot.url("/cgi-bin/webhook/send", WECOM_KEY),
            "LEADERS_URL": robot.url("/robot/send", DING_TOKEN), "LEADERS_SECRET": SECRET}


def robots_for(policies, robot, clock, virtual=None):
    epoch_ms = (lambda: int(virtual.now * 1000)) if virtual else (lambda: 1_700_000_000_000)
    return WebhookTransport(resolve(policies, environment(robot)), now=clock.now, epoch_ms=epoch_ms)


def sender_for(runtime, robots, transport=None, virtual=None):
    virtual = virtual or VirtualTime()
    return Sender(runtime, transport or RecordingTransport(), monotonic=virtual.monotonic, sleep=virtual.sleep,
                  robots=robots)


def with_mobile(session, member, mobile):
    member.mobile = mobile
    session.add(member)
    session.commit()
    return member


def to_robot(session, clock, channel, text, *, kind="wecom", mentions=None, key=None):
    row = outbox.enqueue(session, now=clock.now(), platform=kind, bot_id=channel, target_kind="robot",
                         target_id=channel, text=text, lane=Lane.STAFF, mentions=mentions, dedupe_key=key)
    session.commit()
    return row


async def test_a_breach_escalation_routed_to_wecom_arrives_with_the_supervisor_mentioned(
        runtime, session, clock, robot):
    policies = alert_policies({"escalation": {"supervisor": ["duty"]}})
    make.staff(session, clock, Role.AGENT, chat_user_id="30001", name="客服1")
    boss = with_mobile(session, make.staff(session, clock, Role.SUPERVISOR, chat_user_id="40001", name="督查"),
                       "13800000001")
    make.group(session, clock)
    ticket = make.post(session, clock, runtime.settings, "订货平台登录不上怎么办", message_id="m1", policies=policies)
    clock.advance(minutes=30)  # due 10:30: breached, the agents told (QQ, as before)
    escalation.sweep(session, now=clock.now(), policies=policies, tz=runtime.settings.tz)
    clock.advance(minutes=30)  # level 2: the supervisors, on the WeCom robot only
    escalation.sweep(session, now=clock.now(), policies=policies, tz=runtime.settings.tz)
    session.commit()
    qq = RecordingTransport()
    sender = sender_for(runtime, robots_for(policies, robot, clock), qq)
    while await sender.deliver_due():
        pass

    assert [posted.path for posted in robot.posted] == ["/cgi-bin/webhook/send"]
    posted = robot.posted[0]
    assert posted.query == {"key": "0a1b2c3d-wecom-key-never-shown"}
    assert posted.body["msgtype"] == "text"
    assert posted.body["text"]["mentioned_mobile_list"] == [boss.mobile]
    assert f"#{ticket.ticket_id}" in posted.body["text"]["content"] and "第2级" in posted.body["text"]["content"]
    assert set(posted.body["text"]) == {"content", "mentioned_mobile_list"}
    assert "40001" not in {to for _, to, _ in qq.sent}  # the supervisor's route names only the robot
    assert {"30001", "900001"} <= {to for _, to, _ in qq.sent}  # the agents' and the retailer's stay on QQ
    row = session.exec(select(OutboxMessage).where(OutboxMessage.target_kind == "robot")).one()
    assert (row.status, row.platform, row.bot_id) == (OutboxStatus.SENT, "wecom", "duty")


async def test_a_dingtalk_request_is_signed_and_mentions_by_mobile(runtime, session, clock, robot):
    policies = alert_policies({})
    to_robot(session, clock, "leaders", "【督办】工单 #7 已超时", kind="dingtalk", mentions="13800000002,13800000003")
    assert await sender_for(runtime, robots_for(policies, robot, clock)).deliver_due() == 1

    posted = robot.posted[0]
    timestamp = posted.query["timestamp"]
    assert timestamp == "1700000000000"
    expected = base64.b64encode(hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert posted.query["sign"] == expected  # parse_qsl undid the URL encoding
    assert posted.query["access_token"] == "ding-token-never-shown"
    assert posted.body == {"msgtype": "text",
                           "text": {"content": "【督办】工单 #7 已超时\n@13800000002 @13800000003"},
                           "at": {"atMobiles": ["13800000002", "13800000003"], "isAtAll": False}}


async def test_a_refusing_robot_is_retried_until_a_dead_letter_with_its_last_error(runtime, session, clock, robot):
    policies = alert_policies({})
    robots = robots_for(policies, robot, clock)
    attempts = runtime.settings.outbox_max_attempts
    robot.answers = [(500, {"errmsg": "busy"})] + [(200, {"errcode": 310000, "errmsg": "keywords not in content"})
                                                   ] * (attempts - 1)
    row = to_robot(session, clock, "duty", "【超时】工单 #8")
    sender = sender_for(runtime, robots)
    for _ in range(attempts):
        assert await sender.deliver_due() == 0
        clock.advance(minutes=11)  # past the longest back-off
    session.expire_all()
    dead = session.get(OutboxMessage, row.id)
    assert (dead.status, dead.attempts) == (OutboxStatus.DEAD, attempts)
    assert dead.last_error == "WebhookFailed: wecom 机器人拒绝：errcode 310000 keywords not in content"
    assert len(robot.posted) == attempts
    assert await sender.deliver_due() == 0 and len(robot.posted) == attempts  # a dead letter is not sent again

    shown, quiet = health(robots, runtime.unit_of_work(outbox.queues))
    assert (quiet.name, quiet.dead, quiet.last_failure_at) == ("leaders", 0, None)
    assert (shown.name, shown.dead, shown.last_success_at, shown.last_error) == (
        "duty", 1, None, "wecom 机器人拒绝：errcode 310000 keywords not in content")
    assert shown.last_failure_at == clock.now() - timedelta(minutes=11)
    assert "never-shown" not in shown.url and shown.url.endswith("key=0a1b…")


async def test_the_robots_rate_limit_answer_puts_the_message_off_without_spending_an_attempt(
        runtime, session, clock, robot):
    robot.answers = [(200, {"errcode": 45009, "errmsg": "api freq out of limit"})]
    row = to_robot(session, clock, "duty", "【超时】工单 #9")
    sender = sender_for(runtime, robots_for(alert_policies({}), robot, clock))
    assert await sender.deliver_due() == 0
    session.expire_all()
    waiting = session.get(OutboxMessage, row.id)
    assert (waiting.status, waiting.attempts) == (OutboxStatus.PENDING, 0)
    assert waiting.next_attempt_at == clock.now() + timedelta(seconds=60)
    clock.advance(seconds=59)
    assert await sender.deliver_due() == 0
    clock.advance(seconds=1)
    assert await sender.deliver_due() == 1
    assert len(robot.posted) == 2


async def test_each_robot_sends_at_most_20_a_minute_and_others_are_not_held_up(runtime, session, clock, robot):
    virtual = VirtualTime()
    policies = alert_policies({})
    for n in range(25):
        to_robot(session, clock, "leaders", f"通知{n}", kind="dingtalk")
        to_robot(session, clock, "duty", f"通知{n}")
    sender = sender_for(runtime, robots_for(policies, robot, clock, virtual), virtual=virtual)
    started = virtual.now
    while await sender.deliver_due():
        pass
    assert len(robot.posted) == 50
    # DingTalk's requests carry their (virtual) moment in the signed timestamp
    moments = [int(p.query["timestamp"]) / 1000 - started for p in robot.posted if p.path == "/robot/send"]
    assert len(moments) == 25
    assert all(sum(1 for other in moments if start <= other < start + 60) <= 20 for start in moments)
    assert moments[20] >= 60  # the 21st waited for the minute
    texts = [p.body["text"]["content"] for p in robot.posted if p.path == "/cgi-bin/webhook/send"]
    assert sorted(texts) == sorted(f"通知{n}" for n in range(25))  # every one once


async def test_two_workers_sending_at_once_deliver_each_robot_message_once(runtime, session, clock, robot):
    policies = alert_policies({})
    for n in range(30):
        to_robot(session, clock, "duty", f"通知{n}", key=f"n{n}")
    assert to_robot(session, clock, "duty", "again", key="n0") is None  # the key is taken: never queued twice
    original = runtime.settings
    first = sender_for(runtime, robots_for(policies, robot, clock))
    runtime.settings = original.model_copy(update={"instance_name": "other"})
    try:
        second = sender_for(runtime, robots_for(policies, robot, clock))
    finally:
        runtime.settings = original
    assert first.worker != second.worker
    while sum(await asyncio.gather(first.deliver_due(), second.deliver_due())):
        pass
    texts = [p.body["text"]["content"] for p in robot.posted]
    assert sorted(texts) == sorted(f"通知{n}" for n in range(30))
    assert len(texts) == len(set(texts))


def test_a_notice_on_two_channels_is_queued_once_on_each_however_often_the_sweep_runs(
        runtime, session, clock):
    policies = alert_policies({"breach": {"agent": ["qq", "duty"]}})
    agent = with_mobile(session, make.staff(session, clock, Role.AGENT, chat_user_id="30001"), "13800000009")
    make.group(session, clock)
    make.post(session, clock, runtime.settings, "订货平台登录不上怎么办", message_id="m1", policies=policies)
    clock.advance(minutes=30)
    for _ in range(3):
        escalation.sweep(session, now=clock.now(), policies=policies, tz=runtime.settings.tz)
        session.commit()
    breach = [(row.target_kind, row.target_id, row.mentions) for row in session.exec(
        select(OutboxMessage).where(OutboxMessage.kind == "escalation").order_by(OutboxMessage.id))
        if "已超时" in row.text and "第" not in row.text]
    assert sorted(breach, key=str) == sorted([("private", "30001", None), ("robot", "duty", agent.mobile)], key=str)


def test_a_visit_task_on_a_robot_leaves_the_shops_address_and_phone_out(runtime, session, clock):
    from bot.services import notices

    policies = alert_policies({"visit_task": {"manager": ["duty"]}})
    manager = with_mobile(session, make.staff(session, clock, Role.MANAGER, name="王经理"), "13800000005")
    audience = notices.Audience(Role.MANAGER, [manager])
    task = "【上门任务】工单 #3\n地址：芙蓉路1号\n电话：13912345678"
    [row] = notices.fan_out(policies, audience, "visit_task", "k", task)
    assert "芙蓉路" not in row["text"] and "13912345678" not in row["text"]
    assert row["text"].startswith("【上门任务】工单 #3") and row["mentions"] == "13800000005"


@pytest.mark.parametrize(("channels", "env", "says"), [
    ({"duty": {"kind": "wecom", "url_env": "DUTY_URL"}}, {}, "环境变量 DUTY_URL 未设置"),
    ({"duty": {"kind": "wecom", "url_env": "DUTY_URL"}}, {"DUTY_URL": "qyapi.weixin.qq.com/send?key=x"},
     "不是网址"),
    ({"duty": {"kind": "wecom", "url_env": "DUTY_URL"}},
     {"DUTY_URL": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}, "缺少 key= 参数"),
    ({"duty": {"kind": "wecom", "url_env": "DUTY_URL"}},
     {"DUTY_URL": "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x"}, "须用 https://"),
    ({"lead": {"kind": "dingtalk", "url_env": "L_URL", "secret_env": "L_SECRET"}},
     {"L_URL": "https://oapi.dingtalk.com/robot/send?access_token=t"}, "环境变量 L_SECRET 未设置"),
])
def test_a_robot_that_cannot_work_is_named_with_the_reason(channels, env, says):
    with pytest.raises(AlertConfigError, match=says):
        resolve(alert_policies({}, **channels), env)


@pytest.mark.parametrize(("alerts", "says"), [
    ({"channels": {"lead": {"kind": "dingtalk", "url_env": "L_URL"}}}, "needs secret_env"),
    ({"routes": {"escalation": {"supervisor": ["nowhere"]}}}, "unknown channels"),
    ({"routes": {"escalation": {"supervisor": []}}}, "is empty"),
    ({"routes": {"gossip": {"supervisor": ["qq"]}}}, "gossip"),
    ({"channels": {"Duty": {"kind": "wecom", "url_env": "D"}}}, "bad channel name"),
])
def test_a_bad_alerts_section_is_refused_by_the_policy_check(alerts, says):
    with pytest.raises(ValueError, match=says):
        Policies.model_validate({"alerts": alerts})


def test_the_example_alerts_section_uncommented_is_a_valid_policy():
    import tomllib
    from pathlib import Path

    example = (Path(__file__).resolve().parents[1] / "policies.example.toml").read_text(encoding="utf-8")
    block = example[example.index("# [alerts.channels.duty]"):example.index("# Calendars.")]
    uncommented = "\n".join(line[2:] for line in block.splitlines() if (line.startswith("# ") and "=" in line)
                            or line.startswith("# ["))
    policies = Policies.model_validate(tomllib.loads(uncommented))
    assert policies.alerts.route("escalation", "admin") == ["leaders"]
    assert policies.alerts.route("task", "agent") == ["qq"]
    env = {"DUTY_WECOM_URL": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
           "LEADERS_DINGTALK_URL": "https://oapi.dingtalk.com/robot/send?access_token=t",
           "LEADERS_DINGTALK_SECRET": "SECx"}
    assert sorted(resolve(policies, env)) == ["duty", "leaders"]


async def test_a_message_for_a_robot_no_longer_configured_waits_and_no_other_robot_takes_it(
        runtime, session, clock, robot):
    row = to_robot(session, clock, "retired", "给已删除的机器人")
    to_robot(session, clock, "duty", "给值班群")
    sender = sender_for(runtime, robots_for(alert_policies({}), robot, clock))
    assert await sender.deliver_due() == 1
    assert [p.body["text"]["content"] for p in robot.posted] == ["给值班群"]
    session.expire_all()
    waiting = session.get(OutboxMessage, row.id)
    assert (waiting.status, waiting.claimed_by, waiting.attempts) == (OutboxStatus.PENDING, None, 0)
