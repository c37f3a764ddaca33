"""The admin API over real HTTP against the running service."""

import pytest

from tests.support.fixtures import unique_number
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN


def make_staff(admin, *roles, chat_user_id=None):
    body = {"name": "员工", "roles": list(roles)}
    if chat_user_id:
        body["chat_user_id"] = chat_user_id
    response = admin.post("/api/v1/staff", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_health_reports_the_database_and_connected_bots(service):
    with service.client(token=None) as anonymous:
        health = anonymous.get("/healthz")
    assert health.status_code == 200
    assert health.json()["database"] is True and isinstance(health.json()["bots"], list)
    assert "create-admin" not in service.log()  # ADMIN_TOKEN made an admin: no warning


def test_openapi_and_docs_are_served(service):
    with service.client(token=None) as anonymous:
        spec = anonymous.get("/openapi.json").json()
        assert "/api/v1/tickets/{ticket_id}/replies" in spec["paths"]
        docs = anonymous.get("/docs")
        assert docs.status_code == 200
        # Swagger UI comes from the service itself, never a CDN an intranet may block
        assert "/static/swagger-ui/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text.lower()
        bundle = anonymous.get("/static/swagger-ui/swagger-ui-bundle.js")
        assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}])
def test_missing_or_wrong_tokens_get_a_json_401(service, headers):
    with service.client(token=None) as anonymous:
        response = anonymous.get("/api/v1/tickets", headers=headers)
    assert response.status_code == 401
    assert "令牌" in response.json()["detail"]


def test_roles_are_checked_per_route(admin):
    agent = make_staff(admin, "agent")
    denied = admin.get("/api/v1/staff", headers=bearer(agent["token"]))
    assert denied.status_code == 403 and "admin" in denied.json()["detail"]
    assert admin.get("/api/v1/tickets", headers=bearer(agent["token"])).status_code == 200
    manager = make_staff(admin, "manager")
    assert admin.get("/api/v1/outbox", headers=bearer(manager["token"])).status_code == 403
    missing = admin.post("/api/v1/tickets/1/replies", headers=bearer(manager["token"]), json={"text": "x"})
    assert missing.status_code == 403


def test_a_new_token_replaces_the_old_one(admin):
    member = make_staff(admin, "agent")
    rotated = admin.post(f"/api/v1/staff/{member['id']}/token").json()
    assert admin.get("/api/v1/staff/me", headers=bearer(member["token"])).status_code == 401
    assert admin.get("/api/v1/staff/me", headers=bearer(rotated["token"])).json()["id"] == member["id"]
    admin.patch(f"/api/v1/staff/{member['id']}", json={"active": False})
    assert admin.get("/api/v1/staff/me", headers=bearer(rotated["token"])).status_code == 401


def test_groups_are_registered_once(admin):
    number = str(unique_number(700_000))
    created = admin.post("/api/v1/groups", json={"group_id": number, "district": "芙蓉区"})
    assert created.status_code == 201 and created.json()["platform"] == "qq"
    again = admin.post("/api/v1/groups", json={"group_id": number})
    assert again.status_code == 409 and number in again.json()["detail"]
    patched = admin.patch(f"/api/v1/groups/{created.json()['id']}", json={"active": False})
    assert patched.json()["active"] is False


def test_retailers_are_created_listed_read_and_updated(admin):
    manager = make_staff(admin, "manager")
    license_no = f"43010{unique_number(2_000_000)}"
    created = admin.post("/api/v1/retailers", json={
        "license_no": license_no, "store_name": "好邻居便利店", "phone": "13800001111",
        "grade": 18, "business_type": "便利店", "manager_id": manager["id"]})
    assert created.status_code == 201, created.text
    retailer = created.json()
    listed = admin.get("/api/v1/retailers", params={"q": license_no}).json()
    assert listed["total"] == 1 and listed["items"][0]["store_name"] == "好邻居便利店"
    updated = admin.patch(f"/api/v1/retailers/{retailer['id']}", json={"grade": 19})
    assert updated.json()["grade"] == 19
    assert admin.get(f"/api/v1/retailers/{retailer['id']}").json()["grade"] == 19
    duplicate = admin.post("/api/v1/retailers", json={"license_no": license_no, "store_name": "x"})
    assert duplicate.status_code == 409
    agent = make_staff(admin, "agent")
    not_a_manager = admin.patch(f"/api/v1/retailers/{retailer['id']}", json={"manager_id": agent["id"]})
    assert not_a_manager.status_code == 422 and "客户经理" in not_a_manager.json()["detail"]


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/retailers", {"license_no": "4301", "store_name": "短号"}),
    ("/api/v1/retailers", {"license_no": "430102999999", "store_name": "店", "grade": 31}),
    ("/api/v1/retailers", {"license_no": "430102999998", "store_name": "店", "surprise": 1}),
    ("/api/v1/retailers", {"license_no": "430102999997", "store_name": "店", "phone": "call me"}),
    ("/api/v1/staff", {"name": "x", "roles": ["emperor"]}),
    ("/api/v1/staff", {"name": "x", "roles": []}),
    ("/api/v1/groups", {"group_id": "not-a-number"}),
    ("/api/v1/tickets/1/replies", {"text": ""}),
    ("/api/v1/tickets/1/replies", {"text": "长" * 4001}),
])
def test_bad_bodies_get_a_clear_422(admin, path, body):
    response = admin.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("请求内容有误")


def test_malformed_json_and_unknown_ids_are_json_errors(admin):
    broken = admin.post("/api/v1/groups", content=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 422 and "detail" in broken.json()
    assert admin.get("/api/v1/tickets/987654").status_code == 404
    assert "不存在" in admin.get("/api/v1/tickets/987654").json()["detail"]
    assert admin.get("/api/v1/retailers/abc").status_code == 422
    assert admin.get("/api/v1/no-such-route").json() == {"detail": "接口不存在"}
    undecodable = admin.post("/api/v1/groups", content=b'{"group_id": "\xff"}',
                             headers={"Content-Type": "application/json"})
    assert undecodable.status_code == 400 and "UTF-8" in undecodable.json()["detail"]


def test_staff_bind_and_unbind_chat_accounts(admin):
    license_no = f"43010{unique_number(3_000_000)}"
    retailer = admin.post("/api/v1/retailers", json={"license_no": license_no, "store_name": "店"}).json()
    other = admin.post("/api/v1/retailers", json={"license_no": license_no + "9", "store_name": "店2"}).json()
    user = str(unique_number(50_000))
    bound = admin.post(f"/api/v1/retailers/{retailer['id']}/bindings", json={"chat_user_id": user})
    assert bound.status_code == 201
    clerk = admin.post(f"/api/v1/retailers/{retailer['id']}/bindings", json={"chat_user_id": user + "1"})
    assert clerk.status_code == 201  # one licence, several accounts
    taken = admin.post(f"/api/v1/retailers/{other['id']}/bindings", json={"chat_user_id": user})
    assert taken.status_code == 409  # one account, one licence
    assert len(admin.get(f"/api/v1/retailers/{retailer['id']}/bindings").json()) == 2
    gone = admin.delete(f"/api/v1/retailers/{retailer['id']}/bindings/{bound.json()['id']}")
    assert gone.status_code == 204
    assert admin.post(f"/api/v1/retailers/{other['id']}/bindings", json={"chat_user_id": user}).status_code == 201


async def test_tickets_are_filtered_replied_and_closed(service, admin):
    group_number = unique_number(710_000)
    group = admin.post("/api/v1/groups", json={"group_id": str(group_number)}).json()
    agent = make_staff(admin, "agent")
    async with NapCat(service.ws_url, self_id="20000", token=ACCESS_TOKEN) as napcat:
        await napcat.group_message(group_number, 10001, "终端黑屏了怎么办")
        await napcat.next_call()
        await napcat.group_message(group_number, 10002, "送货少送了一条")
        await napcat.next_call()

        listed = admin.get("/api/v1/tickets", params={"group_id": group["id"], "category": "delivery"}).json()
        assert listed["total"] == 1 and listed["items"][0]["sender_user_id"] == "10002"
        paged = admin.get("/api/v1/tickets", params={"group_id": group["id"], "limit": 1}).json()
        assert paged["total"] == 2 and len(paged["items"]) == 1
        assert admin.get("/api/v1/tickets", params={"status": "bogus"}).status_code == 422
        future = admin.get("/api/v1/tickets", params={"group_id": group["id"],
                                                      "created_from": "2099-01-01T00:00:00"}).json()
        assert future["total"] == 0

        ticket_id = listed["items"][0]["id"]
        closed = admin.post(f"/api/v1/tickets/{ticket_id}/close", headers=bearer(agent["token"]),
                            json={"note": "已电话解决"})
        assert closed.status_code == 200 and closed.json()["status"] == "closed"
        again = admin.post(f"/api/v1/tickets/{ticket_id}/close", headers=bearer(agent["token"]))
        assert again.status_code == 422 and "已经关闭" in again.json()["detail"]
        late = admin.post(f"/api/v1/tickets/{ticket_id}/replies", json={"text": "补充"})
        assert late.status_code == 422
        events = [e["action"] for e in admin.get(f"/api/v1/tickets/{ticket_id}").json()["events"]]
        assert events == ["opened", "answered_from_knowledge", "closed"]
