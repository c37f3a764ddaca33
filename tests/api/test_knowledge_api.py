"""What the bot would say, for staff, over real HTTP."""


def test_search_shows_the_decision_and_the_ranked_entries(admin):
    known = admin.get("/api/v1/knowledge/search", params={"q": "扫码枪扫不出来怎么办"}).json()
    assert known["decision"] == "answer" and known["entries"][0]["id"] == "terminal.scanner-no-read"
    assert known["answer"] and 0 < known["entries"][0]["score"] <= 1
    unknown = admin.get("/api/v1/knowledge/search", params={"q": "明天会下雨吗"}).json()
    assert unknown["decision"] == "handover" and unknown["answer"] is None
    assert admin.get("/api/v1/knowledge/search", params={"q": ""}).status_code == 422


def test_reload_is_for_admins(admin):
    assert admin.post("/api/v1/knowledge/reload").json()["entries"] >= 60
    agent = admin.post("/api/v1/staff", json={"name": "客服", "roles": ["agent"]}).json()
    headers = {"Authorization": f"Bearer {agent['token']}"}
    assert admin.post("/api/v1/knowledge/reload", headers=headers).status_code == 403
    assert admin.get("/api/v1/knowledge/search", params={"q": "许可证到期"}, headers=headers).status_code == 200


def decision(admin, question):
    return admin.get("/api/v1/knowledge/search", params={"q": question}).json()


def test_entries_are_created_edited_and_retired_live(admin):
    body = {"id": "general.parking", "question": "店门口能不能停送货车",
            "similar": ["送货车停哪里", "门口停车位被占了送货怎么办", "送货车没地方停", "卸货车停哪"],
            "keywords": ["停车", "卸货"], "answer": "送货车一般停在店门口路边，临时卸货后马上开走。"}
    created = admin.post("/api/v1/knowledge/entries", json=body)
    assert created.status_code == 201 and created.json()["reviewed"]
    assert decision(admin, "送货车停哪里")["entries"][0]["id"] == "general.parking"
    assert admin.post("/api/v1/knowledge/entries", json=body).status_code == 409
    edited = admin.patch("/api/v1/knowledge/entries/general.parking", json={"answer": "请把送货车停在路边。"})
    assert edited.json()["answer"] == "请把送货车停在路边。"
    admin.patch("/api/v1/knowledge/entries/general.parking", json={"retired": True})
    assert all(e["id"] != "general.parking" for e in decision(admin, "送货车停哪里")["entries"])
    assert admin.patch("/api/v1/knowledge/entries/general.nothing", json={"retired": True}).status_code == 404
    assert admin.post("/api/v1/knowledge/entries", json={**body, "id": "Bad Id"}).status_code == 422


def test_a_ticket_becomes_an_entry_or_another_wording(service, admin):
    import asyncio

    from tests.support.fixtures import unique_number
    from tests.support.napcat import NapCat
    from tests.support.service import ACCESS_TOKEN

    group = unique_number(830_000)
    admin.post("/api/v1/groups", json={"group_id": str(group)}).raise_for_status()

    async def ask():
        async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
            await napcat.group_message(group, 10001, "店门口的灯箱招牌不亮了谁来看看")
            await napcat.next_call()

    asyncio.run(ask())
    group_id = admin.get("/api/v1/groups").json()[-1]["id"]
    [ticket] = admin.get("/api/v1/tickets", params={"group_id": group_id}).json()["items"]
    no_reply = admin.post(f"/api/v1/knowledge/from-ticket/{ticket['id']}", json={"entry_id": "general.sign-repair"})
    assert no_reply.status_code == 422 and "回复" in no_reply.json()["detail"]
    admin.post(f"/api/v1/tickets/{ticket['id']}/replies", json={"text": "灯箱招牌坏了请联系客户经理报修。"})
    made = admin.post(f"/api/v1/knowledge/from-ticket/{ticket['id']}", json={"entry_id": "general.sign-repair"})
    assert made.status_code == 200 and made.json()["answer"] == "灯箱招牌坏了请联系客户经理报修。"
    again = admin.post(f"/api/v1/knowledge/from-ticket/{ticket['id']}", json={"entry_id": "terminal.printer"})
    assert "店门口的灯箱招牌不亮了谁来看看" in again.json()["similar"]
