"""The reports in a real browser, as the issue's "done when" says: a supervisor opens the console's reports,
picks last month, sees compliance, satisfaction and the appraisal with their charts, clicks a breach count
and lands on its tickets, and downloads the appraisal as an XLSX that opens in a spreadsheet program.

The service is the reports' own, holding one day of work in October 2026 (tests/support/report_scenario.py).
"""

from __future__ import annotations

import re

import openpyxl
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PHONE, settled
from tests.support.report_scenario import MONTH, MONTH_LABEL, QUESTIONS, reports_service


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    with reports_service(tmp_path_factory.mktemp("reports-browser")) as running:
        yield running


@pytest.fixture(scope="module")
def service(scenario):
    """The pages of this module go to the reports' service (see `new_page`)."""
    return scenario.service


async def chart_drawn(page: Page, within: str = "body") -> None:
    """A data-chart element under `within` has its canvas: ECharts drew it."""
    await expect(page.locator(f"{within} [data-chart] canvas").first).to_be_visible()


async def pick_month(page: Page, month: str) -> None:
    picker = page.locator("form.picker")
    await picker.locator("input[name=month]").fill(month)
    await picker.get_by_role("button", name="查看").click()
    await expect(page).to_have_url(re.compile(rf"[?&]month={month}"))


async def test_a_supervisor_reads_last_month_drills_into_a_breach_and_downloads_the_appraisal(
        page, sign_in, screenshot, scenario, tmp_path):
    await sign_in(page, scenario.people["supervisor"]["token"])
    await page.locator("header.top nav").get_by_role("link", name="报表", exact=True).click()
    await expect(page).to_have_url(re.compile(r"/console/reports/compliance$"))
    await pick_month(page, MONTH)
    await expect(page.locator(".period-line strong")).to_have_text(MONTH_LABEL)
    await chart_drawn(page)
    await expect(page.get_by_text("客服回复按时率")).to_be_visible()
    await settled(page)
    await screenshot(page, "reports-compliance", full_page=True)

    # 客服乙 answered late: the 超时兑现 count of their row lists that ticket and no other
    by_owner = page.locator("section.card", has=page.get_by_role("heading", name="按负责人"))
    row = by_owner.locator("tr", has_text="客服乙")
    await row.locator("td.bad a").click()
    await expect(page).to_have_url(re.compile(r"/console/reports/rounds\?.*bucket=met_late"))
    await expect(page.get_by_text("共 1 条")).to_be_visible()
    late = scenario.tickets["late"]
    await expect(page.locator("td[data-label=工单] a")).to_have_text([f"#{late}"])
    await expect(page.get_by_role("link", name=QUESTIONS["late"])).to_have_attribute("href", f"/console/tickets/{late}")

    await page.get_by_role("link", name="← 承诺兑现").click()
    await page.get_by_role("link", name="满意度", exact=True).click()
    await expect(page).to_have_url(re.compile(rf"/console/reports/satisfaction\?month={MONTH}"))
    await chart_drawn(page)
    await expect(page.get_by_text("还是登不上").first).to_be_visible()

    await page.get_by_role("link", name="月度考评", exact=True).click()
    await expect(page).to_have_url(re.compile(rf"/console/reports/appraisal\?month={MONTH}"))
    await chart_drawn(page)
    await expect(page.locator("table.report tbody tr").first).to_contain_text("回访员小李")
    await settled(page)
    await screenshot(page, "reports-appraisal", full_page=True)

    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="导出 Excel").click()
    download = await downloading.value
    assert download.suggested_filename == f"{MONTH_LABEL} 员工月度考评.xlsx"
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    book = openpyxl.load_workbook(saved, data_only=True)
    assert book.sheetnames == ["考评排名", "扣分明细"]
    ranking = [row for row in book["考评排名"].iter_rows(values_only=True) if row and "客服甲" in row]
    assert len(ranking) == 1 and 93 in ranking[0]

    # a bar of the score chart opens that person's deductions (客服甲: the lowest, at the bottom)
    chart = page.locator(".appraisal [data-chart]")
    x, y = await chart.evaluate(
        "element => echarts.getInstanceByDom(element).convertToPixel({seriesIndex: 0}, [50, 0])")
    box = await chart.bounding_box()
    assert box is not None
    await page.mouse.click(box["x"] + x, box["y"] + y)
    await expect(page).to_have_url(re.compile(rf"/console/reports/appraisal/{scenario.people['first']['id']}\?"))
    await expect(page.get_by_role("heading", name=re.compile("客服甲"))).to_be_visible()


async def test_a_supervisor_excuses_a_breach_and_the_score_follows(page, sign_in, scenario):
    await sign_in(page, scenario.people["supervisor"]["token"])
    first = scenario.people["first"]["id"]
    await page.goto(f"/console/reports/appraisal/{first}?month={MONTH}")
    score = page.locator(".figure", has_text="得分").locator(".value")
    await expect(score).to_have_text("93")
    form = page.locator("form.ruling").first
    await form.get_by_role("button", name="免责").click()  # no reason: the browser asks for one first
    await expect(score).to_have_text("93")
    await form.locator("input[name=reason]").fill("订货系统故障")
    await form.get_by_role("button", name="免责").click()
    await expect(page.locator("p.done")).to_contain_text("已免责")
    await expect(score).to_have_text("95")
    await expect(page.get_by_text("王主管 免责：订货系统故障")).to_be_visible()

    again = page.locator("tr.ruling-row.excused form.ruling")
    await again.locator("input[name=reason]").fill("核实后系统正常")
    await again.get_by_role("button", name="恢复计入").click()
    await expect(page.locator("p.done")).to_contain_text("已恢复计入")
    await expect(score).to_have_text("93")


async def test_the_reports_fit_a_phone(new_page, sign_in, scenario):
    page = await new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    await sign_in(page, scenario.people["supervisor"]["token"])
    for tab in ("compliance", "satisfaction", "workload", "appraisal"):
        await page.goto(f"/console/reports/{tab}?month={MONTH}")
        await chart_drawn(page)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{tab}: the page is {width}px wide (tables scroll inside their card)"
