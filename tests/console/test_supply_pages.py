"""The supply notice pages over real HTTP, against the real service: who may read and who may publish, the
item table typed or uploaded (all of it or none), the preview, and publishing, correcting and withdrawing,
each confirmed, with the group receiving exactly the previewed parts."""

import io
import re
from html import unescape

import pytest
from openpyxl import load_workbook

from bot.services import supply
from tests.console.test_console_http import csrf_of, sign_in
from tests.support.fixtures import new_member, unique_number, wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN

GOOD_TABLE = "品规,批发价,零售价,紧俏,1-10档,11-20档\n中华(软),450,65,是,不供,1\n玉溪(软),200,23,否,5,5\n"
BAD_TABLE = "品规,批发价,零售价,紧俏,1-10档,11-20档\n中华(软),450,65,是,不供,1\n玉溪(软),200,23,否,两条,5\n"


@pytest.fixture(scope="module")
def people(admin):
    return {role: new_member(admin, role) for role in ("marketing", "admin", "agent", "supervisor")}


@pytest.fixture(scope="module")
def group(admin):
    """A registered group only these tests' notices go to: (QQ number, its record's id)."""
    number = unique_number(960_000)
    made = admin.post("/api/v1/groups", json={"group_id": str(number), "name": "货源测试群", "district": "货源区"})
    assert made.status_code == 201, made.text
    return number, made.json()["id"]


def fields(group_id: int, **changes: str) -> dict:
    return {"title": "第49周货源", "period_start": "2026-11-30", "period_end": "2026-12-06",
            "order_opens_at": "2026-11-30T08:30", "order_closes_at": "2026-12-01T17:00",
            "notes": "", "group_ids": [str(group_id)]} | changes


def draft(client, group_id: int, **changes: str) -> int:
    page = client.get("/console/supply/new")
    made = client.post("/console/supply", data={"csrf": csrf_of(page.text), **fields(group_id, **changes)})
    assert made.status_code == 303, made.text
    return int(re.search(r"/console/supply/(\d+)", made.headers["location"])[1])


def upload(client, notice_id: int, table: str, name: str = "items.csv"):
    page = client.get(f"/console/supply/{notice_id}")
    return client.post(f"/console/supply/{notice_id}/items/upload", data={"csrf": csrf_of(page.text)},
                       files={"file": (name, table.encode("gb18030"), "text/csv")})


def grid(bands: list[str], rows: list[list[str]]) -> dict:
    """The item table's form fields as the page posts them (cartons row by row)."""
    return {"band": bands, "product": [r[0] for r in rows], "wholesale_price": [r[1] for r in rows],
            "retail_price": [r[2] for r in rows], "scarce": [r[3] for r in rows], "note": [r[4] for r in rows],
            "cartons": [cell for r in rows for cell in r[5:]]}


def parts_shown(page: str) -> list[str]:
    """The message bubbles of the page's first preview, as text."""
    return [unescape(part) for part in re.findall(r'<pre class="bubble">(.*?)</pre>', page, re.S)]


def test_every_staff_member_reads_notices_and_only_marketing_and_admins_write(service, people, group):
    with sign_in(service, people["marketing"]["token"]) as marketing:
        assert marketing.get("/console/tickets").headers["location"] == "/console/supply"
        listing = marketing.get("/console/supply")
        assert listing.status_code == 200 and "新建货源通知" in listing.text
        assert 'href="/console/supply">货源信息</a>' in listing.text
        notice_id = draft(marketing, group[1])
        page = marketing.get(f"/console/supply/{notice_id}")
        refused = marketing.post(f"/console/supply/{notice_id}", data={"csrf": csrf_of(page.text), **fields(
            group[1], title="第49周货源（改）", period_end="2026-11-01")})
        assert refused.status_code == 422 and "结束日期早于开始日期" in refused.text
        assert '<details class="card" id="fields" open>' in refused.text and 'value="第49周货源（改）"' in refused.text
        saved = marketing.post(f"/console/supply/{notice_id}", data={"csrf": csrf_of(page.text), **fields(
            group[1], title="第49周货源（改）")})
        assert saved.status_code == 303
        assert "第49周货源（改）" in marketing.get(f"/console/supply/{notice_id}").text
    with sign_in(service, people["admin"]["token"]) as admin_page:
        assert "保存品规表" in admin_page.get(f"/console/supply/{notice_id}").text
    with sign_in(service, people["agent"]["token"]) as agent:
        assert "新建货源通知" not in agent.get("/console/supply").text
        page = agent.get(f"/console/supply/{notice_id}")
        assert page.status_code == 200 and "预览" in page.text and "保存品规表" not in page.text
        assert agent.get("/console/supply/new").status_code == 403
        csrf = csrf_of(page.text)
        for action in ("", "/items", "/items/upload", "/publish", "/schedule", "/correction", "/withdraw"):
            answer = agent.post(f"/console/supply/{notice_id}{action}", data={"csrf": csrf, "confirm": "1"})
            assert answer.status_code == 403 and "权限不足" in answer.text, action
        assert agent.post("/console/supply", data={"csrf": csrf, **fields(group[1])}).status_code == 403
    with sign_in(service, people["marketing"]["token"]) as marketing:
        forged = marketing.post(f"/console/supply/{notice_id}/publish", data={"csrf": "forged", "confirm": "1"})
        assert forged.status_code == 403
        assert marketing.get("/console/supply/999999").status_code == 404


def test_a_notice_with_a_window_that_closes_before_it_opens_is_not_made(service, admin, people, group):
    before = len(admin.get("/api/v1/supply/notices").json())
    with sign_in(service, people["marketing"]["token"]) as client:
        csrf = csrf_of(client.get("/console/supply/new").text)
        refused = client.post("/console/supply", data={"csrf": csrf, **fields(
            group[1], order_closes_at="2026-11-29T17:00")})
        assert refused.status_code == 422 and "订货截止时间必须晚于开始时间" in refused.text
        assert 'value="第49周货源"' in refused.text  # what was typed is kept
        missing = client.post("/console/supply", data={"csrf": csrf, **fields(group[1], period_start="")})
        assert missing.status_code == 422 and "供货周期的开始日期" in missing.text
    assert len(admin.get("/api/v1/supply/notices").json()) == before


def test_the_typed_item_table_is_saved_whole_or_not_at_all(service, admin, people, group):
    with sign_in(service, people["marketing"]["token"]) as client:
        notice_id = draft(client, group[1])
        csrf = csrf_of(client.get(f"/console/supply/{notice_id}").text)
        rows = [["中华(软)", "450", "65", "是", "", "", "1"], ["玉溪(软)", "200", "23", "否", "", "5", "5"]]
        overlapping = grid(["1-10", "10-20"], rows)
        check = client.post(f"/console/supply/{notice_id}/items/check", data={"csrf": csrf, **overlapping})
        assert check.status_code == 200 and "档位列 1-10档 与 10-20档 重叠" in check.text
        refused = client.post(f"/console/supply/{notice_id}/items", data={"csrf": csrf, **overlapping})
        assert refused.status_code == 422 and "重叠" in refused.text and 'value="10-20"' in refused.text
        assert admin.get(f"/api/v1/supply/notices/{notice_id}").json()["items"] == []

        worded = grid(["1-10", "11-20"], [rows[0], ["玉溪(软)", "200", "23", "否", "", "两条", "5"]])
        said = client.post(f"/console/supply/{notice_id}/items/check", data={"csrf": csrf, **worded})
        assert "第 2 行" in said.text and "限量应是条数，不是“两条”" in said.text
        ragged = grid(["1-10", "11-20"], rows) | {"cartons": ["1"]}
        assert "品规表不完整" in client.post(f"/console/supply/{notice_id}/items",
                                            data={"csrf": csrf, **ragged}).text

        saved = client.post(f"/console/supply/{notice_id}/items", data={"csrf": csrf, **grid(["1-10", "11-20", ""],
                            [*rows, ["", "", "", "否", "", "", "", ""]])} | {"cartons": [
                                "", "1", "", "5", "5", "", "", "", ""]})
        assert saved.status_code == 303, saved.text
    items = admin.get(f"/api/v1/supply/notices/{notice_id}").json()["items"]
    assert [(item["product"], item["scarce"], item["quotas"]) for item in items] == [
        ("中华(软)", True, [{"min_grade": 1, "max_grade": 10, "cartons": 0},
                             {"min_grade": 11, "max_grade": 20, "cartons": 1}]),
        ("玉溪(软)", False, [{"min_grade": 1, "max_grade": 10, "cartons": 5},
                              {"min_grade": 11, "max_grade": 20, "cartons": 5}])]


def test_an_uploaded_table_with_a_bad_row_names_it_and_imports_nothing(service, admin, people, group):
    with sign_in(service, people["marketing"]["token"]) as client:
        notice_id = draft(client, group[1])
        assert upload(client, notice_id, GOOD_TABLE).status_code == 303
        refused = upload(client, notice_id, BAD_TABLE.replace("中华(软)", "黄鹤楼(软蓝)"))
        assert refused.status_code == 422 and "未导入：1 处错误" in refused.text
        assert "第 3 行" in refused.text and "1-10档 的限量应是条数，不是“两条”" in refused.text
        unreadable = client.post(f"/console/supply/{notice_id}/items/upload", data={"csrf": csrf_of(refused.text)},
                                 files={"file": ("items.xlsx", b"not a workbook", "application/octet-stream")})
        assert unreadable.status_code == 422 and "无法读取 Excel 文件" in unreadable.text
        nothing = client.post(f"/console/supply/{notice_id}/items/upload", data={"csrf": csrf_of(refused.text)})
        assert nothing.status_code == 422 and "请选择要上传的" in nothing.text
    products = [item["product"] for item in admin.get(f"/api/v1/supply/notices/{notice_id}").json()["items"]]
    assert products == ["中华(软)", "玉溪(软)"]  # the first upload, untouched


def test_the_template_downloads_and_reads_back_as_an_item_table(service, people):
    with sign_in(service, people["agent"]["token"]) as client:
        workbook = client.get("/console/supply/template.xlsx")
        assert workbook.status_code == 200 and "filename*=UTF-8''" in workbook.headers["content-disposition"]
        table = supply.parse_item_table(workbook.content, "品规表.xlsx")
        assert table.problems == [] and table.items[0].product == "中华(软)"
        assert load_workbook(io.BytesIO(workbook.content)).active["F1"].value == "1-10档"
        sheet = client.get("/console/supply/template.csv")
        assert sheet.content.startswith(b"\xef\xbb\xbf") and supply.parse_item_table(sheet.content).problems == []
        assert client.get("/console/supply/template.pdf").status_code == 404


def test_the_product_box_finds_the_catalogue_by_pinyin(service, admin, people):
    admin.post("/api/v1/products", json={"name": "黄金叶(天叶)", "retail_price": "100"})
    with sign_in(service, people["marketing"]["token"]) as client:
        for typed in ("黄金叶", "huangjinye", "hjy", "天业"):
            found = client.get("/console/supply/products", params={"product": typed})
            assert 'data-product="黄金叶(天叶)"' in found.text, typed
        assert "目录里没有" in client.get("/console/supply/products", params={"product": "qqqq"}).text


async def test_the_group_receives_exactly_the_previewed_parts_then_the_correction_then_the_withdrawal(
        service, admin, people, group):
    number, group_id = group
    notes = "如有疑问请联系客户经理 13912345678。" + "请按时订货，" * 200  # long: sent in parts
    with sign_in(service, people["marketing"]["token"]) as client:
        notice_id = draft(client, group_id, notes=notes)
        page = client.get(f"/console/supply/{notice_id}")
        assert "立即发布" not in page.text  # nothing to publish yet
        upload(client, notice_id, GOOD_TABLE)
        page = client.get(f"/console/supply/{notice_id}")
        previewed = parts_shown(page.text)
        count = len(previewed)
        assert count > 1 and previewed[0].startswith("【货源信息】第49周货源")
        assert previewed[-1].endswith(f"（{count}/{count}）") and "139****5678" in "".join(previewed)
        assert "13912345678" not in page.text.split('id="preview"')[1]
        assert "发往 <b>1</b> 个群：货源测试群" in page.text
        fingerprint = re.search(r'name="previewed" value="([0-9a-f]+)"', page.text)[1]
        csrf = csrf_of(page.text)

        unconfirmed = client.post(f"/console/supply/{notice_id}/publish", data={"csrf": csrf, "previewed": fingerprint})
        assert unconfirmed.status_code == 422 and "请勾选确认" in unconfirmed.text
        stale = client.post(f"/console/supply/{notice_id}/publish",
                            data={"csrf": csrf, "confirm": "1", "previewed": "0" * 16})
        assert stale.status_code == 409 and "最新预览" in stale.text
        past = client.post(f"/console/supply/{notice_id}/schedule", data={
            "csrf": csrf, "confirm": "1", "previewed": fingerprint, "publish_at": "2020-01-01T09:00"})
        assert past.status_code == 422 and "必须晚于现在" in past.text
        assert admin.get(f"/api/v1/supply/notices/{notice_id}").json()["state"] == "draft"

        async with NapCat(service.ws_url, self_id="20000", token=ACCESS_TOKEN) as napcat:
            await wait_for(lambda: admin.get("/healthz").json()["bots"])
            published = client.post(f"/console/supply/{notice_id}/publish",
                                    data={"csrf": csrf, "confirm": "1", "previewed": fingerprint})
            assert published.status_code == 303
            received = [_text(await napcat.next_call(to=number)) for _ in previewed]
            assert received == previewed
            await wait_for(lambda: "已发送 1" in client.get(f"/console/supply/{notice_id}/deliveries").text)
            settled = client.get(f"/console/supply/{notice_id}/deliveries").text
            assert "hx-trigger" not in settled and f"{count}/{count} 条" in settled  # nothing moving: no more polling

            page = client.get(f"/console/supply/{notice_id}")
            csrf = csrf_of(page.text)
            change = {"csrf": csrf, "order_opens_at": "2026-11-30T08:30", "order_closes_at": "2026-12-02T17:00",
                      "notes": notes, **grid(["1-10", "11-20"], [["中华(软)", "450", "65", "是", "", "", "2"],
                                                                   ["玉溪(软)", "200", "23", "否", "", "5", "5"]])}
            same = client.post(f"/console/supply/{notice_id}/correction",
                               data=change | {"order_closes_at": "2026-12-01T17:00", "cartons": [
                                   "", "1", "5", "5"], "preview": "1"})
            assert same.status_code == 422 and "没有任何改动" in same.text
            shown = client.post(f"/console/supply/{notice_id}/correction", data=change | {"preview": "1"})
            correction = parts_shown(shown.text.split('class="correction-preview"')[1])
            assert correction[0].startswith("【货源信息更正】第49周货源")
            assert "订货时间改为：11月30日 08:30 至 12月2日 17:00" in correction[0]
            assert "中华(软) 限量改为：1-10档 不供；11-20档 2条" in correction[0]
            fingerprint = re.search(r'name="previewed" value="([0-9a-f]+)"',
                                    shown.text.split('class="correction-preview"')[1])[1]
            changed_since = client.post(f"/console/supply/{notice_id}/correction", data=change | {
                "confirm": "1", "previewed": fingerprint, "notes": "改了备注"})
            assert changed_since.status_code == 409 and "与预览不同" in changed_since.text
            corrected = client.post(f"/console/supply/{notice_id}/correction",
                                    data=change | {"confirm": "1", "previewed": fingerprint})
            assert corrected.status_code == 303, corrected.text
            assert _text(await napcat.next_call(to=number)) == correction[0]

            page = client.get(f"/console/supply/{notice_id}")
            assert "已更正" in page.text and "更正 1" in page.text
            unconfirmed = client.post(f"/console/supply/{notice_id}/withdraw", data={"csrf": csrf_of(page.text)})
            assert unconfirmed.status_code == 422
            withdrawn = client.post(f"/console/supply/{notice_id}/withdraw",
                                    data={"csrf": csrf_of(page.text), "confirm": "1", "reason": "厂家调整"})
            assert withdrawn.status_code == 303
            said = _text(await napcat.next_call(to=number))
            assert said.startswith("【货源信息撤回】第49周货源") and "原因：厂家调整" in said
        page = client.get(f"/console/supply/{notice_id}")
        assert "已撤回" in page.text and "撤回</td>" in page.text and 'id="withdraw"' not in page.text
        assert f"/console/supply/{notice_id}" in client.get("/console/supply", params={"state": "withdrawn"}).text
        assert f"/console/supply/{notice_id}" not in client.get("/console/supply", params={"state": "draft"}).text


def _text(call: dict) -> str:
    return "".join(seg["data"].get("text", "") for seg in call["params"]["message"] if seg["type"] == "text")
