"""A late reply over the real WebSocket: warning, breach, escalation and apology go out, once each;
and what waits in the outbox survives a restart and goes out when the bot reconnects."""

import httpx

from tests.support.databases import fresh_database
from tests.support.fixtures import wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN, ADMIN_TOKEN, seconds_policy, start_service

FAST = seconds_policy("3s", '[{ after = "0s", notify = "agents_group" }, { after = "1s", notify = "supervisors" }]')


def admin_client(service):
    return httpx.Client(base_url=service.base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


def text_of(call):
    return "".join(seg["data"].get("text", "") for seg in call["params"]["message"] if seg["type"] == "text")


async def test_a_breached_reply_warns_escalates_and_apologises_once(tmp_path):
    policy = tmp_path / "fast.toml"
    policy.write_text(FAST)
    with fresh_database(tmp_path, "breach") as url:
        service = start_service(url, tmp_path, POLICY_FILE=str(policy))
        try:
            with admin_client(service) as admin:
                admin.post("/api/v1/groups", json={"group_id": "880001"}).raise_for_status()
                admin.post("/api/v1/staff", json={"name": "客服", "roles": ["agent"], "chat_user_id": "31001"})
                admin.post("/api/v1/staff", json={"name": "督查", "roles": ["supervisor"], "chat_user_id": "41001"})
                async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
                    await wait_for(lambda: admin.get("/healthz").json()["bots"])
                    question = await napcat.group_message(880001, 10001, "店门口的灯箱招牌不亮了谁来看看")
                    ack = await napcat.next_call()
                    assert "#1" in text_of(ack)

                    seen = {}
                    async def collect():
                        call = await napcat.next_call("send", timeout=15)
                        params = call["params"]
                        target = params.get("group_id") or params.get("user_id")
                        seen.setdefault((call["action"], target), []).append(text_of(call))
                        return call

                    def everyone_told():
                        agent = "".join(seen.get(("send_private_msg", 31001), []))
                        return ("即将超时" in agent and "第1级" in agent and ("send_group_msg", 880001) in seen
                                and ("send_private_msg", 41001) in seen)

                    while not everyone_told():  # breach and level 1 to the agent may come as one digest
                        await collect()
                    agent_texts = seen[("send_private_msg", 31001)]
                    assert any("即将超时" in t for t in agent_texts)
                    assert any("已超时" in t for t in agent_texts) and any("第1级" in t for t in agent_texts)
                    assert any("第2级" in t for t in seen[("send_private_msg", 41001)])
                    [apology] = seen[("send_group_msg", 880001)]
                    assert "加急" in apology

                    detail = admin.get("/api/v1/tickets/1").json()
                    assert [e["action"] for e in detail["events"]].count("pledge_escalated") == 2
                    outbox = admin.get("/api/v1/outbox", params={"limit": 200}).json()
                    assert len(outbox) == 6 and all(m["status"] == "sent" for m in outbox)  # with the ack
                    assert question
        finally:
            service.stop()


async def test_the_outbox_survives_a_restart_and_is_sent_on_reconnect(tmp_path):
    with fresh_database(tmp_path, "restart") as url:
        service = start_service(url, tmp_path)
        with admin_client(service) as admin:
            admin.post("/api/v1/groups", json={"group_id": "880002"}).raise_for_status()
            async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
                await wait_for(lambda: admin.get("/healthz").json()["bots"])
                question = await napcat.group_message(880002, 10002, "订货平台登录不上怎么办")
                await napcat.next_call()
            await wait_for(lambda: not admin.get("/healthz").json()["bots"])
            reply = admin.post("/api/v1/tickets/1/replies", json={"text": "请用新密码登录"})
            assert reply.status_code == 201
        service.stop()  # the reply waits in the outbox while the service is down

        service = start_service(url, tmp_path)
        try:
            with admin_client(service) as admin:
                assert [m["status"] for m in admin.get("/api/v1/outbox").json()] == ["pending", "sent"]  # reply, ack
                async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
                    posted = await napcat.next_call("send_group_msg")
                    assert posted["params"]["group_id"] == 880002 and text_of(posted).endswith("请用新密码登录")
                    assert posted["params"]["message"][0]["data"]["id"] == str(question)
                    await wait_for(lambda: admin.get("/api/v1/outbox").json()[0]["status"] == "sent")
        finally:
            service.stop()
