"""Acknowledgements waiting together reach the group as one message over the real WebSocket,
mentioning each retailer; the outbox shows every row sent as that message."""

import time
from datetime import UTC, datetime

from sqlmodel import Session

from bot.db import make_engine
from bot.models import Lane
from bot.services import outbox
from tests.support.databases import fresh_database
from tests.support.fixtures import unique_number, wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN, start_service


async def test_acknowledgements_due_together_go_as_one_message_mentioning_each(service, admin):
    group = unique_number(870_000)
    admin.post("/api/v1/groups", json={"group_id": str(group)}).raise_for_status()
    await wait_for(lambda: not admin.get("/healthz").json()["bots"])  # queued while no bot is connected
    engine = make_engine(service.database_url)
    try:
        with Session(engine) as session:
            for user in (10001, 10002, 10003):
                outbox.enqueue(session, now=datetime.now(UTC), platform="qq", target_kind="group",
                               target_id=str(group), text=f"收到，已登记为工单（{user}），客服将尽快回复您。",
                               lane=Lane.REPLY, kind=outbox.ACK, mention_user_id=str(user),
                               reply_to=str(700_000 + user))
            session.commit()
    finally:
        engine.dispose()

    async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
        call = await napcat.next_call("send_group_msg", timeout=15)
        while call["params"]["group_id"] != group:
            call = await napcat.next_call("send_group_msg", timeout=15)
        segments = call["params"]["message"]
        assert [seg["data"]["qq"] for seg in segments if seg["type"] == "at"] == ["10001", "10002", "10003"]
        assert not [seg for seg in segments if seg["type"] == "reply"]  # one quote cannot cover three
        text = "".join(seg["data"].get("text", "") for seg in segments if seg["type"] == "text")
        assert text.startswith("以下 3 条提问已分别登记为工单")
        assert all(f"工单（{user}）" in text for user in (10001, 10002, 10003))

        def sent_together():
            rows = [m for m in admin.get("/api/v1/outbox", params={"limit": 200}).json()
                    if m["target_id"] == str(group)]
            return len(rows) == 3 and {m["status"] for m in rows} == {"sent"}

        await wait_for(sent_together)


async def test_a_service_killed_mid_send_sends_that_message_once_and_the_rest_at_once(tmp_path):
    """SIGKILL while a group message waits for NapCat's answer, with more claimed behind it; the restarted
    service finds the message in the group's history instead of posting it again, and sends the rest
    without waiting out the lease of the dead process's claims."""
    group, others, user = unique_number(880_000), [unique_number(880_000) for _ in range(2)], unique_number(33_000)
    reply = "【工单 #7 客服回复】请重启扫码枪后再试。"
    history: dict[int, list[dict]] = {}
    with fresh_database(tmp_path, "crash") as url:
        service = start_service(url, tmp_path, INSTANCE_NAME="crash-test")
        try:
            engine = make_engine(url)
            try:
                with Session(engine) as session:
                    now = datetime.now(UTC)
                    for kind, target, text in [("group", group, reply), *[("group", other, f"货源通知 {other}")
                                                                           for other in others],
                                               ("private", user, "【回访任务】工单 #7")]:
                        outbox.enqueue(session, now=now, platform="qq", target_kind=kind, target_id=str(target),
                                       text=text, reply_to="700123" if target == group else None)
                    session.commit()
            finally:
                engine.dispose()

            def held(call):
                return call.get("action") == "send_group_msg" and call["params"]["group_id"] == group

            async with NapCat(service.ws_url, token=ACCESS_TOKEN, history=history, unanswered=held) as napcat:
                await napcat.next_call("send_group_msg", timeout=15, to=group)
                with service.client() as client:
                    statuses = [m["status"] for m in client.get("/api/v1/outbox").json()]
                assert statuses == ["sending"] * 4  # one in flight, three claimed behind it
                service.kill()
        finally:
            service.stop()

        restarted = start_service(url, tmp_path, INSTANCE_NAME="crash-test")
        try:
            with restarted.client() as client:
                async with NapCat(restarted.ws_url, token=ACCESS_TOKEN, history=history) as napcat:
                    connected = time.perf_counter()

                    def all_sent():
                        rows = client.get("/api/v1/outbox").json()
                        return rows if {m["status"] for m in rows} == {"sent"} else None

                    rows = await wait_for(all_sent, timeout=30)  # the dead claims' lease is 120 s
                    elapsed = time.perf_counter() - connected
                    private = await napcat.next_call("send_private_msg", to=user)
        finally:
            restarted.stop()

    assert napcat.posted(group) == [reply]  # once, though the first service never heard it went out
    [row] = [m for m in rows if m["target_id"] == str(group)]
    assert row["last_error"].startswith("recovered") and f"message {history[group][0]['message_id']};" in row[
        "last_error"]  # marked sent as the message NapCat posted
    assert all(napcat.posted(other) == [f"货源通知 {other}"] for other in others)
    assert private["params"]["message"][0]["data"]["text"] == "【回访任务】工单 #7"  # no history to check: sent
    assert elapsed < 10, elapsed


async def test_an_account_going_offline_mid_send_holds_up_no_other_account(service, admin):
    """A send waits for the platform's answer; when the account drops instead, the send fails at once
    (it is retried), rather than every account's sends waiting out the send's 15-second timeout."""
    offline_group, other_group = unique_number(870_000), unique_number(870_000)
    for group in (offline_group, other_group):
        admin.post("/api/v1/groups", json={"group_id": str(group)}).raise_for_status()
    dropping = NapCat(service.ws_url, self_id="20811", token=ACCESS_TOKEN,
                      unanswered=lambda call: call["action"].startswith("send"))
    await dropping.__aenter__()
    async with NapCat(service.ws_url, self_id="20812", token=ACCESS_TOKEN) as other:
        try:
            await wait_for(lambda: {"20811", "20812"} <= set(admin.get("/healthz").json()["bots"]))
            await dropping.group_message(offline_group, unique_number(17_000), "终端开不了机怎么办")
            await dropping.next_call(to=offline_group)  # sent; its answer never comes
        finally:
            await dropping.__aexit__()
        started = time.monotonic()
        await other.group_message(other_group, unique_number(17_000), "订货平台登录不上")
        await other.next_call(to=other_group, timeout=10)
        assert time.monotonic() - started < 10
        # nothing is lost: the dropped send is tried again once its account, the only one known in that group, is
        # back; never through the other account, which is not in the group
        async with NapCat(service.ws_url, self_id="20811", token=ACCESS_TOKEN) as back:
            retried = await back.next_call(to=offline_group, timeout=20)
        assert "工单" in "".join(seg["data"].get("text", "") for seg in retried["params"]["message"])
        assert not [call for call in other.drain() if call.get("params", {}).get("group_id") == offline_group]
