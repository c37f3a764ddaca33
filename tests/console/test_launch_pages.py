"""The new-product publicity pages over real HTTP: who may read and who may write, a launch made from the
form with its default plan, a manufacturer's publicity held in the approval queue until approved, the plan
replaced, each post previewed, and bad input refused in Chinese with nothing made."""

import re
from datetime import date, timedelta
from html import unescape

import httpx
import pytest

from tests.console.test_console_http import csrf_of, sign_in
from tests.support.fixtures import new_member, unique_number


@pytest.fixture(scope="module")
def people(admin):
    return {role: new_member(admin, role) for role in ("marketing", "admin", "agent")}


@pytest.fixture(scope="module")
def group(admin):
    number = unique_number(970_000)
    made = admin.post("/api/v1/groups", json={"group_id": str(number), "name": "新品测试群", "district": "新品区"})
    assert made.status_code == 201, made.text
    return made.json()["id"]


def form(group_id: int, **changes) -> dict:
    """A launch a month ahead, so the default plan is wholly in the future."""
    launch_day = date.today() + timedelta(days=30)
    return {"name": f"新品{unique_number(0)}(细支)", "spec": "细支 100mm", "manufacturer": "湖南中烟",
            "wholesale_price": "300", "retail_price": "33", "launch_date": launch_day.isoformat(),
            "selling_points": "细支低焦，口感柔和", "image_url": "", "source": "district",
            "group_ids": [str(group_id)], "kind": ["before", "launch_day", "after"],
            "send_at": ["", "", ""], "note": ["", "", ""]} | changes


def make(client, data: dict):
    csrf = csrf_of(client.get("/console/launches/new").text)
    return client.post("/console/launches", data={"csrf": csrf, **data})


def launch_id(answer) -> int:
    assert answer.status_code == 303, answer.text
    return int(re.search(r"/console/launches/(\d+)", answer.headers["location"])[1])


def test_every_staff_member_reads_launches_and_only_marketing_and_admins_write(service, people, group):
    with sign_in(service, people["marketing"]["token"]) as marketing:
        listing = marketing.get("/console/launches")
        assert listing.status_code == 200 and "新建新品宣传" in listing.text
        assert 'href="/console/launches">新品宣传</a>' in listing.text
        made = launch_id(make(marketing, form(group)))
    with sign_in(service, people["agent"]["token"]) as agent:
        assert "新建新品宣传" not in agent.get("/console/launches").text
        page = agent.get(f"/console/launches/{made}")
        assert page.status_code == 200 and "新品卡片" in page.text and "修改未发送的宣传" not in page.text
        assert agent.get("/console/launches/new").status_code == 403
        csrf = csrf_of(page.text)
        for action in ("/approval", "/plan"):
            answer = agent.post(f"/console/launches/{made}{action}", data={"csrf": csrf, "confirm": "1"})
            assert answer.status_code == 403, action
        assert agent.post("/console/launches", data={"csrf": csrf, **form(group)}).status_code == 403
        assert agent.get("/console/launches/999999").status_code == 404


def test_a_district_launch_gets_the_default_plan_and_each_post_is_previewed(service, admin, people, group):
    with sign_in(service, people["admin"]["token"]) as client:
        made = launch_id(make(client, form(group, name="黄金叶(天香细支)")))
        page = client.get(f"/console/launches/{made}")
    launch = admin.get(f"/api/v1/launches/{made}").json()
    assert launch["approval"] == "approved" and [post["kind"] for post in launch["plan"]] == [
        "before", "launch_day", "after"]
    bubbles = [unescape(part) for part in re.findall(r'<pre class="bubble">(.*?)</pre>', page.text, re.S)]
    assert bubbles[0].startswith("黄金叶(天香细支)\n规格：细支 100mm")  # the card
    assert [bubble.split("黄金叶")[0] for bubble in bubbles[1:]] == ["【新品预告】", "【新品上市】", "【新品回顾】"]
    assert all(bubble.endswith("不需要请回复「不感兴趣」。") for bubble in bubbles[1:])
    assert "发往 <b>1</b> 个群：新品测试群" in page.text


def test_a_manufacturers_publicity_waits_in_the_queue_until_approved(service, admin, people, group):
    with sign_in(service, people["marketing"]["token"]) as client:
        answer = make(client, form(group, name="芙蓉王(硬中支)", source="manufacturer"))
        made = launch_id(answer)
        assert "新品宣传已保存，等待审批后才会发出" in client.get(answer.headers["location"]).text
        queue = client.get("/console/launches").text.split('id="queue"')[1].split("</section>")[0]
        assert f"/console/launches/{made}" in queue and "湖南中烟" in queue
        page = client.get(f"/console/launches/{made}")
        assert "批准后才发出" in page.text
        csrf = csrf_of(page.text)
        unconfirmed = client.post(f"/console/launches/{made}/approval", data={"csrf": csrf, "decision": "approve"})
        assert unconfirmed.status_code == 422 and "请勾选确认" in unconfirmed.text
        unknown = client.post(f"/console/launches/{made}/approval", data={"csrf": csrf, "confirm": "1"})
        assert unknown.status_code == 422 and "批准或驳回" in unknown.text
        assert admin.get(f"/api/v1/launches/{made}").json()["approval"] == "pending"
        approved = client.post(f"/console/launches/{made}/approval",
                               data={"csrf": csrf, "decision": "approve", "confirm": "1"})
        assert approved.status_code == 303
        again = client.post(f"/console/launches/{made}/approval",
                            data={"csrf": csrf, "decision": "reject", "confirm": "1"})
        assert again.status_code == 409 and "已批准" in again.text
        assert f"/console/launches/{made}" not in client.get("/console/launches").text.split("<table")[0]
    assert admin.get(f"/api/v1/launches/{made}").json()["approval"] == "approved"


def test_the_plan_is_replaced_or_cancelled_after_a_confirmation(service, admin, people, group):
    with sign_in(service, people["marketing"]["token"]) as client:
        made = launch_id(make(client, form(group)))
        csrf = csrf_of(client.get(f"/console/launches/{made}").text)
        when = (date.today() + timedelta(days=20)).isoformat() + "T10:30"
        plan = {"csrf": csrf, "kind": ["before", "after"], "send_at": [when, ""], "note": ["欢迎咨询", ""]}
        assert client.post(f"/console/launches/{made}/plan", data=plan).status_code == 422  # not confirmed
        past = client.post(f"/console/launches/{made}/plan", data=plan | {
            "confirm": "1", "send_at": ["2020-01-01T09:00", ""]})
        assert past.status_code == 422 and "必须晚于现在" in past.text
        assert client.post(f"/console/launches/{made}/plan", data=plan | {"confirm": "1"}).status_code == 303
        scheduled = [post for post in admin.get(f"/api/v1/launches/{made}").json()["plan"]
                     if post["state"] == "scheduled"]
        assert [(post["kind"], post["note"]) for post in scheduled] == [("before", "欢迎咨询")]
        cancelled = client.post(f"/console/launches/{made}/plan", data={
            "csrf": csrf, "kind": ["after"], "send_at": [""], "note": [""], "confirm": "1"})
        assert cancelled.status_code == 303
        assert "未发送的宣传已全部取消" in client.get(cancelled.headers["location"]).text
    assert all(post["state"] == "cancelled" for post in admin.get(f"/api/v1/launches/{made}").json()["plan"])


@pytest.mark.parametrize(("changes", "said"), [
    ({"name": " "}, "请填写品规名称"),
    ({"launch_date": ""}, "上市日期"),
    ({"selling_points": ""}, "请填写卖点"),
    ({"retail_price": "三十"}, "零售价不是数字"),
    ({"wholesale_price": "1.234"}, "最多两位小数"),
    ({"image_url": "ftp://example.com/a.png"}, "图片地址应以 http:// 或 https:// 开头"),
    ({"source": "somebody"}, "请选择宣传来源"),
    ({"group_ids": ["x"]}, "目标群无效"),
    ({"send_at": ["2026-13-01T09:00", "", ""]}, "宣传计划第 1 行的发送时间"),
])
def test_bad_input_is_refused_in_chinese_and_makes_nothing(service, admin, people, group, changes, said):
    before = len(admin.get("/api/v1/launches").json())
    with sign_in(service, people["marketing"]["token"]) as client:
        refused = make(client, form(group, **changes))
        assert refused.status_code == 422 and said in unescape(refused.text)
        assert 'value="湖南中烟"' in refused.text  # what was typed is kept
    assert len(admin.get("/api/v1/launches").json()) == before


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")


def test_an_uploaded_picture_is_stored_by_the_service_and_served_to_whoever_posts_it(service, admin, people,
                                                                                      group):
    with sign_in(service, people["marketing"]["token"]) as client:
        csrf = csrf_of(client.get("/console/launches/new").text)
        answer = client.post("/console/launches", data={"csrf": csrf, **form(group)},
                             files={"image": ("新品.png", PNG, "image/png")})
        made = launch_id(answer)
        address = admin.get(f"/api/v1/launches/{made}").json()["image_url"]
        assert re.fullmatch(rf"{service.base_url}/console/media/[0-9a-f]{{64}}\.png", address)
        assert f'<img class="launch-image" src="{address}"' in client.get(f"/console/launches/{made}").text
    with httpx.Client() as stranger:  # the QQ client has no console session
        picture = stranger.get(address)
        assert picture.status_code == 200 and picture.content == PNG
        assert picture.headers["content-type"] == "image/png"
        assert stranger.get(address.replace(".png", ".gif")).status_code == 404
        assert stranger.get(f"{service.base_url}/console/media/{'0' * 64}.png").status_code == 404


@pytest.mark.parametrize(("name", "content", "status", "said"), [
    ("新品.png", b"%PDF-1.7 not a picture", 422, "只支持 JPG、PNG、GIF 或 WebP 图片"),
    ("新品.png", PNG + b"\x00" * (2 * 1024 * 1024), 413, "图片过大：最多 2 MB"),
])
def test_a_picture_of_the_wrong_type_or_size_is_refused_and_makes_no_launch(service, admin, people, group, name,
                                                                            content, status, said):
    before = len(admin.get("/api/v1/launches").json())
    with sign_in(service, people["marketing"]["token"]) as client:
        csrf = csrf_of(client.get("/console/launches/new").text)
        refused = client.post("/console/launches", data={"csrf": csrf, **form(group)},
                              files={"image": (name, content, "image/png")})
        assert refused.status_code == status and said in refused.text
    assert len(admin.get("/api/v1/launches").json()) == before


def test_a_launchs_picture_is_replaced_from_its_page_or_the_api(service, admin, people, group):
    with sign_in(service, people["marketing"]["token"]) as client:
        made = launch_id(make(client, form(group)))
        page = client.get(f"/console/launches/{made}")
        assert "添加图片" in page.text
        none = client.post(f"/console/launches/{made}/image", data={"csrf": csrf_of(page.text)})
        assert none.status_code == 422 and "请选择要上传的图片" in none.text
        added = client.post(f"/console/launches/{made}/image", data={"csrf": csrf_of(page.text)},
                            files={"image": ("a.png", PNG, "image/png")})
        assert added.status_code == 303
    assert admin.get(f"/api/v1/launches/{made}").json()["image_url"].endswith(".png")
    gif = b"GIF89a" + b"\x00" * 20
    assert admin.post(f"/api/v1/launches/{made}/image", files={"file": ("a.gif", gif)}).json()[
        "image_url"].endswith(".gif")
    assert admin.post(f"/api/v1/launches/{made}/image", files={"file": ("a.txt", b"hello")}).status_code == 422
    with service.client(people["agent"]["token"]) as agent:
        assert agent.post(f"/api/v1/launches/{made}/image", files={"file": ("a.gif", gif)}).status_code == 403


def test_a_launchs_card_and_targets_are_corrected_for_the_posts_not_sent_yet(service, admin, people, group):
    other = admin.post("/api/v1/groups", json={"group_id": str(unique_number(970_000)), "district": "新品区"}).json()
    with sign_in(service, people["marketing"]["token"]) as client:
        made = launch_id(make(client, form(group)))
        page = client.get(f"/console/launches/{made}").text
        assert "修改上市日期、卖点或发往的群" in page and "细支低焦，口感柔和</textarea>" in page
        later = (date.today() + timedelta(days=31)).isoformat()
        edit = {"csrf": csrf_of(page), "launch_date": later, "selling_points": "细支低焦，包装升级",
                "spec": "细支 97mm", "manufacturer": "湖南中烟", "wholesale_price": "310", "retail_price": "33",
                "group_ids": [str(other["id"])]}
        for bad, said in (({"selling_points": " "}, "请填写卖点"), ({"launch_date": "明天"}, "上市日期"),
                          ({"retail_price": "三十"}, "零售价不是数字"), ({"group_ids": ["x"]}, "目标群无效")):
            refused = client.post(f"/console/launches/{made}/edit", data=edit | bad)
            assert refused.status_code == 422 and said in unescape(refused.text)
        unchanged = admin.get(f"/api/v1/launches/{made}").json()
        assert (unchanged["selling_points"], unchanged["group_ids"]) == ("细支低焦，口感柔和", [group])
        saved = client.post(f"/console/launches/{made}/edit", data=edit)
        assert saved.status_code == 303
        assert "之后发出的宣传按新内容" in client.get(saved.headers["location"]).text
        again = client.post(f"/console/launches/{made}/edit", data=edit)
        assert again.status_code == 422 and "没有任何改动" in again.text
    corrected = admin.get(f"/api/v1/launches/{made}").json()
    assert (corrected["launch_date"], corrected["group_ids"]) == (later, [other["id"]])
    assert "卖点：细支低焦，包装升级" in corrected["card"] and "规格：细支 97mm" in corrected["card"]
    assert corrected["product"]["wholesale_price"] == "310.00"
    with sign_in(service, people["agent"]["token"]) as client:
        csrf = csrf_of(client.get(f"/console/launches/{made}").text)
        assert client.post(f"/console/launches/{made}/edit", data=edit | {"csrf": csrf}).status_code == 403


def test_the_api_corrects_a_launch_and_refuses_what_it_cannot(service, admin, people, group):
    with sign_in(service, people["marketing"]["token"]) as client:
        made = launch_id(make(client, form(group)))
    changed = admin.patch(f"/api/v1/launches/{made}", json={"selling_points": "新卖点"})
    assert changed.status_code == 200 and "卖点：新卖点" in changed.json()["card"]
    assert admin.patch(f"/api/v1/launches/{made}", json={}).status_code == 422  # nothing to change
    assert admin.patch(f"/api/v1/launches/{made}", json={"selling_points": None}).status_code == 422
    assert admin.patch(f"/api/v1/launches/{made}", json={"source": "manufacturer"}).status_code == 422
    assert admin.patch("/api/v1/launches/999999999", json={"selling_points": "x"}).status_code == 404
    agent = {"Authorization": f"Bearer {people['agent']['token']}"}
    assert admin.patch(f"/api/v1/launches/{made}", json={"selling_points": "x"}, headers=agent).status_code == 403
    assert admin.get(f"/api/v1/launches/{made}").json()["selling_points"] == "新卖点"
