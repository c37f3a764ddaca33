"""Who reads which tickets, over real HTTP: the access rule of `bot.services.access` for each role.

One group, two account managers with a shop each and a third shop of the first manager whose visit
a supervisor gave to the second; an unbound sender; every retailer writes a phone number in the
request, the way retailers do."""

import pytest

from tests.support.fixtures import unique_number, wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN

PHONE_A, PHONE_B, PHONE_C, PHONE_STRANGER = "13912345678", "13800001111", "13600003333", "13700002222"


def bearer(member):
    return {"Authorization": f"Bearer {member['token']}"}


def texts_of(page_or_ticket):
    items = page_or_ticket.get("items", [page_or_ticket])
    return " ".join(f"{t['text']} {t['latest_text'] or ''}" for t in items)


@pytest.fixture(scope="module")
async def district(service, admin):
    group = unique_number(930_000)
    group_row = admin.post("/api/v1/groups", json={"group_id": str(group)}).json()

    def member(*roles, chat=False):
        body = {"name": "员工", "roles": list(roles)}
        if chat:
            body["chat_user_id"] = str(unique_number(66_000))
        made = admin.post("/api/v1/staff", json=body)
        assert made.status_code == 201, made.text
        return made.json()

    people = {"first": member("manager", chat=True), "second": member("manager", chat=True),
              "agent": member("agent"), "caller": member("callback"), "supervisor": member("supervisor"),
              "marketer": member("marketing")}
    senders = {}
    for shop, owner, phone in (("a", "first", PHONE_A), ("b", "second", PHONE_B), ("c", "first", PHONE_C)):
        license_no = f"43012{unique_number(8_000_000)}"
        retailer = admin.post("/api/v1/retailers", json={
            "license_no": license_no, "store_name": f"店{shop}", "phone": phone, "address": f"{shop}路1号",
            "manager_id": people[owner]["id"]}).json()
        senders[shop] = unique_number(13_000)
        admin.post(f"/api/v1/retailers/{retailer['id']}/bindings",
                   json={"chat_user_id": str(senders[shop])}).raise_for_status()
    senders["stranger"] = unique_number(14_000)

    async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
        await wait_for(lambda: admin.get("/healthz").json()["bots"])
        requests = {"a": f"终端黑屏了开不了机，回电{PHONE_A}", "b": f"送货少送了一条，联系我{PHONE_B}",
                    "c": f"终端开不了机了，电话{PHONE_C}", "stranger": f"扫码枪扫不出来，我电话{PHONE_STRANGER}"}
        for shop, text in requests.items():
            await napcat.group_message(group, senders[shop], text)
            await napcat.next_call(to=group)
        listed = admin.get("/api/v1/tickets", params={"group_id": group_row["id"]}).json()["items"]
        ids = {shop: next(t["id"] for t in listed if t["sender_user_id"] == str(number))
               for shop, number in senders.items()}
        for _ in ("a", "c"):  # the visit tasks, to the first manager
            await napcat.next_call("send_private_msg", to=int(people["first"]["chat_user_id"]))
        given = admin.post(f"/api/v1/tickets/{ids['c']}/assign", headers=bearer(people["supervisor"]),
                           json={"staff_id": people["second"]["id"], "kind": "visit"})
        assert given.status_code == 200, given.text
        await napcat.next_call("send_private_msg", to=int(people["second"]["chat_user_id"]))
        replied = admin.post(f"/api/v1/tickets/{ids['b']}/replies", headers=bearer(people["agent"]),
                             json={"text": "已安排补送"})
        assert replied.status_code == 201, replied.text
        await napcat.next_call(to=group)
    pledges = {p["kind"]: p["state"] for p in admin.get(f"/api/v1/tickets/{ids['b']}").json()["pledges"]}
    assert pledges["callback"] == "pending"  # b is the one ticket with a callback to make
    return {"group": group_row["id"], "ids": ids, **people}


def listed(admin, who, district, **params):
    return admin.get("/api/v1/tickets", params={"group_id": district["group"], **params}, headers=bearer(who))


def test_a_manager_lists_their_retailers_tickets_and_the_visits_they_own(admin, district):
    ids = district["ids"]
    first = listed(admin, district["first"], district).json()
    assert first["total"] == 2 and {t["id"] for t in first["items"]} == {ids["a"], ids["c"]}
    second = listed(admin, district["second"], district).json()
    assert second["total"] == 2 and {t["id"] for t in second["items"]} == {ids["b"], ids["c"]}  # c: their visit
    assert PHONE_A in texts_of(first)  # their own retailer: as written

    for other in (ids["b"], ids["stranger"]):
        refused = admin.get(f"/api/v1/tickets/{other}", headers=bearer(district["first"]))
        assert refused.status_code == 404 and refused.json()["detail"] == f"工单 #{other} 不存在"
    own = admin.get(f"/api/v1/tickets/{ids['a']}", headers=bearer(district["first"])).json()
    assert own["retailer"]["phone"] == PHONE_A and own["retailer"]["address"] == "a路1号"
    visiting = admin.get(f"/api/v1/tickets/{ids['c']}", headers=bearer(district["second"])).json()
    assert visiting["retailer"]["address"] == "c路1号"  # the visit task already gave them where to go


def test_paging_totals_count_only_what_the_caller_may_see(admin, district):
    first_page = listed(admin, district["first"], district, limit=1).json()
    second_page = listed(admin, district["first"], district, limit=1, offset=1).json()
    assert first_page["total"] == second_page["total"] == 2
    assert {first_page["items"][0]["id"], second_page["items"][0]["id"]} == {district["ids"]["a"], district["ids"]["c"]}
    assert listed(admin, district["first"], district, offset=2).json() == {"total": 2, "items": []}
    assert listed(admin, district["agent"], district, limit=1).json()["total"] == 4
    assert listed(admin, district["caller"], district, q="送货").json()["total"] == 1
    assert listed(admin, district["first"], district, q="送货").json()["total"] == 0


def test_a_managers_pledges_are_the_visits_on_tickets_they_may_see(admin, district):
    ids = district["ids"]
    first = admin.get("/api/v1/pledges", headers=bearer(district["first"])).json()
    assert sorted((p["ticket_id"], p["kind"]) for p in first["items"]) == [(ids["a"], "visit"), (ids["c"], "visit")]
    second = admin.get("/api/v1/pledges", headers=bearer(district["second"])).json()
    assert [(p["ticket_id"], p["owner_staff_id"]) for p in second["items"]] == [(ids["c"], district["second"]["id"])]
    assert admin.get("/api/v1/pledges", params={"kind": "reply"},
                     headers=bearer(district["first"])).status_code == 403


def test_agents_read_every_ticket_with_the_numbers_masked(admin, district):
    page = listed(admin, district["agent"], district).json()
    assert page["total"] == 4
    words = texts_of(page)
    assert "139****5678" in words and "137****2222" in words and "终端黑屏了开不了机" in words
    assert not any(phone in words for phone in (PHONE_A, PHONE_B, PHONE_C, PHONE_STRANGER))

    detail = admin.get(f"/api/v1/tickets/{district['ids']['a']}", headers=bearer(district["agent"])).json()
    assert PHONE_A not in str(detail) and "139****5678" in detail["messages"][0]["text"]
    assert detail["retailer"]["store_name"] == "店a" and "phone" not in detail["retailer"]
    assert "address" not in detail["retailer"] and "owner_name" not in detail["retailer"]
    unbound = admin.get(f"/api/v1/tickets/{district['ids']['stranger']}", headers=bearer(district["agent"])).json()
    assert unbound["retailer"] is None and PHONE_STRANGER not in str(unbound)
    closed = admin.post(f"/api/v1/tickets/{district['ids']['stranger']}/close", headers=bearer(district["agent"]))
    assert closed.status_code == 200 and "137****2222" in closed.json()["text"]  # a write answers in the same view


def test_callback_staff_read_the_tickets_to_call_back_with_the_phone(admin, district):
    ids = district["ids"]
    page = listed(admin, district["caller"], district).json()
    assert page["total"] == 1 and page["items"][0]["id"] == ids["b"] and PHONE_B in texts_of(page)
    detail = admin.get(f"/api/v1/tickets/{ids['b']}", headers=bearer(district["caller"])).json()
    assert detail["retailer"]["phone"] == PHONE_B and "address" not in detail["retailer"]
    assert admin.get(f"/api/v1/tickets/{ids['a']}", headers=bearer(district["caller"])).status_code == 404


def test_supervisors_read_everything_as_written(admin, district):
    page = listed(admin, district["supervisor"], district).json()
    assert page["total"] == 4
    assert all(phone in texts_of(page) for phone in (PHONE_A, PHONE_B, PHONE_C, PHONE_STRANGER))
    detail = admin.get(f"/api/v1/tickets/{district['ids']['a']}", headers=bearer(district["supervisor"])).json()
    assert detail["retailer"]["phone"] == PHONE_A and detail["retailer"]["address"] == "a路1号"


def test_marketing_staff_read_no_tickets_and_no_retailers(admin, district):
    marketer = bearer(district["marketer"])
    for path in ("/api/v1/tickets", f"/api/v1/tickets/{district['ids']['a']}", "/api/v1/retailers"):
        refused = admin.get(path, headers=marketer)
        assert refused.status_code == 403 and "权限不足" in refused.json()["detail"]
    assert admin.get("/api/v1/pledges", headers=marketer).json() == {"total": 0, "items": []}
