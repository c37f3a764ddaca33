"""The field's console pages over real HTTP, against the real service: the account manager's visit tasks
and the callback staff's calls, from a retailer's question posted over the real OneBot WebSocket to the
ticket's close (or its reopening on a low score); who may see and record what; bad input refused with
nothing changed."""

import pytest

from tests.console.test_console_http import csrf_of, sign_in
from tests.support.fixtures import new_member, unique_number, wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN

COMPLAINT = "我要投诉，送货员态度很差"
SHORT = "门头招牌的灯箱不亮了，麻烦安排一下"


def bearer(member):
    return {"Authorization": f"Bearer {member['token']}"}


@pytest.fixture(scope="module")
async def field(service, admin):
    """Two account managers, an agent, a callback staffer; two shops of the first manager, each with a
    bound retailer who asked in the group: a complaint (a visit is always needed) and a short delivery."""
    def member(*roles, chat=False):
        return new_member(admin, *roles, chat=chat)

    people = {"manager": member("manager", chat=True), "other": member("manager", chat=True),
              "agent": member("agent"), "caller": member("callback"), "supervisor": member("supervisor")}
    group = unique_number(950_000)
    admin.post("/api/v1/groups", json={"group_id": str(group), "name": "外勤测试群"}).raise_for_status()
    shops, ids = {}, {}
    async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
        await wait_for(lambda: admin.get("/healthz").json()["bots"])
        for key, text, phone in (("complaint", COMPLAINT, "13911112222"), ("short", SHORT, "13933334444")):
            made = admin.post("/api/v1/retailers", json={
                "license_no": f"43013{unique_number(9_000_000)}", "store_name": f"{key}便利店", "phone": phone,
                "address": f"{key}路{unique_number(10)}号", "manager_id": people["manager"]["id"]})
            assert made.status_code == 201, made.text
            shops[key] = made.json()
            user = unique_number(16_000)
            admin.post(f"/api/v1/retailers/{shops[key]['id']}/bindings",
                       json={"chat_user_id": str(user)}).raise_for_status()
            await napcat.group_message(group, user, text)
            await napcat.next_call(to=group)  # the acknowledgement
            found = admin.get("/api/v1/tickets", params={"q": text}).json()["items"]
            ids[key] = next(t["id"] for t in found if t["sender_user_id"] == str(user))
            assert admin.get(f"/api/v1/tickets/{ids[key]}").json()["status"] == "open"
    return {**people, "shops": shops, "ids": ids}


def pledges_of(admin, ticket_id):
    return {p["kind"]: p for p in admin.get(f"/api/v1/tickets/{ticket_id}").json()["pledges"]}


def events_of(admin, ticket_id):
    return [e["action"] for e in admin.get(f"/api/v1/tickets/{ticket_id}").json()["events"]]


def reply(admin, field, key):
    answer = admin.post(f"/api/v1/tickets/{field['ids'][key]}/replies", headers=bearer(field["agent"]),
                        json={"text": "已收到，马上处理"})
    assert answer.status_code == 201, answer.text


# -- visits ------------------------------------------------------------------------------------

def test_the_managers_page_lists_the_visit_with_address_phone_and_request(service, field):
    ticket_id, shop = field["ids"]["complaint"], field["shops"]["complaint"]
    with sign_in(service, field["manager"]["token"]) as client:
        page = client.get("/console/visits")
        assert page.status_code == 200 and "我的上门任务" in page.text
        assert f'href="/console/visits/{ticket_id}"' in page.text
        assert shop["address"] in page.text and shop["phone"] in page.text and COMPLAINT in page.text
        assert "按类别规则需要上门" in page.text  # why the visit is needed
        assert 'name="viewport" content="width=device-width' in page.text and 'href="/console/visits"' in page.text
        assert f"/console/visits/{field['ids']['short']}" not in page.text  # no visit needed there


def test_another_manager_neither_sees_nor_records_the_visit(service, field, admin):
    ticket_id = field["ids"]["complaint"]
    with sign_in(service, field["other"]["token"]) as client:
        page = client.get("/console/visits")
        assert page.status_code == 200 and f"/console/visits/{ticket_id}" not in page.text
        assert client.get(f"/console/visits/{ticket_id}").status_code == 404
        refused = client.post(f"/console/visits/{ticket_id}", data={
            "csrf": csrf_of(page.text), "action": "我去过了", "outcome": "resolved"})
        assert refused.status_code == 404 and "不存在" in refused.text
    assert pledges_of(admin, ticket_id)["visit"]["state"] == "pending"


def test_an_agent_is_refused_the_visits_page(service, field):
    with sign_in(service, field["agent"]["token"]) as client:
        answer = client.get("/console/visits")
        assert answer.status_code == 403 and "权限不足" in answer.text
        assert client.get("/console/callbacks").status_code == 403


@pytest.mark.parametrize(("form", "error"), [
    ({"action": "", "outcome": "resolved"}, "请填写上门做了什么"),
    ({"action": "去了", "outcome": ""}, "请选择上门结果"),
    ({"action": "去了", "outcome": "fixed"}, "上门结果须是"),
    ({"action": "去了", "outcome": "resolved", "photo_url": "ftp://x/y.jpg"}, "照片链接须是"),
    ({"action": "去了", "outcome": "resolved", "visited_at": "2099-01-01T10:00"}, "不能晚于现在"),
    ({"action": "去了", "outcome": "resolved", "visited_at": "明天上午"}, "上门时间格式不对"),
])
def test_a_bad_visit_is_refused_with_the_reason_and_changes_nothing(service, field, admin, form, error):
    ticket_id = field["ids"]["complaint"]
    with sign_in(service, field["manager"]["token"]) as client:
        page = client.get(f"/console/visits/{ticket_id}")
        answer = client.post(f"/console/visits/{ticket_id}", data={"csrf": csrf_of(page.text), **form})
        assert answer.status_code == 422 and error in answer.text
        assert 'name="action"' in answer.text  # the form again, as filled
    assert pledges_of(admin, ticket_id)["visit"]["state"] == "pending"
    assert "visited" not in events_of(admin, ticket_id)


def test_recording_the_visit_meets_the_pledge_and_shows_on_the_ticket(service, field, admin):
    ticket_id = field["ids"]["complaint"]
    reply(admin, field, "complaint")
    assert "callback" not in pledges_of(admin, ticket_id)  # the visit is still to be made
    with sign_in(service, field["manager"]["token"]) as client:
        page = client.get(f"/console/visits/{ticket_id}")
        assert page.status_code == 200 and 'type="datetime-local"' in page.text and "保存上门记录" in page.text
        done = client.post(f"/console/visits/{ticket_id}", data={
            "csrf": csrf_of(page.text), "action": "当面致歉，已调换送货员", "outcome": "resolved",
            "notes": "客户接受", "photo_url": "https://pan.example.com/visit/1.jpg"})
        assert done.status_code == 303 and done.headers["location"].startswith("/console/visits?done=")
        after = client.get(done.headers["location"])
        assert f"工单 #{ticket_id} 上门已记录" in after.text and f"/console/visits/{ticket_id}" not in after.text
        timeline = client.get(f"/console/tickets/{ticket_id}").text
        assert "当面致歉，已调换送货员" in timeline and "结果：已解决" in timeline
        assert "https://pan.example.com/visit/1.jpg" in timeline
        assert "上门任务已完成" in client.get(f"/console/visits/{ticket_id}").text
    pledges = pledges_of(admin, ticket_id)
    assert pledges["visit"]["state"] == "met" and pledges["visit"]["met_by_staff_id"] == field["manager"]["id"]
    assert pledges["callback"]["state"] == "pending"  # reply and visit done: the district calls back


# -- callbacks ---------------------------------------------------------------------------------

def test_the_callers_page_lists_the_call_with_phone_and_who_replied_and_visited(service, field):
    ticket_id, shop = field["ids"]["complaint"], field["shops"]["complaint"]
    with sign_in(service, field["caller"]["token"]) as client:
        page = client.get("/console/callbacks")
        assert page.status_code == 200 and "待回访" in page.text
        card = page.text[page.text.index(f'href="/console/tickets/{ticket_id}"'):]
        card = card[:card.index("记录回访")]
        assert shop["phone"] in card and COMPLAINT in card
        assert field["agent"]["name"] in card and field["manager"]["name"] in card and "已解决" in card
        form = client.get(f"/console/callbacks/{ticket_id}")
        assert 'name="visit_happened"' in form.text  # there was a visit: the retailer confirms it
        for item in ("货源供应", "客户经理服务", "处理问题的时效与结果", "未涉及"):
            assert item in form.text


@pytest.mark.parametrize(("form", "error"), [
    ({"score": "4"}, "请选择电话是否接通"),
    ({"reached": "yes", "score": ""}, "必须填写满意度"),
    ({"reached": "yes", "score": "6"}, "满意度评分须为 1 到 5 分"),
    ({"reached": "yes", "score": "0"}, "满意度评分须为 1 到 5 分"),
    ({"reached": "yes", "score": "四"}, "1 到 5 的整数"),
    ({"reached": "no", "score": "3"}, "未接通的电话不能填写满意度评分"),
    ({"reached": "no", "supply_satisfaction": "satisfied"}, "未接通的电话不能填写客户的确认"),
    ({"reached": "yes", "score": "4", "manager_satisfaction": "great"}, "「客户经理服务」须是"),
    ({"reached": "yes", "score": "4", "reply_in_time": "maybe"}, "客户确认只能选"),
])
def test_a_bad_call_is_refused_with_the_reason_and_changes_nothing(service, field, admin, form, error):
    ticket_id = field["ids"]["complaint"]
    with sign_in(service, field["caller"]["token"]) as client:
        page = client.get(f"/console/callbacks/{ticket_id}")
        answer = client.post(f"/console/callbacks/{ticket_id}", data={"csrf": csrf_of(page.text), **form})
        assert answer.status_code == 422 and error in answer.text
        assert 'name="reached"' in answer.text
    assert pledges_of(admin, ticket_id)["callback"]["state"] == "pending"
    assert not {"callback_recorded", "callback_unreachable"} & set(events_of(admin, ticket_id))


def test_a_call_without_the_csrf_token_changes_nothing(service, field, admin):
    ticket_id = field["ids"]["complaint"]
    with sign_in(service, field["caller"]["token"]) as client:
        answer = client.post(f"/console/callbacks/{ticket_id}", data={"csrf": "forged", "reached": "yes",
                                                                      "score": "5"})
        assert answer.status_code == 403
    assert pledges_of(admin, ticket_id)["callback"]["state"] == "pending"


def test_a_score_of_four_with_the_three_items_closes_the_ticket(service, field, admin):
    ticket_id = field["ids"]["complaint"]
    with sign_in(service, field["caller"]["token"]) as client:
        page = client.get(f"/console/callbacks/{ticket_id}")
        done = client.post(f"/console/callbacks/{ticket_id}", data={
            "csrf": csrf_of(page.text), "reached": "yes", "score": "4", "reply_in_time": "yes",
            "visit_happened": "yes", "supply_satisfaction": "satisfied", "manager_satisfaction": "fair",
            "handling_satisfaction": "satisfied", "comment": "处理得不错"})
        assert done.status_code == 303
        after = client.get(done.headers["location"])
        assert f"工单 #{ticket_id} 回访已记录（4 分）" in after.text and "工单已办结" in after.text
        assert f"/console/callbacks/{ticket_id}" not in after.text  # no longer waiting
        timeline = client.get(f"/console/tickets/{ticket_id}").text
        assert "回访评分 4 分" in timeline and "货源供应：满意" in timeline and "客户经理服务：一般" in timeline
    detail = admin.get(f"/api/v1/tickets/{ticket_id}").json()
    assert detail["status"] == "closed"
    assert {p["kind"]: p["state"] for p in detail["pledges"]}["callback"] == "met"


def test_unreachable_twice_shows_the_retries_then_a_low_score_reopens(service, field, admin):
    ticket_id, shop = field["ids"]["short"], field["shops"]["short"]
    reply(admin, field, "short")
    assert pledges_of(admin, ticket_id)["callback"]["state"] == "pending"
    with sign_in(service, field["caller"]["token"]) as client:
        form = client.get(f"/console/callbacks/{ticket_id}")
        assert shop["phone"] in form.text and 'name="visit_happened"' not in form.text  # no visit to confirm
        assert "未接通 0 次（最多 3 次" in form.text
        no_visit = client.post(f"/console/callbacks/{ticket_id}", data={
            "csrf": csrf_of(form.text), "reached": "yes", "score": "5", "visit_happened": "yes"})
        assert no_visit.status_code == 422 and "没有上门记录" in no_visit.text
        for attempt in (1, 2):
            missed = client.post(f"/console/callbacks/{ticket_id}", data={
                "csrf": csrf_of(form.text), "reached": "no", "comment": "无人接听"})
            assert missed.status_code == 303
            page = client.get(missed.headers["location"])
            assert f"未接通，已记录第 {attempt} 次（最多 3 次）" in page.text
        card = page.text[page.text.index(f'href="/console/tickets/{ticket_id}"'):]
        assert "未接通 2 次（最多 3 次" in card[:card.index("记录回访")]
        assert "未接通 2 次（最多 3 次" in client.get(f"/console/callbacks/{ticket_id}").text
        assert pledges_of(admin, ticket_id)["callback"]["state"] == "pending"

        low = client.post(f"/console/callbacks/{ticket_id}", data={
            "csrf": csrf_of(form.text), "reached": "yes", "score": "2", "reply_in_time": "no",
            "handling_satisfaction": "dissatisfied", "comment": "少的那条还没补"})
        assert low.status_code == 303
        said = client.get(low.headers["location"]).text
        assert f"工单 #{ticket_id} 评分 2 分：工单已重新打开，回复承诺重新计时，已通知主管" in said
    detail = admin.get(f"/api/v1/tickets/{ticket_id}").json()
    assert detail["status"] == "open" and "reopened" in [e["action"] for e in detail["events"]]
    pledges = {p["kind"]: p for p in detail["pledges"]}
    assert pledges["reply"]["state"] == "pending"


def test_the_api_carries_the_new_fields_of_visits_and_calls(service, field, admin):
    """The API's visit and callback bodies take and give what the console records (one rule)."""
    ticket_id = field["ids"]["short"]  # reopened by the low score above
    ordered = admin.post(f"/api/v1/tickets/{ticket_id}/visit", headers=bearer(field["agent"]),
                         json={"note": "客户要求当面核对"})
    assert ordered.status_code == 201, ordered.text
    with sign_in(service, field["manager"]["token"]) as client:
        assert "客户要求当面核对" in client.get("/console/visits").text  # the agent's note, for the manager
    bad = admin.post(f"/api/v1/tickets/{ticket_id}/visits", headers=bearer(field["manager"]),
                     json={"action": "核对了到货", "outcome": "fixed"})
    assert bad.status_code == 422
    made = admin.post(f"/api/v1/tickets/{ticket_id}/visits", headers=bearer(field["manager"]),
                      json={"action": "核对了到货", "outcome": "partly", "photo_url": "https://pan.example.com/2.jpg"})
    assert made.status_code == 201, made.text
    assert (made.json()["outcome"], made.json()["photo_url"]) == ("partly", "https://pan.example.com/2.jpg")
    reply(admin, field, "short")
    assert pledges_of(admin, ticket_id)["callback"]["state"] == "pending"  # the new round's call

    unreachable_with_score = admin.post(f"/api/v1/tickets/{ticket_id}/callbacks", headers=bearer(field["caller"]),
                                        json={"reached": False, "score": 3})
    assert unreachable_with_score.status_code == 422 and "未接通" in unreachable_with_score.json()["detail"]
    call = admin.post(f"/api/v1/tickets/{ticket_id}/callbacks", headers=bearer(field["caller"]), json={
        "reached": True, "score": 5, "reply_in_time": True, "visit_happened": True,
        "supply_satisfaction": "not_involved", "manager_satisfaction": "satisfied",
        "handling_satisfaction": "satisfied"})
    assert call.status_code == 201, call.text
    body = call.json()
    assert (body["supply_satisfaction"], body["manager_satisfaction"], body["handling_satisfaction"]) == (
        "not_involved", "satisfied", "satisfied")
    assert admin.get(f"/api/v1/tickets/{ticket_id}").json()["status"] == "closed"
