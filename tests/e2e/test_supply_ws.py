"""Supply and publicity end to end: staff publish through the API, the notice reaches the group over
the OneBot WebSocket, and a bound retailer asking 我能订几条 gets their own quota privately."""

from datetime import UTC, date, datetime, timedelta

from tests.support.fixtures import unique_number, wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN


def text_of(call):
    return "".join(seg["data"].get("text", "") for seg in call["params"]["message"] if seg["type"] == "text")


BANDS = [{"min_grade": 1, "max_grade": 10, "cartons": 0}, {"min_grade": 11, "max_grade": 20, "cartons": 1},
         {"min_grade": 21, "max_grade": 30, "cartons": 3}]


async def test_publish_then_a_retailer_asks_for_their_quota(service, admin):
    group, retailer_qq, stranger_qq = unique_number(840_000), unique_number(13_000), unique_number(14_000)
    district = f"片区{group}"
    made = admin.post("/api/v1/groups", json={"group_id": str(group), "district": district}).json()
    marketer = admin.post("/api/v1/staff", json={"name": "营销员", "roles": ["marketing"]}).json()
    agent = admin.post("/api/v1/staff", json={"name": "客服", "roles": ["agent"]}).json()
    shop = admin.post("/api/v1/retailers", json={
        "license_no": f"43012{unique_number(7_100_000)}", "store_name": "金鑫烟酒", "phone": "13912345678",
        "grade": 25, "district": district}).json()
    admin.post(f"/api/v1/retailers/{shop['id']}/bindings", json={"chat_user_id": str(retailer_qq)}).raise_for_status()

    today = date.today()  # the service runs on the real clock
    body = {"title": "第48周货源", "period_start": str(today), "period_end": str(today + timedelta(days=6)),
            "order_opens_at": f"{today}T08:30:00", "order_closes_at": f"{today + timedelta(days=1)}T17:00:00",
            "group_ids": [made["id"]],
            "items": [{"product": "中华(软)", "wholesale_price": "450", "retail_price": "65", "scarce": True,
                       "quotas": BANDS},
                      {"product": "玉溪(软)", "quotas": [{"min_grade": 1, "max_grade": 30, "cartons": 5}]}]}
    as_agent = {"Authorization": f"Bearer {agent['token']}"}
    as_marketer = {"Authorization": f"Bearer {marketer['token']}"}
    assert admin.post("/api/v1/supply/notices", json=body, headers=as_agent).status_code == 403
    notice = admin.post("/api/v1/supply/notices", json=body, headers=as_marketer).json()
    assert notice["state"] == "draft" and "21-30档 3条" in notice["text"]

    async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
        await wait_for(lambda: admin.get("/healthz").json()["bots"])
        published = admin.post(f"/api/v1/supply/notices/{notice['id']}/publish", headers=as_marketer)
        assert published.json()["state"] == "published"
        posted = await napcat.next_call("send_group_msg", to=group)
        assert posted["params"]["group_id"] == group and text_of(posted).startswith("【货源信息】第48周货源")
        await wait_for(lambda: admin.get(f"/api/v1/supply/notices/{notice['id']}/deliveries").json()[0]["status"]
                       == "sent")

        await napcat.group_message(group, retailer_qq, "老师 软中华我能订几条")
        said = await napcat.next_call("send_group_msg", to=group)
        assert "私信" in text_of(said)
        private = await napcat.next_call("send_private_msg", to=retailer_qq)
        assert private["params"]["user_id"] == retailer_qq
        assert private["params"]["group_id"] == group  # QQ's temporary chat: no friendship needed
        assert text_of(private).endswith("中华(软)（紧俏）：3 条")
        assert "25 档" not in text_of(said)  # the grade is the retailer's own, never in the group

        await napcat.group_message(group, stranger_qq, "我能订多少")
        assert "绑定" in text_of(await napcat.next_call("send", to=group))

    interest = admin.get(f"/api/v1/supply/notices/{notice['id']}/interest").json()
    assert sum(row["count"] for row in interest) == 2
    # both questions are logged as tickets the bot answered (the month's figures count them), none waits for an agent
    logged = admin.get("/api/v1/tickets", params={"group_id": made["id"]}).json()["items"]
    assert [(t["category"], t["status"]) for t in logged] == [("supply", "answered")] * 2


async def test_a_launch_posts_once_approved_and_counts_answers(service, admin):
    group, retailer_qq = unique_number(850_000), unique_number(15_000)
    made = admin.post("/api/v1/groups", json={"group_id": str(group)}).json()
    launch = admin.post("/api/v1/launches", json={
        "product": {"name": "黄鹤楼(硬峡谷柔情)", "retail_price": "30", "manufacturer": "湖北中烟"},
        "launch_date": str(date.today() + timedelta(days=7)), "selling_points": "细腻柔和", "source": "manufacturer",
        "group_ids": [made["id"]], "plan": [{"send_at": "2026-01-01T09:00:00", "kind": "launch_day"}]})
    assert launch.status_code == 422  # a post in the past

    launch = admin.post("/api/v1/launches", json={
        "product": {"name": "黄鹤楼(硬峡谷柔情)", "retail_price": "30", "manufacturer": "湖北中烟"},
        "launch_date": str(date.today() + timedelta(days=7)), "selling_points": "细腻柔和", "source": "manufacturer",
        "group_ids": [made["id"]]}).json()
    assert launch["approval"] == "pending" and [post["kind"] for post in launch["plan"]] == [
        "before", "launch_day", "after"]
    assert "A类" in launch["card"]
    approved = admin.post(f"/api/v1/launches/{launch['id']}/approval", json={"approve": True}).json()
    assert approved["approval"] == "approved"
    assert admin.post(f"/api/v1/launches/{launch['id']}/approval", json={"approve": False}).status_code == 409

    async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
        await wait_for(lambda: admin.get("/healthz").json()["bots"])
        await napcat.group_message(group, retailer_qq, "有什么新品")
        assert "黄鹤楼(硬峡谷柔情)" in text_of(await napcat.next_call("send", to=group))
        await napcat.group_message(group, retailer_qq, "想订黄鹤楼硬峡谷柔情")
        assert "想订" in text_of(await napcat.next_call("send", to=group))
    counts = {row["kind"]: row["count"] for row in admin.get(f"/api/v1/launches/{launch['id']}/interest").json()}
    assert counts == {"asked": 1, "want": 1}


async def test_scheduled_notice_and_publicity_arrive_on_time_in_their_groups_only(tmp_path):
    import httpx

    from tests.support.databases import fresh_database
    from tests.support.service import ADMIN_TOKEN, start_service

    policy = tmp_path / "fast.toml"
    policy.write_text("sweep_seconds = 0.2\n")
    with fresh_database(tmp_path, "broadcast") as url:
        service = start_service(url, tmp_path, POLICY_FILE=str(policy))
        try:
            with httpx.Client(base_url=service.base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as admin:
                east = admin.post("/api/v1/groups", json={"group_id": "870001", "district": "城东"}).json()
                admin.post("/api/v1/groups", json={"group_id": "870002", "district": "城西"}).raise_for_status()
                # far enough ahead that the notice and the launch are both made before it (a plan in the past is
                # refused), on a CI machine busy with PostgreSQL and the service's start as well
                soon = datetime.now(UTC) + timedelta(seconds=4)
                today = date.today()
                notice = admin.post("/api/v1/supply/notices", json={
                    "title": "第48周货源", "period_start": str(today), "period_end": str(today + timedelta(days=6)),
                    "order_opens_at": f"{today}T08:30:00", "order_closes_at": f"{today + timedelta(days=1)}T17:00:00",
                    "districts": ["城东"], "items": [{"product": "中华(软)", "quotas": BANDS}]}).json()
                admin.post(f"/api/v1/supply/notices/{notice['id']}/schedule",
                           json={"publish_at": soon.isoformat()}).raise_for_status()
                made = admin.post("/api/v1/launches", json={
                    "product": {"name": "黄鹤楼(硬峡谷柔情)", "retail_price": "30"},
                    "launch_date": str(today + timedelta(days=7)), "selling_points": "细腻柔和",
                    "image_url": "https://example.com/hhl.png", "source": "manufacturer", "group_ids": [east["id"]],
                    "plan": [{"send_at": soon.isoformat(), "kind": "before"}]})
                made.raise_for_status()
                launch = made.json()
                async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
                    await wait_for(lambda: admin.get("/healthz").json()["bots"])
                    posted = await napcat.next_call("send_group_msg", timeout=15)
                    assert datetime.now(UTC) >= soon - timedelta(milliseconds=50)  # not before its time
                    assert (posted["params"]["group_id"], text_of(posted)[:6]) == (870001, "【货源信息】")
                    admin.post(f"/api/v1/launches/{launch['id']}/approval", json={"approve": True}).raise_for_status()
                    publicity = await napcat.next_call("send_group_msg", timeout=15)
                    assert publicity["params"]["group_id"] == 870001
                    assert text_of(publicity).startswith("【新品预告】黄鹤楼(硬峡谷柔情)")
                    assert {"type": "image", "data": {"file": "https://example.com/hhl.png"}} in [
                        {"type": seg["type"], "data": {"file": seg["data"].get("file")}}
                        for seg in publicity["params"]["message"]]
                    assert not [call for call in napcat.drain() if call.get("params", {}).get("group_id") == 870002]
        finally:
            service.stop()
