"""Bodies, paths and queries are held to what the store keeps: a value it cannot hold is a 422 that
names the field, and a refused request changes nothing."""

import pytest

from tests.api.test_api import make_staff
from tests.support.fixtures import unique_number

BIG_IDS = [2**31, 2**63, 2**64 + 1]


def problem_fields(response) -> list[str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["detail"].startswith("请求内容有误")
    return [str(error["loc"][-1]) for error in body["errors"]]


def test_null_roles_are_refused_and_the_member_is_unchanged(admin):
    member = make_staff(admin, "agent")
    refused = admin.patch(f"/api/v1/staff/{member['id']}", json={"roles": None, "name": "改名"})
    assert "roles" in problem_fields(refused) and "null" in refused.json()["detail"]
    assert admin.get(f"/api/v1/staff/{member['id']}").json()["roles"] == ["agent"]
    assert admin.get(f"/api/v1/staff/{member['id']}").json()["name"] == "员工"
    assert admin.get("/api/v1/staff").status_code == 200
    # a nullable column may still be cleared, and a field left out stays as it is
    cleared = admin.patch(f"/api/v1/staff/{member['id']}", json={"work_no": None})
    assert cleared.status_code == 200 and cleared.json()["roles"] == ["agent"]


def test_null_aliases_are_refused_and_products_and_launches_still_answer(admin):
    product = admin.post("/api/v1/products", json={"name": f"黄鹤楼({unique_number(100)})", "aliases": ["硬楼"]})
    assert product.status_code == 201, product.text
    refused = admin.patch(f"/api/v1/products/{product.json()['id']}", json={"aliases": None})
    assert problem_fields(refused) == ["aliases"]
    assert admin.get("/api/v1/products").status_code == 200
    assert admin.get("/api/v1/launches").status_code == 200
    listed = {row["id"]: row for row in admin.get("/api/v1/products").json()}
    assert listed[product.json()["id"]]["aliases"] == ["硬楼"]


def test_null_for_a_required_column_is_refused_not_an_outage(admin):
    notice = admin.post("/api/v1/supply/notices", json={
        "title": "第10周货源", "period_start": "2025-03-03", "period_end": "2025-03-09",
        "order_opens_at": "2025-03-03T09:00:00", "order_closes_at": "2025-03-04T17:00:00"})
    assert notice.status_code == 201, notice.text
    notice_id = notice.json()["id"]
    for field in ("title", "period_start", "districts", "group_ids"):
        assert problem_fields(admin.patch(f"/api/v1/supply/notices/{notice_id}", json={field: None})) == [field]
    assert admin.get(f"/api/v1/supply/notices/{notice_id}").json()["title"] == "第10周货源"


@pytest.mark.parametrize("big", BIG_IDS)
@pytest.mark.parametrize("path", ["/api/v1/staff/{}", "/api/v1/tickets/{}", "/api/v1/retailers/{}",
                                  "/api/v1/supply/notices/{}", "/api/v1/launches/{}"])
def test_ids_beyond_the_column_are_refused_in_paths(admin, path, big):
    assert len(problem_fields(admin.get(path.format(big)))) == 1


@pytest.mark.parametrize("query", ["retailer_id", "group_id", "offset"])
def test_ids_beyond_the_column_are_refused_in_queries(admin, query):
    assert problem_fields(admin.get("/api/v1/tickets", params={query: 2**31})) == [query]


def test_ids_beyond_the_column_are_refused_in_bodies(admin):
    transfer = admin.post("/api/v1/retailers/transfer", json={"from_manager_id": 2**63, "to_manager_id": 1})
    assert problem_fields(transfer) == ["from_manager_id"]
    notice = admin.post("/api/v1/supply/notices", json={
        "title": "t", "period_start": "2025-03-03", "period_end": "2025-03-09",
        "order_opens_at": "2025-03-03T09:00:00", "order_closes_at": "2025-03-04T17:00:00", "group_ids": [2**31]})
    assert notice.json()["errors"][0]["loc"] == ["body", "group_ids", 0]


def test_prices_texts_and_days_the_store_cannot_keep_are_refused(admin):
    name = f"利群({unique_number(200)})"
    fraction = admin.post("/api/v1/products", json={"name": name, "wholesale_price": "1.234"})
    assert problem_fields(fraction) == ["wholesale_price"]
    nul = admin.post("/api/v1/products", json={"name": name, "aliases": ["a\x00b"]})
    assert problem_fields(nul) == ["aliases"]
    assert admin.get("/api/v1/retailers", params={"district": "芙\x00蓉"}).status_code == 422
    launch = admin.post("/api/v1/launches", json={"product": {"name": name}, "launch_date": "0001-01-01",
                                                  "selling_points": "好抽"})
    assert problem_fields(launch) == ["launch_date"]
    assert name not in {row["name"] for row in admin.get("/api/v1/products").json()}


def test_every_body_refuses_null_where_it_declares_none(admin):
    """The rule, for every JSON body in the OpenAPI: a field declared without null refuses null by name."""
    spec = admin.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    checked = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if not content or "$ref" not in content["schema"]:
                continue
            properties = schemas[content["schema"]["$ref"].rsplit("/", 1)[-1]]["properties"]
            for name, declared in properties.items():
                if {"type": "null"} in declared.get("anyOf", []):
                    continue
                url = path.replace("{entry_id}", "terminal.x").format_map({k: 1 for k in (
                    "ticket_id", "pledge_id", "staff_id", "group_id", "retailer_id", "binding_id",
                    "notice_id", "product_id", "launch_id", "breach_id")})
                response = admin.request(method, url, json={name: None})
                assert name in problem_fields(response), (method, path, name)
                checked += 1
    assert checked > 60


def test_the_openapi_declares_the_real_error_answers(admin):
    spec = admin.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    error = {"$ref": "#/components/schemas/ErrorOut"}
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, operation in operations.items():
            answers = operation["responses"]
            for code in ("401", "503") + (("404",) if "{" in path else ()):
                assert answers[code]["content"]["application/json"]["schema"] == error, (method, path, code)
            if operation.get("parameters") or "requestBody" in operation:
                declared = answers["422"]["content"]["application/json"]["schema"]
                assert error in (declared, *declared.get("anyOf", [])), (method, path)
    assert "413" in spec["paths"]["/api/v1/retailers/import"]["post"]["responses"]
    assert "403" in spec["paths"]["/api/v1/staff"]["get"]["responses"]
    assert "409" in spec["paths"]["/api/v1/groups"]["post"]["responses"]


async def test_only_a_lost_database_is_reported_as_an_outage():
    from sqlalchemy.exc import DataError, OperationalError

    from api.main import _database_error

    refused = await _database_error(None, DataError("SELECT 1", {}, ValueError("integer out of range")))
    assert refused.status_code == 500
    away = await _database_error(None, OperationalError("SELECT 1", {}, ValueError("connection refused")))
    assert away.status_code == 503
