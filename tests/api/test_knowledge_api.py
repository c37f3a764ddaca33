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
