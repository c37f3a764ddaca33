"""The retailer directory over real HTTP: roles, import, export, history, transfer."""

import asyncio
import csv
import io
import time

import httpx
import pytest
from openpyxl import load_workbook

from tests.support.fixtures import unique_number
from tests.support.service import ADMIN_TOKEN
from tests.support.sheets import sheet_xml, xlsx


def bearer(member):
    return {"Authorization": f"Bearer {member['token']}"}


def staff(admin, *roles, name="员工", work_no=None):
    body = {"name": name, "roles": list(roles)}
    if work_no:
        body["work_no"] = work_no
    return admin.post("/api/v1/staff", json=body).json()


@pytest.fixture
def territory(admin):
    """Two managers, each with retailers of their own."""
    district = f"区{unique_number(0)}"
    first = staff(admin, "manager", name="刘经理", work_no=f"KM{unique_number(100)}")
    second = staff(admin, "manager", name="陈经理", work_no=f"KM{unique_number(200)}")
    shops = []
    for owner, count in ((first, 2), (second, 1)):
        for _ in range(count):
            license_no = f"43010{unique_number(5_000_000)}"
            shops.append(admin.post("/api/v1/retailers", json={
                "license_no": license_no, "store_name": f"店{license_no[-3:]}", "phone": "13912345678",
                "grade": 10, "district": district, "manager_id": owner["id"]}).json())
    return {"district": district, "first": first, "second": second, "shops": shops}


def test_a_manager_sees_and_exports_only_their_own(admin, territory):
    first, district = territory["first"], territory["district"]
    mine = admin.get("/api/v1/retailers", params={"district": district}, headers=bearer(first)).json()
    assert mine["total"] == 2 and {r["manager_id"] for r in mine["items"]} == {first["id"]}
    asked_for_other = admin.get("/api/v1/retailers", headers=bearer(first),
                                params={"district": district, "manager_id": territory["second"]["id"]}).json()
    assert asked_for_other["total"] == 2  # held to their own territory
    other_shop = territory["shops"][2]
    assert admin.get(f"/api/v1/retailers/{other_shop['id']}", headers=bearer(first)).status_code == 404

    exported = admin.get("/api/v1/retailers/export", params={"district": district}, headers=bearer(first))
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][0] == "许可证号" and len(rows) == 3
    assert {row[8] for row in rows[1:]} == {first["work_no"]}


def test_supervisors_see_everyone_and_export_xlsx(admin, territory):
    supervisor = staff(admin, "supervisor")
    listed = admin.get("/api/v1/retailers", params={"district": territory["district"]}, headers=bearer(supervisor))
    assert listed.json()["total"] == 3
    exported = admin.get("/api/v1/retailers/export", headers=bearer(supervisor),
                         params={"district": territory["district"], "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(exported.content)).active
    assert sheet.max_row == 4 and sheet.cell(1, 3).value == "客户名称"


def test_agents_see_what_a_ticket_needs_and_callback_staff_whom_to_call(admin, territory):
    shop = territory["shops"][0]
    agent, caller = staff(admin, "agent"), staff(admin, "callback")
    seen_by_agent = admin.get(f"/api/v1/retailers/{shop['id']}", headers=bearer(agent)).json()
    assert seen_by_agent["store_name"] == shop["store_name"] and "phone" not in seen_by_agent
    assert "address" not in seen_by_agent and "owner_name" not in seen_by_agent
    seen_by_caller = admin.get(f"/api/v1/retailers/{shop['id']}", headers=bearer(caller)).json()
    assert seen_by_caller["phone"] == "13912345678" and "address" not in seen_by_caller
    assert admin.get("/api/v1/retailers/export", headers=bearer(agent)).status_code == 403
    assert admin.patch(f"/api/v1/retailers/{shop['id']}", json={"grade": 3}, headers=bearer(agent)).status_code == 403


def test_grade_changes_are_kept_as_history(admin, territory):
    shop = territory["shops"][0]
    admin.patch(f"/api/v1/retailers/{shop['id']}", json={"grade": 11})
    admin.patch(f"/api/v1/retailers/{shop['id']}", json={"store_name": "改名"})
    history = admin.get(f"/api/v1/retailers/{shop['id']}/history").json()
    assert [(h["field"], h["old_value"], h["new_value"], h["source"]) for h in history] == [
        ("grade", "10", "11", "api")]


def test_a_territory_moves_to_another_manager(admin, territory):
    moved = admin.post("/api/v1/retailers/transfer", json={
        "from_manager_id": territory["first"]["id"], "to_manager_id": territory["second"]["id"]})
    assert moved.status_code == 200 and moved.json()["retailers_moved"] == 2
    mine = admin.get("/api/v1/retailers", params={"district": territory["district"]},
                     headers=bearer(territory["second"])).json()
    assert mine["total"] == 3
    agent = staff(admin, "agent")
    refused = admin.post("/api/v1/retailers/transfer", headers=bearer(agent),
                         json={"from_manager_id": 1, "to_manager_id": 2})
    assert refused.status_code == 403


def test_an_upload_is_validated_whole_then_applied(admin):
    manager = staff(admin, "manager", name=f"经理{unique_number(0)}")
    first, second = (f"43020{unique_number(6_000_000)}" for _ in range(2))
    good = f"许可证号,客户名称,档位,客户经理,备注\n{first},甲店,5,{manager['name']},x\n{second},乙店,6,,y\n"
    bad = f"许可证号,客户名称,档位\n{first},甲店,99\n,无证店,3\n"

    rejected = admin.post("/api/v1/retailers/import", files={"file": ("客户.csv", bad.encode("gbk"), "text/csv")})
    assert rejected.status_code == 422
    assert {(e["row"], e["column"]) for e in rejected.json()["errors"]} == {(2, "档位"), (3, "许可证号")}
    assert admin.get("/api/v1/retailers", params={"q": first}).json()["total"] == 0

    dry = admin.post("/api/v1/retailers/import", params={"dry_run": "true"},
                     files={"file": ("客户.csv", good.encode("utf-8-sig"), "text/csv")})
    assert dry.status_code == 200 and dry.json()["created"] == 2 and dry.json()["applied"] is False
    assert dry.json()["unknown_columns"] == ["备注"]
    assert admin.get("/api/v1/retailers", params={"q": first}).json()["total"] == 0

    done = admin.post("/api/v1/retailers/import", files={"file": ("客户.csv", good.encode("gbk"), "text/csv")})
    assert done.status_code == 200 and done.json()["applied"] is True
    assert admin.get("/api/v1/retailers", params={"q": first}).json()["items"][0]["manager_id"] == manager["id"]


def test_uploads_that_are_not_tables_get_a_clear_error(admin):
    broken = admin.post("/api/v1/retailers/import", files={"file": ("x.xlsx", b"PK\x03\x04junk", "application/zip")})
    assert broken.status_code == 422 and "Excel" in broken.json()["detail"]
    missing = admin.post("/api/v1/retailers/import")
    assert missing.status_code == 422


HOSTILE = {"store_name": '=HYPERLINK("http://x","点我")', "address": "+cmd|' /C calc'!A0", "owner": "@SUM(1+1)"}


def test_exports_write_formula_like_cells_as_text(admin):
    district = f"区{unique_number(0)}"
    license_no = f"43030{unique_number(7_000_000)}"
    upload = io.StringIO()
    csv.writer(upload).writerows([["许可证号", "客户名称", "经营地址", "经营者", "联系电话", "市场部"],
                                  [license_no, HOSTILE["store_name"], HOSTILE["address"], HOSTILE["owner"], "-",
                                   district]])
    upload = upload.getvalue()
    assert admin.post("/api/v1/retailers/import", files={"file": ("客户.csv", upload.encode(), "text/csv")}
                      ).status_code == 200

    exported = admin.get("/api/v1/retailers/export", params={"district": district})
    header, row = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"), newline="")))
    cells = dict(zip(header, row, strict=True))
    assert (cells["客户名称"], cells["经营地址"], cells["经营者"]) == tuple("'" + text for text in HOSTILE.values())
    assert cells["联系电话"] == "" and cells["许可证号"] == license_no

    workbook = admin.get("/api/v1/retailers/export", params={"district": district, "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    assert all(cell.data_type != "f" for line in sheet.iter_rows() for cell in line)
    assert [cell.value for cell in sheet[2]][2:6] == [HOSTILE["store_name"], HOSTILE["owner"], None,
                                                      HOSTILE["address"]]


def test_everyday_business_type_names_are_stored_as_the_canonical_type(admin):
    license_no = f"43040{unique_number(7_000_000)}"
    upload = f"许可证号,客户名称,业态\n{license_no},老街烟酒,烟酒店\n".encode("gbk")
    assert admin.post("/api/v1/retailers/import", files={"file": ("客户.csv", upload)}).status_code == 200
    assert admin.get("/api/v1/retailers", params={"q": license_no}).json()["items"][0]["business_type"] == "烟酒商店"


def test_hostile_or_oversized_workbooks_are_refused_and_change_nothing(admin):
    license_no = f"43050{unique_number(7_000_000)}"
    far = xlsx(sheet_xml({"A1": "许可证号", "B1": "客户名称", "A2": license_no, "B2": "甲店", "XFD1048576": "x"}))
    refused = admin.post("/api/v1/retailers/import", files={"file": ("客户.xlsx", far)})
    assert refused.status_code == 413 and refused.json()["detail"] == "表格过大：最多 100000 行（不含表头）"
    wide = xlsx(sheet_xml({"A1": "许可证号", "B1": "客户名称", "A2": license_no, "B2": "甲店", "ZZ100000": "x"}))
    refused = admin.post("/api/v1/retailers/import", files={"file": ("客户.xlsx", wide)})
    assert refused.status_code == 413 and "列数过多：最多 200 列" in refused.json()["detail"]
    huge = admin.post("/api/v1/retailers/import", files={"file": ("客户.csv", b"x" * (30 * 1024 * 1024 + 1))})
    assert huge.status_code == 413 and "30 MB" in huge.json()["detail"]
    assert admin.get("/api/v1/retailers", params={"q": license_no}).json()["total"] == 0
    assert admin.get("/healthz").status_code == 200


async def test_a_large_import_is_read_off_the_event_loop(service):
    """30,000 rows take seconds to read and check; the loop keeps answering meanwhile."""
    header = "许可证号,客户名称,经营者,联系电话,经营地址,业态,档位,市场部\n"
    body = "".join(f"4306{n:08d},便民店{n},经营者{n},139{n:08d},芙蓉路{n}号,便利店,{n % 30 + 1},片区{n % 12}\n"
                   for n in range(30_000))
    async with httpx.AsyncClient(base_url=service.base_url, timeout=120,
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        started = time.perf_counter()
        importing = asyncio.create_task(client.post(
            "/api/v1/retailers/import", params={"dry_run": "true"},
            files={"file": ("客户.csv", (header + body).encode("gbk"))}))
        gaps, last = [], started
        while not importing.done():
            assert (await client.get("/healthz")).status_code == 200
            gaps.append(time.perf_counter() - last)
            last = time.perf_counter()
        report = importing.result().json()
        elapsed = time.perf_counter() - started
    assert report["created"] == 30_000 and report["applied"] is False
    assert max(gaps) < elapsed / 3, (max(gaps), elapsed)  # on the loop, one gap was the whole import


def test_roles_add_up_each_retailer_in_the_widest_view_and_exports_only_what_is_seen_in_full(admin, territory):
    """A manager who also serves tickets sees every retailer, their own in full and the others as an
    agent does; the export, which carries every field, stays their own territory."""
    both = staff(admin, "manager", "agent")
    mine, other = territory["shops"][0], territory["shops"][2]
    admin.patch(f"/api/v1/retailers/{mine['id']}", json={"manager_id": both["id"]}).raise_for_status()
    listed = admin.get("/api/v1/retailers", params={"district": territory["district"]}, headers=bearer(both)).json()
    assert listed["total"] == 3
    seen = {row["id"]: row for row in listed["items"]}
    assert seen[mine["id"]]["phone"] == "13912345678" and "phone" not in seen[other["id"]]
    assert "phone" not in admin.get(f"/api/v1/retailers/{other['id']}", headers=bearer(both)).json()
    assert admin.get(f"/api/v1/retailers/{other['id']}/history", headers=bearer(both)).status_code == 404
    exported = admin.get("/api/v1/retailers/export", params={"district": territory["district"]}, headers=bearer(both))
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == [mine["license_no"]]
