"""The ticket page's actions over real HTTP, against the real service: canned replies, ordering a visit,
pausing and resuming with a reason, reassignment, merging a duplicate, teaching the knowledge base, and
who has the ticket. Each action is refused to the roles the API refuses, and bad input changes nothing."""

import html
import re
from datetime import date, timedelta

import pytest
import yaml

from tests.console.test_console_http import csrf_of, sign_in
from tests.support.fixtures import unique_number, wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN


@pytest.fixture(scope="module")
def crew(admin):
    def member(*roles):
        made = admin.post("/api/v1/staff", json={"name": f"员工{unique_number(300)}", "roles": list(roles)})
        assert made.status_code == 201, made.text
        return made.json()

    return {"agent": member("agent"), "other": member("agent"), "supervisor": member("supervisor"),
            "manager": member("manager"), "caller": member("callback"), "marketer": member("marketing")}


@pytest.fixture(scope="module")
async def chat(service, admin):
    """A registered group with NapCat connected: (group number, napcat)."""
    group = unique_number(950_000)
    admin.post("/api/v1/groups", json={"group_id": str(group), "name": "动作测试群"}).raise_for_status()
    async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
        await wait_for(lambda: admin.get("/healthz").json()["bots"])
        yield group, napcat


async def ask(admin, chat, text, user=None):
    """A retailer asks in the group; the ticket it opened (its id) once the service has it."""
    group, napcat = chat
    user = user or unique_number(16_000)
    await napcat.group_message(group, user, text)

    def opened():
        items = admin.get("/api/v1/tickets", params={"q": text}).json()["items"]
        return next((t["id"] for t in items if t["sender_user_id"] == str(user) and t["text"] == text), None)

    return await wait_for(opened)


def api_as(service, member):
    return service.client(member["token"])


def detail(admin, ticket_id):
    return admin.get(f"/api/v1/tickets/{ticket_id}").json()


def pledge_of(admin, ticket_id, kind):
    return next((p for p in detail(admin, ticket_id)["pledges"] if p["kind"] == kind), None)


def post(client, ticket_id, action, **data):
    page = client.get(f"/console/tickets/{ticket_id}")
    return client.post(f"/console/tickets/{ticket_id}/{action}", data={"csrf": csrf_of(page.text), **data})


# -- who has it ---------------------------------------------------------------------------------

async def test_the_page_shows_who_claimed_it_and_who_else_is_viewing(service, admin, crew, chat):
    ticket_id = await ask(admin, chat, "陈列柜的玻璃门裂了怎么办")
    with sign_in(service, crew["agent"]["token"]) as agent, sign_in(service, crew["other"]["token"]) as other:
        assert "尚无人接单" in agent.get(f"/console/tickets/{ticket_id}").text
        assert post(agent, ticket_id, "claim").status_code == 303
        page = other.get(f"/console/tickets/{ticket_id}").text
        assert f"接单人：<b>{crew['agent']['name']}</b>" in page
        assert f"{crew['agent']['name']} 也在查看这张工单" in page


# -- canned replies -----------------------------------------------------------------------------

async def test_canned_replies_are_found_in_the_knowledge_base_and_fill_the_reply_box(service, admin, crew, chat):
    ticket_id = await ask(admin, chat, "扫码枪突然扫不出来了")
    with sign_in(service, crew["agent"]["token"]) as client:
        page = client.get(f"/console/tickets/{ticket_id}").text
        assert 'hx-get="/console/canned"' in page and 'hx-target="#canned-list"' in page
        assert '<script src="/console/static/console.js"' in page
        found = client.get("/console/canned", params={"q": "扫码枪"})
        assert found.status_code == 200 and "data-answer=" in found.text and "<html" not in found.text
        expected = admin.get("/api/v1/knowledge/search", params={"q": "扫码枪扫不出来"}).json()["entries"][0]
        answer = admin.get(f"/api/v1/knowledge/entries/{expected['id']}").json()["answer"]
        assert f'data-answer="{html.escape(answer)}"' in client.get(
            "/console/canned", params={"q": "扫码枪扫不出来"}).text
        nothing = client.get("/console/canned", params={"q": "鳄鱼潜水艇"})
        assert "没有和「鳄鱼潜水艇」相关的条目" in nothing.text and "data-answer" not in nothing.text
        assert client.get("/console/canned").text.strip() == ""
        script = client.get("/console/static/console.js")
        assert script.status_code == 200 and 'textarea[name="text"]' in script.text and "data-answer" in script.text
    with sign_in(service, crew["marketer"]["token"]) as marketer:  # any staff member searches, as in the API
        assert marketer.get("/console/canned", params={"q": "扫码枪"}).status_code == 200


# -- visits -------------------------------------------------------------------------------------

async def test_an_agent_orders_a_visit_with_a_note(service, admin, crew, chat):
    ticket_id = await ask(admin, chat, "烟柜的灯不亮了能帮忙看看吗")
    with sign_in(service, crew["agent"]["token"]) as client:
        ordered = post(client, ticket_id, "visit", note="灯箱电源需检查")
        assert ordered.status_code == 303
        page = client.get(ordered.headers["location"]).text
        assert "需要上门（灯箱电源需检查）" in page and "已登记上门" in page  # an unbound sender: identify first
    visit = pledge_of(admin, ticket_id, "visit")
    assert visit["state"] == "pending"
    with sign_in(service, crew["supervisor"]["token"]) as client:  # supervisors too; a second order is noted
        again = post(client, ticket_id, "visit", note="")
        assert again.status_code == 303 and "已安排过上门" in client.get(again.headers["location"]).text


# -- pause and resume ----------------------------------------------------------------------------

async def test_a_clock_pauses_and_resumes_with_its_reason_on_the_trail(service, admin, crew, chat):
    ticket_id = await ask(admin, chat, "营销活动的海报怎么申请")
    with sign_in(service, crew["agent"]["token"]) as client:
        empty = post(client, ticket_id, "pause", kind="reply", reason="  ")
        assert empty.status_code == 422 and "暂停原因不能为空" in empty.text
        assert pledge_of(admin, ticket_id, "reply")["state"] == "pending"
        wrong = post(client, ticket_id, "pause", kind="lunch", reason="等")
        assert wrong.status_code == 422 and "请选择" in wrong.text

        paused = post(client, ticket_id, "pause", kind="reply", reason="等客户发活动照片")
        assert paused.status_code == 303
        page = client.get(paused.headers["location"]).text
        assert "暂停计时（回复承诺，等客户发活动照片）" in page and "已暂停" in page and "恢复计时" in page
        assert pledge_of(admin, ticket_id, "reply")["state"] == "paused"
        twice = post(client, ticket_id, "pause", kind="reply", reason="再停一次")
        assert twice.status_code == 422 and "不在计时中" in twice.text

        blank = post(client, ticket_id, "resume", kind="reply", reason="")
        assert blank.status_code == 422 and "恢复原因不能为空" in blank.text
        resumed = post(client, ticket_id, "resume", kind="reply", reason="照片已收到")
        assert resumed.status_code == 303
        assert "恢复计时（回复承诺，照片已收到）" in client.get(f"/console/tickets/{ticket_id}").text
    assert pledge_of(admin, ticket_id, "reply")["state"] == "pending"


async def test_the_api_pause_takes_a_reason_too(service, admin, crew, chat):
    ticket_id = await ask(admin, chat, "微信群里的活动怎么报名")
    pledge = pledge_of(admin, ticket_id, "reply")
    with api_as(service, crew["agent"]) as api:
        assert api.post(f"/api/v1/pledges/{pledge['id']}/pause", json={"reason": " "}).status_code == 422
        assert api.post(f"/api/v1/pledges/{pledge['id']}/pause", json={"reason": "等客户确认时间"}).status_code == 200
        assert api.post(f"/api/v1/pledges/{pledge['id']}/resume").status_code == 200  # a reason is optional here
    paused = [e for e in detail(admin, ticket_id)["events"] if e["action"] == "pledge_paused"]
    assert paused[0]["detail"]["reason"] == "等客户确认时间" and paused[0]["actor_id"] == str(crew["agent"]["id"])


# -- reassignment -------------------------------------------------------------------------------

async def test_a_supervisor_reassigns_to_staff_of_the_pledges_role(service, admin, crew, chat):
    ticket_id = await ask(admin, chat, "合作店的挂牌什么时候发")
    with sign_in(service, crew["supervisor"]["token"]) as client:
        page = client.get(f"/console/tickets/{ticket_id}").text
        assert "改派（主管）" in page
        assert f'<option value="{crew["other"]["id"]}"' in page  # agents for the reply
        assert f'<option value="{crew["manager"]["id"]}"' not in page  # no visit pledge here: no managers
        none = post(client, ticket_id, "assign", kind="reply", staff_id="")
        assert none.status_code == 422 and "请选择接手的员工" in none.text
        wrong_role = post(client, ticket_id, "assign", kind="reply", staff_id=str(crew["manager"]["id"]))
        assert wrong_role.status_code == 422 and "不能承担这项任务" in wrong_role.text
        assert pledge_of(admin, ticket_id, "reply")["owner_staff_id"] is None
        moved = post(client, ticket_id, "assign", kind="reply", staff_id=str(crew["other"]["id"]))
        assert moved.status_code == 303
        page = client.get(moved.headers["location"]).text
        assert f"接单人：<b>{crew['other']['name']}</b>" in page
        assert f"改派（回复承诺，给 {crew['other']['name']}）" in page
    assert pledge_of(admin, ticket_id, "reply")["owner_staff_id"] == crew["other"]["id"]
    with sign_in(service, crew["agent"]["token"]) as agent:  # agents neither see nor use it
        assert "改派（主管）" not in agent.get(f"/console/tickets/{ticket_id}").text
        refused = post(agent, ticket_id, "assign", kind="reply", staff_id=str(crew["agent"]["id"]))
        assert refused.status_code == 403 and "权限不足" in refused.text
    assert pledge_of(admin, ticket_id, "reply")["owner_staff_id"] == crew["other"]["id"]


# -- merging ------------------------------------------------------------------------------------

async def test_a_duplicate_merges_into_the_same_retailers_other_ticket(service, admin, crew, chat):
    user = unique_number(17_000)
    target = await ask(admin, chat, "陈列柜的玻璃门裂了怎么办", user)
    source = await ask(admin, chat, "微信群里的活动怎么报名", user)
    assert source != target
    stranger = await ask(admin, chat, "营销活动的海报怎么申请")
    with sign_in(service, crew["agent"]["token"]) as client:
        itself = post(client, source, "merge", target=str(source))
        assert itself.status_code == 422 and "不能把工单" in itself.text and "合并到它自己" in itself.text
        missing = post(client, source, "merge", target="999999")
        assert missing.status_code == 422 and "目标工单 #999999 不存在" in missing.text
        garbage = post(client, source, "merge", target="十二")
        assert garbage.status_code == 422 and "请填写要并入的目标工单号" in garbage.text
        assert 'value="十二"' in garbage.text  # what was typed stays in the box
        other_sender = post(client, source, "merge", target=str(stranger))
        assert other_sender.status_code == 422 and "不是同一位客户" in other_sender.text
        assert detail(admin, source)["status"] != "closed" and len(detail(admin, source)["messages"]) == 1

        merged = post(client, source, "merge", target=f"#{target}")
        assert merged.status_code == 303
        page = client.get(merged.headers["location"]).text
        assert f"已合并到 <a href=\"/console/tickets/{target}\">工单 #{target}</a>" in page
        assert f"关闭（已合并到工单 #{target}）" in page
        on_target = client.get(f"/console/tickets/{target}").text
        assert "微信群里的活动怎么报名" in on_target and "陈列柜的玻璃门裂了怎么办" in on_target
        assert f"合并重复工单（工单 #{source} 并入本单，移入 1 条消息）" in on_target
    source_detail = detail(admin, source)
    assert source_detail["status"] == "closed" and source_detail["messages"] == []
    assert all(p["state"] in ("cancelled", "met", "not_applicable") for p in source_detail["pledges"])
    assert any(p["state_reason"] == f"已合并到工单 #{target}" for p in source_detail["pledges"])

    closed_one = await ask(admin, chat, "合作店的挂牌什么时候发", user)
    again = await ask(admin, chat, "门头灯箱的广告位怎么申请更换", user)
    admin.post(f"/api/v1/tickets/{closed_one}/close").raise_for_status()
    with sign_in(service, crew["agent"]["token"]) as client:
        into_closed = post(client, again, "merge", target=str(closed_one))
        assert into_closed.status_code == 422 and f"目标工单 #{closed_one} 已关闭" in into_closed.text
    with api_as(service, crew["agent"]) as api:  # the API merges the same way
        refused = api.post(f"/api/v1/tickets/{again}/merge", json={"target_id": closed_one})
        assert refused.status_code == 422 and "已关闭" in refused.json()["detail"]
        assert api.post(f"/api/v1/tickets/{again}/merge", json={"target_id": 999_999}).status_code == 404
        done = api.post(f"/api/v1/tickets/{again}/merge", json={"target_id": target})
        assert done.status_code == 200 and done.json()["id"] == target
    assert detail(admin, again)["status"] == "closed"


# -- correcting what the bot read ---------------------------------------------------------------

async def test_an_agent_corrects_the_category_and_a_complaint_orders_its_visit(service, admin, crew, chat):
    ticket_id = await ask(admin, chat, "陈列柜上的价签怎么申请新的")
    assert detail(admin, ticket_id)["category"] != "complaint" and pledge_of(admin, ticket_id, "visit") is None
    before = detail(admin, ticket_id)
    with sign_in(service, crew["agent"]["token"]) as client:
        wrong = post(client, ticket_id, "category", category="chatter")
        assert wrong.status_code == 422 and "没有这个类别：chatter" in wrong.text
        after = detail(admin, ticket_id)
        assert (after["category"], after["events"], after["pledges"]) == (
            before["category"], before["events"], before["pledges"])

        changed = post(client, ticket_id, "category", category="complaint")
        assert changed.status_code == 303
        page = html.unescape(client.get(changed.headers["location"]).text)
        assert "类别已改为意见投诉" in page and "改类别（" in page and "→ 意见投诉" in page
        assert "需要上门（类别改为意见投诉，按类别规则需要上门）" in page
    assert detail(admin, ticket_id)["category"] == "complaint"
    assert pledge_of(admin, ticket_id, "visit")["state"] == "pending"
    with api_as(service, crew["agent"]) as api:  # the API corrects the same way
        refused = api.post(f"/api/v1/tickets/{ticket_id}/category", json={"category": "complaint"})
        assert refused.status_code == 422 and "已经是这个类别" in refused.json()["detail"]
        assert api.post(f"/api/v1/tickets/{ticket_id}/category", json={"category": "闲聊"}).status_code == 422
        done = api.post(f"/api/v1/tickets/{ticket_id}/category", json={"category": "marketing"})
        assert done.status_code == 200 and done.json()["category"] == "marketing"
    assert pledge_of(admin, ticket_id, "visit")["state"] == "cancelled"


async def test_an_agent_marks_chatter_taken_for_a_request(service, admin, crew, chat):
    ticket_id = await ask(admin, chat, "订货平台的新界面在哪里切换")  # as if the bot had taken chatter for this
    with sign_in(service, crew["agent"]["token"]) as client:
        marked = post(client, ticket_id, "not-a-request")
        assert marked.status_code == 303
        page = html.unescape(client.get(marked.headers["location"]).text)
        assert "已标为不是诉求：工单关闭，不计入诉求统计" in page and "已标为不是诉求，不计入诉求统计" in page
        assert "机器人读错了" not in page  # nothing more to correct
        again = post(client, ticket_id, "not-a-request")
        assert again.status_code == 422 and "已经标为不是诉求" in again.text
    marked_detail = detail(admin, ticket_id)
    assert marked_detail["asked_nothing"] and marked_detail["status"] == "closed"
    assert all(p["state"] != "pending" for p in marked_detail["pledges"])
    day = date.fromisoformat(marked_detail["created_at"][:10])
    with sign_in(service, crew["supervisor"]["token"]) as client:  # the month's figures say how many were marked
        workload = client.get("/console/reports/workload", params={
            "by": "days", "start": (day - timedelta(days=1)).isoformat(), "end": (day + timedelta(days=1)).isoformat()})
        assert workload.status_code == 200 and re.search(r"另有 \d+ 单被工作人员标为不是诉求，未计入", workload.text)
    other = await ask(admin, chat, "订货平台的旧界面还能用多久 回电13912345678")
    with api_as(service, crew["agent"]) as api:
        done = api.post(f"/api/v1/tickets/{other}/not-a-request", json={"note": "其实是闲聊"})
        assert done.status_code == 200 and done.json()["asked_nothing"] is True
        assert api.post("/api/v1/tickets/999999/not-a-request").status_code == 404
        assert api.get("/api/v1/tickets/corrections", params={"since": "2026-01-01"}).status_code == 403
    lines = admin.get("/api/v1/tickets/corrections", params={"since": "2026-01-01T00:00"})
    assert lines.status_code == 200 and lines.headers["content-type"].startswith("application/yaml")
    corrected = yaml.safe_load(lines.text)  # as knowledge/intake/ labels its lines, for the intake model to learn
    assert "订货平台的新界面在哪里切换" in corrected["chatter_corrected"]
    assert "13912345678" not in lines.text  # personal data masked, as in a group message
    assert any(line.startswith("订货平台的旧界面还能用多久 回电") for line in corrected["chatter_corrected"])
    assert admin.get("/api/v1/tickets/corrections").status_code == 422
    assert yaml.safe_load(admin.get("/api/v1/tickets/corrections", params={"since": "2199-01-01"}).text) == {}


# -- teaching the knowledge base ----------------------------------------------------------------

async def test_an_agent_turns_the_reply_into_a_knowledge_entry(service, admin, crew, chat):
    ticket_id = await ask(admin, chat, "门头灯箱的广告位怎么申请更换")
    with sign_in(service, crew["agent"]["token"]) as client:
        assert post(client, ticket_id, "reply", text="门头广告位由区局统一安排，请联系客户经理。").status_code == 303
        page = client.get(f"/console/tickets/{ticket_id}").text
        assert 'name="question" maxlength="200" required value="门头灯箱的广告位怎么申请更换"' in page
        assert ">门头广告位由区局统一安排，请联系客户经理。</textarea>" in page
        bad = post(client, ticket_id, "learn", entry_id="门头.广告", question="门头广告位能换吗",
                   answer="请联系客户经理。")
        assert bad.status_code == 422 and "格式不对" in bad.text and 'value="门头广告位能换吗"' in bad.text
        short = post(client, ticket_id, "learn", entry_id="general.door-ads", question="门", answer="好的好的")
        assert short.status_code == 422 and "问题需 2 到 200 字" in short.text
        assert admin.get("/api/v1/knowledge/entries/general.door-ads").status_code == 404

        made = post(client, ticket_id, "learn", entry_id="general.door-ads", question="门头广告位可以自己换吗",
                    answer="门头广告位由区局统一安排，请联系您的客户经理。")
        assert made.status_code == 303
        assert "新建知识条目（general.door-ads）" in client.get(made.headers["location"]).text
    entry = admin.get("/api/v1/knowledge/entries/general.door-ads").json()
    assert entry["question"] == "门头广告位可以自己换吗"
    assert entry["answer"] == "门头广告位由区局统一安排，请联系您的客户经理。"
    with api_as(service, crew["agent"]) as api:  # the API takes the same edits, to the same service
        wording = api.post(f"/api/v1/knowledge/from-ticket/{ticket_id}",
                           json={"entry_id": "general.door-ads", "question": "店招广告能不能自己换"})
        assert wording.status_code == 200 and "店招广告能不能自己换" in wording.json()["similar"]


# -- roles --------------------------------------------------------------------------------------

ACTIONS = [  # console action, its form, the API call doing the same, the roles both refuse
    ("visit", {"note": "看看"}, lambda t, p: ("post", f"/api/v1/tickets/{t}/visit", {}), ("manager", "caller")),
    ("pause", {"kind": "reply", "reason": "等"},
     lambda t, p: ("post", f"/api/v1/pledges/{p}/pause", {"reason": "等"}), ("manager", "caller")),
    ("resume", {"kind": "reply", "reason": "好"},
     lambda t, p: ("post", f"/api/v1/pledges/{p}/resume", {}), ("manager", "caller")),
    ("assign", {"kind": "reply", "staff_id": "1"},
     lambda t, p: ("post", f"/api/v1/tickets/{t}/assign", {"staff_id": 1}), ("agent", "manager", "caller")),
    ("merge", {"target": "1"}, lambda t, p: ("post", f"/api/v1/tickets/{t}/merge", {"target_id": 1}),
     ("manager", "caller")),
    ("category", {"category": "complaint"},
     lambda t, p: ("post", f"/api/v1/tickets/{t}/category", {"category": "complaint"}), ("manager", "caller")),
    ("not-a-request", {}, lambda t, p: ("post", f"/api/v1/tickets/{t}/not-a-request", {}), ("manager", "caller")),
    ("learn", {"entry_id": "general.role-test", "question": "角色测试问题", "answer": "角色测试答案"},
     lambda t, p: ("post", f"/api/v1/knowledge/from-ticket/{t}", {"entry_id": "general.role-test"}),
     ("manager", "caller")),
]


@pytest.mark.parametrize("action, form, api_call, refused", ACTIONS, ids=[a[0] for a in ACTIONS])
async def test_each_action_is_refused_to_the_roles_the_api_refuses(service, admin, crew, chat, action, form, api_call,
                                                                   refused):
    ticket_id = await ask(admin, chat, "店门口的灯箱招牌不亮了谁来看看")
    pledge_id = pledge_of(admin, ticket_id, "reply")["id"]
    before = detail(admin, ticket_id)
    for role in (*refused, "marketer"):
        method, path, body = api_call(ticket_id, pledge_id)
        with api_as(service, crew[role]) as api:
            assert api.request(method, path, json=body).status_code == 403, (role, path)
        with sign_in(service, crew[role]["token"]) as client:
            page = client.get(f"/console/tickets/{ticket_id}")  # a 403 or 404 page carries the token too
            answer = client.post(f"/console/tickets/{ticket_id}/{action}",
                                 data={"csrf": csrf_of(page.text), **form})
            assert answer.status_code == 403 and "权限不足" in answer.text, (role, action)
    after = detail(admin, ticket_id)
    assert (after["status"], after["pledges"], len(after["events"])) == (
        before["status"], before["pledges"], len(before["events"]))


# -- a request the bot took for chatter: 未建单 ----------------------------------------------------

async def test_an_agent_makes_a_ticket_of_a_request_the_bot_took_for_chatter(service, admin, crew, chat):
    """The line the bot left alone is on the 未建单 page; 建单 makes a ticket of it in the category chosen, and the
    retailer, who had heard nothing, gets the acknowledgement quoting their line."""
    group, napcat = chat
    user = unique_number(17_000)
    said = "哈哈 周末愉快 电话13912345678"
    message_id = await napcat.group_message(group, user, said)

    def kept():
        return next((line for line in admin.get("/api/v1/tickets/unticketed").json()
                     if line["sender_user_id"] == str(user)), None)

    line = await wait_for(kept)
    assert (line["reason"], line["message_id"], line["ticket_id"]) == ("small_talk", str(message_id), None)
    assert line["text"] == "哈哈 周末愉快 电话139****5678"  # masked, as in a group message
    with sign_in(service, crew["agent"]["token"]) as client:
        page = client.get("/console/unticketed")
        assert page.status_code == 200 and "哈哈 周末愉快 电话139****5678" in page.text
        assert "机器人读作：闲聊" in page.text and f'action="/console/unticketed/{line["id"]}/ticket"' in page.text
        form = {"csrf": csrf_of(page.text)}
        bad = client.post(f"/console/unticketed/{line['id']}/ticket", data={**form, "category": "weather"})
        assert bad.status_code == 422 and "没有这个类别：weather" in bad.text
        made = client.post(f"/console/unticketed/{line['id']}/ticket", data={**form, "category": "complaint"})
        assert made.status_code == 303
        ticket_id = int(re.search(r"/console/tickets/(\d+)", made.headers["location"]).group(1))
        ticket_page = html.unescape(client.get(made.headers["location"]).text)
        assert f"已建单：工单 #{ticket_id}，群里已告知零售户" in ticket_page
        assert "机器人没建单，工作人员补建（机器人当作闲聊）" in ticket_page
        again = client.post(f"/console/unticketed/{line['id']}/ticket", data={**form, "category": "supply"})
        assert again.status_code == 422 and f"这条消息已建单：工单 #{ticket_id}" in again.text
        assert client.post("/console/unticketed/999999/ticket", data={**form, "category": "other"}).status_code == 404
        assert f'href="/console/tickets/{ticket_id}">已建单' in client.get("/console/unticketed").text
    quoting = {"type": "reply", "data": {"id": str(message_id)}}
    ack = await napcat.next_call(to=group)
    while ack["params"]["message"][0] != quoting:  # other tests' acknowledgements to this group may come first
        ack = await napcat.next_call(to=group)
    assert f"已登记为工单 #{ticket_id}（意见投诉）" in "".join(
        seg["data"].get("text", "") for seg in ack["params"]["message"])
    made_detail = detail(admin, ticket_id)
    assert (made_detail["category"], made_detail["sender_user_id"]) == ("complaint", str(user))
    assert {p["kind"] for p in made_detail["pledges"]} == {"reply", "visit"}  # the complaint rule's visit
    with sign_in(service, crew["marketer"]["token"]) as client:  # marketing staff read no tickets
        assert client.get("/console/unticketed").status_code == 403
    day = date.fromisoformat(made_detail["created_at"][:10])
    with sign_in(service, crew["supervisor"]["token"]) as client:  # the month's figures say how many were missed
        workload = client.get("/console/reports/workload", params={
            "by": "days", "start": (day - timedelta(days=1)).isoformat(), "end": (day + timedelta(days=1)).isoformat()})
        assert workload.status_code == 200 and re.search(r"其中 \d+ 单机器人没建单，由工作人员补建", workload.text)


async def test_the_api_makes_a_ticket_of_a_line_left_alone_and_refuses_bad_input(service, admin, crew, chat):
    group, napcat = chat
    user = unique_number(18_000)
    await napcat.group_message(group, user, "吃了吗 各位老板")
    line = await wait_for(lambda: next((line for line in admin.get("/api/v1/tickets/unticketed").json()
                                        if line["sender_user_id"] == str(user)), None))
    with api_as(service, crew["agent"]) as api:
        assert api.post(f"/api/v1/tickets/unticketed/{line['id']}/ticket",
                        json={"category": "weather"}).status_code == 422
        assert api.post("/api/v1/tickets/unticketed/999999/ticket").status_code == 404
        made = api.post(f"/api/v1/tickets/unticketed/{line['id']}/ticket", json={"category": "delivery"})
        assert made.status_code == 201 and made.json()["category"] == "delivery"
        again = api.post(f"/api/v1/tickets/unticketed/{line['id']}/ticket")
        assert again.status_code == 422 and "已建单" in again.text
    with api_as(service, crew["manager"]) as api:  # managers read, but do not answer tickets
        assert api.post(f"/api/v1/tickets/unticketed/{line['id']}/ticket").status_code == 403
    grouped = admin.get("/api/v1/tickets/unticketed", params={"group_id": line["chat_group_id"]}).json()
    assert line["id"] in [item["id"] for item in grouped]
    assert next(item for item in grouped if item["id"] == line["id"])["ticket_id"] == made.json()["id"]
