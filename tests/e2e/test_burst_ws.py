"""Monday 08:30, fifty late replies at once, over the real WebSocket: an agent's reply goes out ahead of the
backlog of notices, and nothing more is said about a pledge once it is met."""

import re

import httpx

from tests.support.databases import fresh_database
from tests.support.fixtures import wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN, ADMIN_TOKEN, seconds_policy, start_service

GROUP = 881001
BURST = 50
# Seconds instead of business minutes, so the burst happens within the test; the sender paces at 2 a second.
FAST = seconds_policy("2s", '[{ after = "0s", notify = "agents_group" }, { after = "3s", notify = "supervisors" }, '
                           '{ after = "6s", notify = "admins" }]')


def text_of(call):
    return "".join(seg["data"].get("text", "") for seg in call["params"]["message"] if seg["type"] == "text")


async def test_a_reply_overtakes_fifty_breaches_and_a_met_pledge_is_not_escalated(tmp_path):
    policy = tmp_path / "fast.toml"
    policy.write_text(FAST)
    with fresh_database(tmp_path, "burst") as url:
        service = start_service(url, tmp_path, POLICY_FILE=str(policy), OUTBOX_RATE_PER_MINUTE="120")
        try:
            with httpx.Client(base_url=service.base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as admin:
                admin.post("/api/v1/groups", json={"group_id": str(GROUP)}).raise_for_status()
                agent = admin.post("/api/v1/staff", json={"name": "客服", "roles": ["agent"],
                                                          "chat_user_id": "31001"}).json()
                for role, user in (("supervisor", "41001"), ("admin", "51001")):
                    admin.post("/api/v1/staff", json={"name": role, "roles": [role], "chat_user_id": user})
                async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
                    await wait_for(lambda: admin.get("/healthz").json()["bots"])
                    for n in range(BURST):
                        await napcat.group_message(GROUP, 10_000 + n, f"店门口的灯箱招牌不亮了谁来看看（{n}号店）")

                    acknowledged: set[str] = set()

                    def backlog():  # every question acknowledged, every pledge breached, and the notices queue
                        # up behind the rate limit (on a busy machine the acknowledgements may still be going out)
                        for call in napcat.drain():
                            if call["action"].startswith("send") and "登记为工单" in text_of(call):
                                acknowledged.update(re.findall(r"#(\d+)", text_of(call)))
                        pending = admin.get("/api/v1/outbox", params={"status": "pending", "limit": 200}).json()
                        return len(acknowledged) == BURST and len(pending) >= 100
                    await wait_for(backlog, timeout=60)

                    as_agent = {"Authorization": f"Bearer {agent['token']}"}
                    reply = admin.post("/api/v1/tickets/1/replies", headers=as_agent,
                                       json={"text": "已联系厂家上门维修"})
                    assert reply.status_code == 201
                    napcat.drain()
                    sends = [await napcat.next_call("send", timeout=15) for _ in range(12)]
                    position = next(i for i, call in enumerate(sends) if "已联系厂家上门维修" in text_of(call))
                    assert position <= 1, [text_of(call)[:30] for call in sends]  # at most one send was already due
                    later = "".join(text_of(call) for call in sends[position + 1:])
                    assert "工单 #1（" not in later and "工单 #1）" not in later  # nothing more about the met pledge

                    def dropped_for_the_met_pledge():  # the outbox lists the newest rows first: ask for dropped ones
                        rows = admin.get("/api/v1/outbox", params={"status": "dropped", "limit": 200}).json()
                        return [m for m in rows if m["ticket_id"] == 1] or None
                    dropped = await wait_for(dropped_for_the_met_pledge, timeout=60)
                    assert all("超时" in m["text"] or "久等" in m["text"] for m in dropped)
                    assert all("met" in m["last_error"] for m in dropped)
        finally:
            service.stop()
