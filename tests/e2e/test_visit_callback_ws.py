"""The second and third pledges end to end: a visit task reaches the manager privately, the manager
records the visit in private chat, and a callback with a low score reopens the ticket."""

from tests.support.fixtures import unique_number, wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN


def text_of(call):
    return "".join(seg["data"].get("text", "") for seg in call["params"]["message"] if seg["type"] == "text")


def bearer(member):
    return {"Authorization": f"Bearer {member['token']}"}


async def test_visit_then_callback(service, admin):
    group, retailer_qq, manager_qq = unique_number(820_000), unique_number(12_000), unique_number(61_000)
    admin.post("/api/v1/groups", json={"group_id": str(group)}).raise_for_status()
    manager = admin.post("/api/v1/staff", json={"name": "刘经理", "roles": ["manager"],
                                                "chat_user_id": str(manager_qq)}).json()
    agent = admin.post("/api/v1/staff", json={"name": "客服", "roles": ["agent"]}).json()
    caller = admin.post("/api/v1/staff", json={"name": "回访员", "roles": ["callback"]}).json()
    shop = admin.post("/api/v1/retailers", json={
        "license_no": f"43011{unique_number(7_000_000)}", "store_name": "好邻居便利店", "phone": "13912345678",
        "address": "芙蓉路8号", "manager_id": manager["id"]}).json()
    admin.post(f"/api/v1/retailers/{shop['id']}/bindings", json={"chat_user_id": str(retailer_qq)}).raise_for_status()

    async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
        await wait_for(lambda: admin.get("/healthz").json()["bots"])
        await napcat.group_message(group, retailer_qq, "终端黑屏了开不了机")
        ack = await napcat.next_call(to=group)
        assert "13912345678" not in text_of(ack)
        task = await napcat.next_call("send_private_msg", to=manager_qq)
        assert task["params"]["user_id"] == manager_qq
        assert "芙蓉路8号" in text_of(task) and "13912345678" in text_of(task)
        ticket_id = int(text_of(task).split("#")[1].split("（")[0])

        mine = admin.get("/api/v1/pledges", headers=bearer(manager)).json()
        assert [(p["ticket_id"], p["kind"]) for p in mine["items"]] == [(ticket_id, "visit")]

        await napcat.private_message(manager_qq, f"上门 #{ticket_id} 更换了电源适配器")
        confirmed = await napcat.next_call("send", to=manager_qq)
        assert f"#{ticket_id}" in text_of(confirmed) and "已记录" in text_of(confirmed)

    reply = admin.post(f"/api/v1/tickets/{ticket_id}/replies", headers=bearer(agent), json={"text": "已安排处理"})
    assert reply.status_code == 201
    pledges = {p["kind"]: p for p in admin.get(f"/api/v1/tickets/{ticket_id}").json()["pledges"]}
    assert pledges["visit"]["state"] == "met" and pledges["callback"]["state"] == "pending"

    same_person = admin.post(f"/api/v1/tickets/{ticket_id}/callbacks", headers=bearer(agent),
                             json={"reached": True, "score": 5})
    assert same_person.status_code == 403  # agents do not call back
    missing_score = admin.post(f"/api/v1/tickets/{ticket_id}/callbacks", headers=bearer(caller),
                               json={"reached": True})
    assert missing_score.status_code == 422
    low = admin.post(f"/api/v1/tickets/{ticket_id}/callbacks", headers=bearer(caller),
                     json={"reached": True, "score": 2, "reply_in_time": True, "visit_happened": True,
                           "comment": "修好了但等太久"})
    assert low.status_code == 201
    detail = admin.get(f"/api/v1/tickets/{ticket_id}").json()
    assert detail["status"] == "open" and "reopened" in [e["action"] for e in detail["events"]]
