"""The staff (员工) and group (群) pages over real HTTP: admins only; a token shown once and working; the last
admin kept; refusals in Chinese that change nothing."""

import re

import pytest

from tests.console.test_console_http import csrf_of, sign_in
from tests.support.databases import fresh_database
from tests.support.fixtures import new_member, unique_number, wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN, ADMIN_TOKEN, start_service


def shown_token(page: str) -> str:
    found = re.search(r'<p class="token" data-token>([^<]+)</p>', page)
    assert found, "the new token is on the page"
    return found.group(1)


@pytest.fixture(scope="module")
def people(admin):
    return {"supervisor": new_member(admin, "supervisor"), "agent": new_member(admin, "agent")}


def test_only_admins_open_the_staff_and_group_pages(service, people):
    for role in ("supervisor", "agent"):
        with sign_in(service, people[role]["token"]) as member:
            assert member.get("/console/staff").status_code == 403
            assert member.get("/console/groups").status_code == 403
            assert member.get(f"/console/staff/{people[role]['id']}").status_code == 403
            csrf = csrf_of(member.get("/console/tickets").text)
            assert member.post("/console/staff", data={"csrf": csrf, "name": "某人", "roles": ["agent"]}
                               ).status_code == 403
            assert member.post("/console/groups", data={"csrf": csrf, "group_id": "12345678"}).status_code == 403
    with sign_in(service, ADMIN_TOKEN) as console:
        page = console.get("/console/staff")
        assert page.status_code == 200 and people["agent"]["name"] in page.text
        assert 'href="/console/staff"' in page.text and 'href="/console/groups"' in page.text  # in the nav


def test_a_new_member_gets_a_token_shown_once_that_signs_in(service, admin):
    name, account = f"新员工{unique_number(0)}", str(unique_number(55_000))
    with sign_in(service, ADMIN_TOKEN) as console:
        csrf = csrf_of(console.get("/console/staff").text)
        made = console.post("/console/staff", data={"csrf": csrf, "name": name, "work_no": "KM9",
                                                    "roles": ["manager", "agent"], "chat_user_id": account})
        assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
        token = shown_token(made.text)
        assert token not in console.get("/console/staff").text  # once: never again
        taken = console.post("/console/staff", data={"csrf": csrf, "name": "另一人", "roles": ["agent"],
                                                     "chat_user_id": account})
        assert taken.status_code == 409 and "已属于另一位员工" in taken.text
    with service.client(token) as api:
        me = api.get("/api/v1/staff/me").json()
    assert (me["name"], set(me["roles"]), me["chat_user_id"], me["work_no"]) == (name, {"manager", "agent"},
                                                                                 account, "KM9")


@pytest.mark.parametrize(("form", "says"), [
    ({"name": "", "roles": ["agent"]}, "姓名须为 1-64 个字"),
    ({"name": "某人"}, "请至少选择一个角色"),
    ({"name": "某人", "roles": ["boss"]}, "没有这个角色"),
    ({"name": "某人", "roles": ["agent"], "chat_user_id": "qq123"}, "QQ 号须为 4-20 位数字"),
    ({"name": "某人", "roles": ["agent"], "work_no": "W" * 33}, "工号最多 32 个字"),
])
def test_a_bad_staff_form_is_refused_in_chinese_and_nothing_is_made(service, admin, form, says):
    before = len(admin.get("/api/v1/staff").json())
    with sign_in(service, ADMIN_TOKEN) as console:
        csrf = csrf_of(console.get("/console/staff").text)
        refused = console.post("/console/staff", data={"csrf": csrf, **form})
        assert refused.status_code == 422 and says in refused.text
    assert len(admin.get("/api/v1/staff").json()) == before


def test_an_admin_edits_resets_the_token_of_and_deactivates_a_member(service, admin):
    member = new_member(admin, "agent")
    page = f"/console/staff/{member['id']}"
    with sign_in(service, ADMIN_TOKEN) as console:
        csrf = csrf_of(console.get(page).text)
        saved = console.post(page, data={"csrf": csrf, "name": member["name"], "roles": ["agent", "callback"],
                                         "work_no": "", "chat_user_id": ""})
        assert saved.status_code == 303
        assert set(admin.get(f"/api/v1/staff/{member['id']}").json()["roles"]) == {"agent", "callback"}
        no_roles = console.post(page, data={"csrf": csrf, "name": member["name"]})
        assert no_roles.status_code == 422 and "请至少选择一个角色" in no_roles.text

        unconfirmed = console.post(f"{page}/token", data={"csrf": csrf})
        assert unconfirmed.status_code == 422 and "确认" in unconfirmed.text
        with service.client(member["token"]) as api:
            assert api.get("/api/v1/staff/me").status_code == 200  # an unconfirmed reset changed nothing
        with sign_in(service, member["token"]) as members_console:
            assert members_console.get("/console/tickets").status_code == 200
            reset = console.post(f"{page}/token", data={"csrf": csrf, "confirm": "1"})
            assert reset.status_code == 200 and reset.headers["cache-control"] == "no-store"
            token = shown_token(reset.text)
            ended = members_console.get("/console/tickets")  # a console opened with the old token is signed out too
            assert ended.status_code in (302, 303) and "/console/login" in ended.headers["location"]
        assert console.get(page).status_code == 200, "the resetting admin stays signed in"
        with service.client(member["token"]) as old, service.client(token) as new:
            assert old.get("/api/v1/staff/me").status_code == 401
            assert new.get("/api/v1/staff/me").status_code == 200

        assert console.post(f"{page}/active", data={"csrf": csrf, "active": "0"}).status_code == 422  # unconfirmed
        stopped = console.post(f"{page}/active", data={"csrf": csrf, "active": "0", "confirm": "1"})
        assert stopped.status_code == 303
        with service.client(token) as api:
            assert api.get("/api/v1/staff/me").status_code == 401
        assert console.post(f"{page}/active", data={"csrf": csrf, "active": "1", "confirm": "1"}).status_code == 303
        assert admin.get(f"/api/v1/staff/{member['id']}").json()["active"] is True
        assert console.get("/console/staff/999999999").status_code == 404


@pytest.fixture(scope="module")
def lonely_service(tmp_path_factory):
    """A service of its own: on the shared one, other tests' admins may be active too."""
    directory = tmp_path_factory.mktemp("lonely")
    with fresh_database(directory, "lonely") as url:
        running = start_service(url, directory)
        yield running
        running.stop()


def test_the_only_admin_can_neither_leave_nor_lock_themselves_out(lonely_service):
    service = lonely_service
    with service.client() as admin:
        me = admin.get("/api/v1/staff/me").json()
        admins = [m["id"] for m in admin.get("/api/v1/staff").json() if m["active"] and "admin" in m["roles"]]
        assert admins == [me["id"]], "a new service's first admin is its only active admin"
        page = f"/console/staff/{me['id']}"
        with sign_in(service, ADMIN_TOKEN) as console:
            csrf = csrf_of(console.get(page).text)
            demoted = console.post(page, data={"csrf": csrf, "name": me["name"], "roles": ["supervisor"]})
            assert demoted.status_code == 409 and "唯一在用的管理员" in demoted.text
            stopped = console.post(f"{page}/active", data={"csrf": csrf, "active": "0", "confirm": "1"})
            assert stopped.status_code == 409 and "唯一在用的管理员" in stopped.text
            reset = console.post(f"{page}/token", data={"csrf": csrf, "confirm": "1"})
            assert reset.status_code == 409 and "唯一在用的管理员" in reset.text
        after = admin.get("/api/v1/staff/me")
        assert after.status_code == 200 and after.json()["roles"] == me["roles"] and after.json()["active"]


def test_an_admin_registers_a_group_and_edits_its_district(service, admin):
    number = str(unique_number(860_000))
    with sign_in(service, ADMIN_TOKEN) as console:
        csrf = csrf_of(console.get("/console/groups").text)
        bad = console.post("/console/groups", data={"csrf": csrf, "group_id": "12ab", "name": "坏群"})
        assert bad.status_code == 422 and "群号须为 4-20 位数字" in bad.text
        made = console.post("/console/groups", data={"csrf": csrf, "group_id": number, "name": "雨花区服务群",
                                                     "district": "雨花区"})
        assert made.status_code == 303
        twice = console.post("/console/groups", data={"csrf": csrf, "group_id": number})
        assert twice.status_code == 409 and "已登记" in twice.text
        record = next(g for g in admin.get("/api/v1/groups").json() if g["group_id"] == number)
        assert record["district"] == "雨花区"
        page = console.get("/console/groups").text
        row = page[page.index(f'id="group-{record["id"]}"'):]
        assert "尚未收到消息" in row[:800]  # no bot account serves it until its first message

        long = console.post(f"/console/groups/{record['id']}", data={
            "csrf": csrf, "name": "雨花区服务群", "district": "区" * 65, "active": "1"})
        assert long.status_code == 422 and "片区最多 64 个字" in long.text
        edited = console.post(f"/console/groups/{record['id']}", data={
            "csrf": csrf, "name": "雨花区服务群", "district": "雨花区东片", "active": "0"})
        assert edited.status_code == 303
        missing = console.post("/console/groups/999999999", data={"csrf": csrf, "name": "", "district": "",
                                                                  "active": "1"})
        assert missing.status_code == 404
    record = next(g for g in admin.get("/api/v1/groups").json() if g["group_id"] == number)
    assert (record["district"], record["active"]) == ("雨花区东片", False)


async def test_a_group_shows_the_bot_account_that_serves_it_and_whether_it_is_connected(service, admin):
    number = unique_number(870_000)
    admin.post("/api/v1/groups", json={"group_id": str(number), "name": "天心区服务群"}).raise_for_status()
    async with NapCat(service.ws_url, self_id="20777", token=ACCESS_TOKEN) as napcat:
        await wait_for(lambda: "20777" in admin.get("/healthz").json()["bots"])
        await napcat.group_message(number, unique_number(16_000), "终端开不了机怎么办")
        await napcat.next_call(to=number)  # the acknowledgement went out through this account
        with sign_in(service, ADMIN_TOKEN) as console:
            page = console.get("/console/groups").text
            row = page[page.index(f"<td data-label=\"群号\">{number}"):][:800]
            assert "20777" in row and "在线" in row
    await wait_for(lambda: "20777" not in admin.get("/healthz").json()["bots"])
    with sign_in(service, ADMIN_TOKEN) as console:
        page = console.get("/console/groups").text
        row = page[page.index(f"<td data-label=\"群号\">{number}"):][:800]
        assert "20777" in row and "未连接" in row
