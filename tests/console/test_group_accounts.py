"""Admins edit which bot accounts are in a group, through the API and the 群 page: an unknown account or
group is refused with a clear error and changes nothing; the page shows each account's health."""

from tests.console.test_console_http import csrf_of, sign_in
from tests.support.fixtures import unique_number, wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN, ADMIN_TOKEN


def made_group(admin) -> dict:
    made = admin.post("/api/v1/groups", json={"group_id": str(unique_number(893_000)), "name": "开福区服务群"})
    made.raise_for_status()
    return made.json()


async def test_the_api_adds_and_removes_an_account_and_refuses_bad_input(service, admin):
    group, other = made_group(admin), made_group(admin)
    bot_id = str(unique_number(23_000))
    async with NapCat(service.ws_url, self_id=bot_id, token=ACCESS_TOKEN, groups=[int(other["group_id"])]):
        await wait_for(lambda: admin.get(f"/api/v1/groups/{other['id']}/accounts").json() == [bot_id])
    accounts_of = f"/api/v1/groups/{group['id']}/accounts"
    assert admin.get(accounts_of).json() == []

    unknown = admin.post(accounts_of, json={"bot_id": "99999999999"})
    assert unknown.status_code == 422 and "没有机器人账号 99999999999" in unknown.json()["detail"]
    blank = admin.post(accounts_of, json={"bot_id": ""})
    assert blank.status_code == 422
    no_group = admin.post("/api/v1/groups/999999999/accounts", json={"bot_id": bot_id})
    assert no_group.status_code == 404 and "群" in no_group.json()["detail"]
    assert admin.get(accounts_of).json() == []

    added = admin.post(accounts_of, json={"bot_id": bot_id})
    assert added.status_code == 201 and added.json() == [bot_id]
    twice = admin.post(accounts_of, json={"bot_id": bot_id})
    assert twice.status_code == 409 and "已在群" in twice.json()["detail"]
    assert admin.get(accounts_of).json() == [bot_id]
    # the group now has an account, not connected: its messages wait, and /healthz says so
    waiting = {g["group_id"] for g in admin.get("/healthz").json()["groups_without_account"]}
    assert group["group_id"] in waiting

    stranger = admin.delete(f"{accounts_of}/88888888")
    assert stranger.status_code == 404 and admin.get(accounts_of).json() == [bot_id]
    assert admin.delete(f"{accounts_of}/{bot_id}").status_code == 204
    assert admin.get(accounts_of).json() == []
    assert admin.get(f"/api/v1/groups/{other['id']}/accounts").json() == [bot_id]  # untouched


async def test_the_groups_page_shows_accounts_and_edits_a_groups_accounts(service, admin):
    group = made_group(admin)
    bot_id = str(unique_number(24_000))
    row_of = f'id="group-{group["id"]}"'
    async with NapCat(service.ws_url, self_id=bot_id, token=ACCESS_TOKEN, groups=[int(group["group_id"])]):
        await wait_for(lambda: admin.get(f"/api/v1/groups/{group['id']}/accounts").json() == [bot_id])
        with sign_in(service, ADMIN_TOKEN) as console:
            page = console.get("/console/groups").text
            health = page[page.index(f'id="account-{bot_id}"'):][:600]
            assert "在线" in health and group["group_id"] in health
            row = page[page.index(row_of):][:900]
            assert bot_id in row and "在线" in row and "消息等待中" not in row
    await wait_for(lambda: bot_id not in admin.get("/healthz").json()["bots"])
    with sign_in(service, ADMIN_TOKEN) as console:
        page = console.get("/console/groups").text
        row = page[page.index(row_of):][:900]
        assert "未连接" in row and "无在线账号，消息等待中" in row
        csrf = csrf_of(page)
        action = f"/console/groups/{group['id']}/accounts"

        unknown = console.post(action, data={"csrf": csrf, "bot_id": "77777777777"})
        assert unknown.status_code == 422 and "没有机器人账号 77777777777" in unknown.text
        again = console.post(action, data={"csrf": csrf, "bot_id": bot_id})
        assert again.status_code == 409 and "已在群" in again.text
        missing = console.post("/console/groups/999999999/accounts", data={"csrf": csrf, "bot_id": bot_id})
        assert missing.status_code == 404 and "不存在" in missing.text
        assert admin.get(f"/api/v1/groups/{group['id']}/accounts").json() == [bot_id]

        not_in = console.post(f"{action}/remove", data={"csrf": csrf, "bot_id": "66666666"})
        assert not_in.status_code == 404 and "不在群" in not_in.text
        removed = console.post(f"{action}/remove", data={"csrf": csrf, "bot_id": bot_id})
        assert removed.status_code == 303
        assert admin.get(f"/api/v1/groups/{group['id']}/accounts").json() == []
        added = console.post(action, data={"csrf": csrf, "bot_id": bot_id})
        assert added.status_code == 303
        assert admin.get(f"/api/v1/groups/{group['id']}/accounts").json() == [bot_id]


async def test_a_message_through_an_account_without_a_group_list_records_it_in_the_group(service, admin):
    group = made_group(admin)
    bot_id = str(unique_number(25_000))
    async with NapCat(service.ws_url, self_id=bot_id, token=ACCESS_TOKEN) as napcat:  # get_group_list fails
        await wait_for(lambda: bot_id in admin.get("/healthz").json()["bots"])
        assert admin.get(f"/api/v1/groups/{group['id']}/accounts").json() == []
        await napcat.group_message(int(group["group_id"]), unique_number(18_000), "终端开不了机怎么办")
        await napcat.next_call("send_group_msg", to=int(group["group_id"]))
        assert admin.get(f"/api/v1/groups/{group['id']}/accounts").json() == [bot_id]
