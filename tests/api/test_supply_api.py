"""Supply notices and launches for staff, over real HTTP."""

import io
from datetime import date, timedelta

from openpyxl import Workbook

from tests.support.fixtures import unique_number
from tests.support.sheets import sheet_xml, xlsx


def notice_body(**extra):
    today = date.today()
    return {"title": "第48周货源", "period_start": str(today), "period_end": str(today + timedelta(days=6)),
            "order_opens_at": f"{today}T08:30:00", "order_closes_at": f"{today + timedelta(days=1)}T17:00:00"} | extra


def workbook(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_an_item_table_is_uploaded_whole_or_not_at_all(admin):
    notice = admin.post("/api/v1/supply/notices", json=notice_body()).json()
    bad = workbook([["品规", "紧俏", "1-10档", "11-20档"], ["中华(软)", "是", 0, 1], ["玉溪(软)", "否", "很多", 1]])
    refused = admin.post(f"/api/v1/supply/notices/{notice['id']}/items/upload",
                         files={"file": ("items.xlsx", bad)})
    assert refused.status_code == 422
    assert refused.json()["problems"] == [{"row": 3, "message": "1-10档 的限量应是条数，不是“很多”"}]
    assert admin.get(f"/api/v1/supply/notices/{notice['id']}").json()["items"] == []

    good = workbook([["品规", "批发价", "建议零售价", "紧俏", "1-10档", "11-20档"],
                     ["中华(软)", 450, 65, "是", 0, 1], ["玉溪(软)", 200, 23, "否", 5, 5]])
    loaded = admin.post(f"/api/v1/supply/notices/{notice['id']}/items/upload", files={"file": ("items.xlsx", good)})
    assert loaded.status_code == 200
    assert [(item["product"], item["price_class"]) for item in loaded.json()["items"]] == [
        ("中华(软)", "A"), ("玉溪(软)", "A")]
    garbage = admin.post(f"/api/v1/supply/notices/{notice['id']}/items/upload",
                         files={"file": ("items.xlsx", b"PK\x03\x04 not really a workbook")})
    assert garbage.status_code == 422 and "Excel" in garbage.json()["detail"]


def test_bad_bodies_get_clear_errors(admin):
    assert admin.post("/api/v1/supply/notices", json=notice_body(period_end="2020-01-01")).status_code == 422
    overlapping = notice_body(items=[{"product": "中华(软)", "quotas": [
        {"min_grade": 1, "max_grade": 10, "cartons": 0}, {"min_grade": 5, "max_grade": 20, "cartons": 1}]}])
    response = admin.post("/api/v1/supply/notices", json=overlapping)
    assert response.status_code == 422 and "重叠" in response.json()["detail"]
    assert admin.post("/api/v1/supply/notices", json=notice_body(group_ids=[987654])).status_code == 422
    assert admin.post("/api/v1/supply/notices", json={"title": "x"}).status_code == 422
    assert admin.post("/api/v1/supply/notices/999999/publish").status_code == 404
    empty = admin.post("/api/v1/supply/notices", json=notice_body()).json()
    assert admin.post(f"/api/v1/supply/notices/{empty['id']}/publish").status_code == 422  # no items


def test_schedule_correct_and_withdraw_through_the_api(admin):
    group = admin.post("/api/v1/groups", json={"group_id": str(unique_number(860_000))}).json()
    items = [{"product": "中华(软)", "quotas": [{"min_grade": 1, "max_grade": 30, "cartons": 1}]}]
    notice = admin.post("/api/v1/supply/notices", json=notice_body(group_ids=[group["id"]], items=items)).json()
    later = f"{date.today() + timedelta(days=1)}T09:00:00"
    scheduled = admin.post(f"/api/v1/supply/notices/{notice['id']}/schedule", json={"publish_at": later}).json()
    assert scheduled["state"] == "scheduled" and scheduled["publish_at"]
    assert admin.post(f"/api/v1/supply/notices/{notice['id']}/correct", json={"notes": "x"}).status_code == 409
    admin.post(f"/api/v1/supply/notices/{notice['id']}/publish").raise_for_status()
    assert admin.patch(f"/api/v1/supply/notices/{notice['id']}", json={"notes": "x"}).status_code == 409
    corrected = admin.post(f"/api/v1/supply/notices/{notice['id']}/correct", json={"items": [
        {"product": "中华(软)", "quotas": [{"min_grade": 1, "max_grade": 30, "cartons": 2}]}]}).json()
    assert corrected["state"] == "corrected" and corrected["revision"] == 1
    purposes = [row["purpose"] for row in admin.get(f"/api/v1/supply/notices/{notice['id']}/deliveries").json()]
    assert purposes == ["notice", "correction"]
    withdrawn = admin.post(f"/api/v1/supply/notices/{notice['id']}/withdraw", json={"reason": "重新发布"}).json()
    assert withdrawn["state"] == "withdrawn"
    assert admin.post(f"/api/v1/supply/notices/{notice['id']}/withdraw", json={}).status_code == 409


def test_only_admins_and_marketing_staff_publish(admin):
    agent = admin.post("/api/v1/staff", json={"name": "客服", "roles": ["agent"]}).json()
    headers = {"Authorization": f"Bearer {agent['token']}"}
    assert admin.get("/api/v1/supply/notices", headers=headers).status_code == 200
    assert admin.post("/api/v1/supply/notices", json=notice_body(), headers=headers).status_code == 403
    assert admin.post("/api/v1/products", json={"name": "芙蓉王(硬)"}, headers=headers).status_code == 403
    product = admin.post("/api/v1/products", json={"name": "芙蓉王(硬)", "retail_price": "25",
                                                   "aliases": ["硬芙"]}).json()
    assert (product["brand"], product["price_class"]) == ("芙蓉王", "A")
    assert admin.post("/api/v1/products", json={"name": "芙蓉王(硬)"}).status_code == 409


def test_oversized_or_overlong_item_tables_are_refused_whole(admin):
    notice = admin.post("/api/v1/supply/notices", json=notice_body()).json()
    upload = f"/api/v1/supply/notices/{notice['id']}/items/upload"
    huge = admin.post(upload, files={"file": ("items.csv", b"x" * (5 * 1024 * 1024 + 1))})
    assert huge.status_code == 413
    rows = "品规,1-30档\n" + "".join(f"品规{n},1\n" for n in range(400))
    too_many = admin.post(upload, files={"file": ("items.csv", rows.encode())})
    assert too_many.status_code == 422 and "300" in too_many.json()["problems"][-1]["message"]
    hostile = "品规,1-30档\n" + "中" * 5000 + ",1\n"
    assert admin.post(upload, files={"file": ("items.csv", hostile.encode())}).status_code == 422
    assert admin.get(f"/api/v1/supply/notices/{notice['id']}").json()["items"] == []


def test_a_hostile_item_table_is_refused_unread(admin):
    notice = admin.post("/api/v1/supply/notices", json=notice_body()).json()
    upload = f"/api/v1/supply/notices/{notice['id']}/items/upload"
    far = xlsx(sheet_xml({"A1": "品规", "B1": "1-30档", "A2": "中华(软)", "B2": "1", "XFD1048576": "x"}))
    refused = admin.post(upload, files={"file": ("items.xlsx", far)})
    assert refused.status_code == 413 and refused.json()["detail"] == "表格过大：最多 1000 行（不含表头）"
    wide = admin.post(upload, files={"file": ("items.csv", ("品规," + "1-30档," * 120 + "\n").encode())})
    assert wide.status_code == 413 and "列数过多：最多 100 列" in wide.json()["detail"]
    assert admin.get(f"/api/v1/supply/notices/{notice['id']}").json()["items"] == []
