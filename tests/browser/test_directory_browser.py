"""The directory in a real browser: an admin loads a GBK-encoded CSV export in a dry run (first with a bad row,
which the report names), reads the report, applies the same file, then finds a retailer and opens their card."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser.conftest import PHONE, open_console_page, settled
from tests.support.fixtures import unique_number
from tests.support.service import ADMIN_TOKEN

HEADER = "许可证号,客户名称,经营者,联系电话,业态,档位,客户经理,市场部,备注"


def gbk_export(manager: str, district: str, licences: list[str]) -> bytes:
    """Three shops as the district's export has them, saved by Excel on Chinese Windows (GBK)."""
    rows = [f"{licences[0]},芙蓉区东风路好又多超市,王建国,13912345678,超市,18,{manager},{district},老客户",
            f"{licences[1]},湘江烟酒行,李秀英,0731-84561234,烟酒店,25,{manager},{district},",
            f"{licences[2]},橘子洲便民小卖部,张伟,13800001111,小卖部,6,{manager},{district},新开"]
    return ("\r\n".join([HEADER, *rows]) + "\r\n").encode("gbk")


async def test_an_admin_imports_a_gbk_directory_after_a_dry_run_then_finds_a_shop(
        page, sign_in, screenshot, new_staff, admin, tmp_path):
    manager = new_staff("manager", name=f"刘经理{unique_number(0)}")
    district = f"芙蓉区{unique_number(0)}"
    licences = [f"4301021{unique_number(60_000):05d}" for _ in range(3)]
    export = tmp_path / "客户名单.csv"
    export.write_bytes(gbk_export(manager["name"], district, licences))

    await sign_in(page, ADMIN_TOKEN)
    await page.get_by_role("link", name="零售户", exact=True).click()
    await page.get_by_role("link", name="导入名录").click()
    await expect(page).to_have_url(re.compile(r"/console/directory/import$"))
    report = page.locator("#import-result")
    broken = tmp_path / "有错的名单.csv"
    broken.write_bytes(export.read_bytes().replace(b",25,", b",35,"))
    await page.locator("input[type=file][name=file]").set_input_files(broken)
    await page.get_by_role("button", name="试运行检查").click()
    problem = report.locator("table.import-errors tbody tr")
    await expect(problem, "a refused dry run's report is shown, not dropped").to_have_count(1)
    await expect(problem).to_contain_text("第 3 行")
    await expect(problem).to_contain_text("档位 35 超出 1 到 30")
    await expect(report.get_by_role("button", name="确认导入")).to_have_count(0)

    await page.locator("input[type=file][name=file]").set_input_files(export)
    await page.get_by_role("button", name="试运行检查").click()
    await expect(report.get_by_role("heading", name="试运行结果（尚未导入）")).to_be_visible()
    changes = report.locator("table.import-changes tbody tr")
    await expect(changes).to_have_count(3)
    await expect(changes.filter(has_text="湘江烟酒行")).to_contain_text("新增")
    await expect(report).to_contain_text("以下列未识别，已忽略：备注")
    assert admin.get("/api/v1/retailers", params={"district": district}).json()["total"] == 0, \
        "a dry run changes nothing"
    await screenshot(page, "directory-import")

    await report.get_by_role("button", name="确认导入").click()
    await expect(page.get_by_role("status")).to_contain_text("导入完成：新增 3 家，更新 0 家")
    assert admin.get("/api/v1/retailers", params={"district": district}).json()["total"] == 3

    await page.get_by_role("link", name="查看名录").click()
    await settled(page)
    await page.get_by_role("searchbox", name="搜索").fill("李秀英")  # the owner's name
    await page.get_by_role("button", name="查找").click()
    rows = page.locator("table.directory tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text(licences[1])
    await page.get_by_role("link", name="湘江烟酒行").click()

    await expect(page.get_by_role("heading", name="湘江烟酒行", level=1)).to_be_visible()
    facts = page.locator("dl.facts")
    for shown in (licences[1], "李秀英", "073184561234", "烟酒商店", "25", district, manager["name"]):
        await expect(facts).to_contain_text(shown)
    await expect(page.get_by_role("heading", name="聊天账号绑定")).to_be_visible()
    await expect(page.get_by_role("heading", name="变更记录（档位、客户经理）")).to_be_visible()
    await screenshot(page, "directory-card")

    await open_console_page(page, f"/console/directory?district={district}")
    await screenshot(page, "directory")


async def test_the_directory_fits_a_phone_without_scrolling_sideways(phone_page, sign_in, screenshot, admin):
    district = f"雨花区{unique_number(0)}"
    for n in range(3):
        licence = f"4301111{unique_number(70_000):05d}"
        admin.post("/api/v1/retailers", json={
            "license_no": licence, "store_name": f"雨花区韶山路第{n}家便利店", "owner_name": "陈晓明",
            "phone": "13912345678", "grade": 10 + n, "district": district}).raise_for_status()
    await sign_in(phone_page, ADMIN_TOKEN)
    for path in (f"/console/directory?district={district}", "/console/directory/import", "/console/staff",
                 "/console/groups", "/console/directory/aliases"):
        await open_console_page(phone_page, path)
        scroll_width = await phone_page.evaluate("document.scrollingElement.scrollWidth")
        assert scroll_width <= PHONE["width"], f"{path} is {scroll_width} px wide on a {PHONE['width']} px phone"
    await open_console_page(phone_page, f"/console/directory?district={district}")
    await screenshot(phone_page, "directory-phone", full_page=True)
