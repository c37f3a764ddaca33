"""The report pages over real HTTP, against a service of their own holding one day of work in October 2026
(tests/support/report_scenario.py): each page shows its figures, every count leads to a list of exactly
that many tickets, an agent sees only their own figures, bad input is refused with the reason (422), a
supervisor excuses a breach and the score changes, and the downloads open in a spreadsheet program."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from bot.services.reports.base import Period
from tests.console.test_console_http import browser, csrf_of, sign_in
from tests.support.report_scenario import COMMENT, MONTH, MONTH_LABEL, QUESTIONS, reports_service

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    with reports_service(tmp_path_factory.mktemp("reports")) as running:
        yield running


@pytest.fixture(scope="module")
def supervisor(scenario):
    with sign_in(scenario.service, scenario.people["supervisor"]["token"]) as client:
        yield client


@pytest.fixture(scope="module")
def agent(scenario):
    """客服甲, an agent: their own figures only."""
    with sign_in(scenario.service, scenario.people["first"]["token"]) as client:
        yield client


def counted_links(page: str, path: str) -> list[tuple[str, int]]:
    """Each count on the page that links to a list: (the list's URL, the number shown)."""
    return [(html.unescape(href), int(count))
            for href, count in re.findall(rf'<a href="({re.escape(path)}\?[^"]*)">(\d+)</a>', page)]


def listed(page: str) -> list[int]:
    """The tickets a list page links to, one per line (a line links its ticket twice: number and text)."""
    return [int(found) for found in re.findall(r'<td data-label="工单"><a href="/console/tickets/(\d+)"', page)]


def total_of(page: str) -> int:
    found = re.search(r"共 (\d+) 条", page)
    assert found, "a list says how many lines it has"
    return int(found.group(1))


def charts_of(page: str) -> list[dict]:
    return [json.loads(html.unescape(option)) for option in re.findall(r'data-chart="([^"]*)"', page)]


def ruling_forms(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'action="/console/reports/breaches/(\d+)/ruling"', page)]


def score_of(page: str, name: str) -> str:
    row = re.search(rf">{name}</a>.*?<td class=\"num score\">([^<]+)</td>", page, re.S)
    assert row, f"{name} is in the ranking"
    return row.group(1)


# -- pages and their figures --------------------------------------------------------------------

def test_reports_need_a_session_and_a_role_that_reads_them(scenario):
    with browser(scenario.service) as client:
        answer = client.get(f"/console/reports/appraisal?month={MONTH}")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login?next=")
    with sign_in(scenario.service, scenario.people["marketer"]["token"]) as marketer:
        refused = marketer.get(f"/console/reports/compliance?month={MONTH}")
        assert refused.status_code == 403 and "权限不足" in refused.text
        assert 'href="/console/reports"' not in marketer.get("/console/tickets").text


def test_the_nav_leads_to_the_compliance_page_of_last_month(supervisor):
    assert 'href="/console/reports">报表</a>' in supervisor.get("/console/tickets").text
    landing = supervisor.get("/console/reports")
    assert landing.status_code == 303 and landing.headers["location"] == "/console/reports/compliance"
    page = supervisor.get("/console/reports/compliance")
    last_month = Period.previous_month(datetime.now(ZoneInfo("Asia/Shanghai")).date())
    assert page.status_code == 200 and f"<strong>{last_month.label}</strong>" in page.text
    assert f'name="month" value="{last_month.first:%Y-%m}"' in page.text
    for tab in ("承诺兑现", "满意度", "工作量", "月度考评"):
        assert f">{tab}</a>" in page.text


def test_the_compliance_page_shows_the_days_figures_a_chart_and_exports(supervisor):
    page = supervisor.get(f"/console/reports/compliance?month={MONTH}")
    assert page.status_code == 200
    text = page.text
    assert f"<strong>{MONTH_LABEL}</strong>" in text and "统计期间：2026-10-01 至 2026-10-31" in text
    assert "50.0%" in text  # reply: 2 in time of 4 decided (the bot's answer counts as in time)
    assert "25 分钟" in text and "90% 在 37 分钟内" in text  # first replies in 10 and 40 minutes
    [chart] = charts_of(text)
    assert [series["name"] for series in chart["series"]][:3] == ["按时兑现", "超时兑现", "超时未兑现"]
    reply_bar = chart["yAxis"]["data"].index("客服回复")
    assert [series["data"][reply_bar] for series in chart["series"]] == [2, 1, 1, 1, 0, 0]
    assert "bucket=met_in_time" in chart["links"][reply_bar]
    assert f'href="/console/reports/compliance.xlsx?month={MONTH}"' in text and "导出 Excel" in text
    assert f'href="/console/reports/compliance.csv?month={MONTH}&amp;sheet=0"' in text


def test_every_count_of_the_compliance_page_lists_exactly_its_tickets(supervisor, scenario):
    page = supervisor.get(f"/console/reports/compliance?month={MONTH}").text
    counted = counted_links(page, "/console/reports/rounds")
    assert len(counted) > 20, "every count is a link"
    for url, count in counted:
        listing = supervisor.get(url)
        assert listing.status_code == 200, url
        assert total_of(listing.text) == count == len(listed(listing.text)), url

    second = scenario.people["second"]["id"]
    [(late_url, one)] = [(url, n) for url, n in counted if f"owner={second}" in url and "bucket=met_late" in url]
    late = supervisor.get(late_url).text
    assert one == 1 and listed(late) == [scenario.tickets["late"]] and QUESTIONS["late"] in late
    assert "客服回复 · 超时兑现 · 负责人 客服乙" in late
    [(open_url, _)] = [(url, n) for url, n in counted if "owner=none" in url and "bucket=breached_open" in url]
    assert listed(supervisor.get(open_url).text) == [scenario.tickets["open"]]

    beyond = supervisor.get(f"/console/reports/rounds?month={MONTH}&kind=reply&page=2").text
    assert total_of(beyond) == 5 and listed(beyond) == [] and "没有符合条件的记录" in beyond
    assert f'href="/console/reports/rounds?month={MONTH}&amp;kind=reply&amp;page=1">上一页</a>' in beyond
    assert "下一页" not in beyond


def test_the_satisfaction_page_shows_the_low_score_what_followed_and_the_comment(supervisor, scenario):
    text = supervisor.get(f"/console/reports/satisfaction?month={MONTH}").text
    on_time = scenario.tickets["on_time"]
    assert COMMENT in text and f'href="/console/tickets/{on_time}"' in text and "重新打开，待回复" in text
    [chart] = charts_of(text)
    assert [point["value"] for point in chart["series"][0]["data"]] == [0, 1, 0, 0, 0]
    assert chart["links"][1].endswith("score=2")
    assert re.search(r"货源供应</td><td class=\"num\">1</td>", text), "the items the retailer answered"
    counted = counted_links(text, "/console/reports/calls")
    assert counted
    for url, count in counted:
        listing = supervisor.get(url).text
        assert total_of(listing) == count == len(listed(listing)), url
    low = supervisor.get(f"/console/reports/calls?month={MONTH}&score=low").text
    assert listed(low) == [on_time] and "评分 2" in low


def test_the_workload_page_charts_the_days_greys_the_rest_days_and_links_them(supervisor, scenario):
    text = supervisor.get(f"/console/reports/workload?month={MONTH}").text
    assert "25.0%" in text  # one of four answered by the bot
    day_chart, category_chart = charts_of(text)
    bars = day_chart["series"][0]["data"]
    assert len(bars) == 31 and bars[18]["value"] == 4 and sum(bar["value"] for bar in bars) == 4
    assert bars[17]["itemStyle"]["color"] != bars[18]["itemStyle"]["color"], "Sunday the 18th is grey"
    assert day_chart["xAxis"]["data"][17] == "10/18 周日 休" and day_chart["xAxis"]["data"][18] == "10/19 周一"
    monday = supervisor.get(day_chart["links"][18]).text
    assert sorted(listed(monday)) == sorted(scenario.tickets.values())
    assert sum(point["value"] for point in category_chart["series"][0]["data"]) == 4
    for url, count in counted_links(text, "/console/reports/requests"):
        listing = supervisor.get(url).text
        assert total_of(listing) == count == len(listed(listing)), url
    bot = supervisor.get(f"/console/reports/requests?month={MONTH}&bot=1").text
    assert listed(bot) == [scenario.tickets["bot"]]
    for question in ("new", "late", "on_time"):  # what people had to answer, to teach the knowledge base
        key = "open" if question == "new" else question
        assert QUESTIONS[key] in text


def test_the_appraisal_ranks_with_the_formula_a_chart_and_links_to_each_person(supervisor, scenario):
    text = supervisor.get(f"/console/reports/appraisal?month={MONTH}").text
    assert [score_of(text, name) for name in ("回访员小李", "客服乙", "客服甲")] == ["100", "96", "93"]
    assert text.index("回访员小李") < text.index("客服乙") < text.index("客服甲")
    assert "客服回复每次扣 2 分" in text and "90 分及以上为优秀" in text
    assert '<span class="badge excellent">优秀</span>' in text
    first = scenario.people["first"]["id"]
    assert f'href="/console/reports/appraisal/{first}?month={MONTH}"' in text
    [chart] = charts_of(text)
    assert [point["value"] for point in chart["series"][0]["data"]] == [93, 96, 100]  # best on top
    assert chart["links"][0] == f"/console/reports/appraisal/{first}?month={MONTH}"

    person = supervisor.get(f"/console/reports/appraisal/{first}?month={MONTH}").text
    assert "客服回复超时" in person and "回访评分 2 分" in person and ">-3<" in person
    assert {f"/console/tickets/{scenario.tickets[key]}" for key in ("on_time", "late", "open")} <= set(
        re.findall(r'href="(/console/tickets/\d+)"', person))
    assert len(ruling_forms(person)) == 2, "a supervisor may rule on each of the two breaches"


def test_a_custom_period_counts_its_days(supervisor):
    page = supervisor.get("/console/reports/compliance", params={
        "by": "days", "month": "2026-09", "start": "2026-10-19", "end": "2026-10-19"})
    assert page.status_code == 200 and "<strong>2026-10-19 至 2026-10-19</strong>" in page.text
    assert "50.0%" in page.text
    none = supervisor.get("/console/reports/compliance", params={"by": "month", "month": "2026-09",
                                                                 "start": "2026-10-19", "end": ""})
    assert none.status_code == 200 and "<strong>2026年9月</strong>" in none.text and "—" in none.text


# -- who sees what ------------------------------------------------------------------------------

def test_an_agent_sees_only_their_own_figures(agent, scenario):
    ranking = agent.get(f"/console/reports/appraisal?month={MONTH}").text
    assert "仅本人的统计" in ranking and score_of(ranking, "客服甲") == "93"
    assert "客服乙" not in ranking and "回访员小李" not in ranking
    assert 'name="staff"' not in ranking, "no scope to pick"
    compliance = agent.get(f"/console/reports/compliance?month={MONTH}").text
    assert "客服乙" not in compliance and "未指派" not in compliance
    for url, count in counted_links(compliance, "/console/reports/rounds"):
        listing = agent.get(url).text
        assert total_of(listing) == count == len(listed(listing)), url
    person = agent.get(f"/console/reports/appraisal/{scenario.people['first']['id']}?month={MONTH}").text
    assert "客服回复超时" in person and not ruling_forms(person), "an agent sees their lines, no ruling form"


@pytest.mark.parametrize("path", ["/console/reports/compliance", "/console/reports/appraisal",
                                  "/console/reports/rounds", "/console/reports/appraisal.xlsx"])
def test_an_agent_asking_for_someone_elses_figures_is_refused(agent, scenario, path):
    other = scenario.people["second"]["id"]
    refused = agent.get(path, params={"month": MONTH, "staff": other})
    assert refused.status_code == 403 and "只能查看本人的统计" in refused.text
    assert agent.get(f"/console/reports/appraisal/{other}?month={MONTH}").status_code == 403


@pytest.mark.parametrize(("path", "reason"), [
    ("/console/reports/compliance?month=2026-13", "月份「2026-13」不对"),
    ("/console/reports/appraisal?by=days&start=2026-10-09&end=2026-10-01", "结束日期不能早于开始日期"),
    ("/console/reports/satisfaction?month=2026-10&group=abc", "不是编号"),
    ("/console/reports/rounds?month=2026-10&bucket=soon", "没有「soon」这种统计项"),
    ("/console/reports/rounds?month=2026-10&score=5", "明细不认识这些条件"),
    ("/console/reports/requests?month=2026-10&day=2026-11-02", "不在统计期间内"),
    ("/console/reports/calls?month=2026-10&score=9", "评分须是 1 到 5"),
    ("/console/reports/compliance.csv?month=2026-10&sheet=9", "没有第 9 张表"),
    ("/console/reports/compliance.csv?month=2026-10&sheet=x", "sheet 须是表的序号"),
])
def test_a_bad_period_or_filter_is_refused_with_the_reason(supervisor, path, reason):
    refused = supervisor.get(path)
    assert refused.status_code == 422 and reason in html.unescape(refused.text)


# -- rulings on breaches ------------------------------------------------------------------------

def test_a_supervisor_excuses_a_breach_and_counts_it_again(supervisor, agent, scenario):
    first = scenario.people["first"]["id"]
    here = f"/console/reports/appraisal/{first}?month={MONTH}"
    page = supervisor.get(here).text
    breach = ruling_forms(page)[0]
    action = f"/console/reports/breaches/{breach}/ruling"
    form = {"csrf": csrf_of(page), "excused": "1", "reason": "订货系统故障，客户也知情", "next": here}

    no_csrf = supervisor.post(action, data={**form, "csrf": ""})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
    blank = supervisor.post(action, data={**form, "reason": "  "})
    assert blank.status_code == 422 and "请填写更正原因" in blank.text and "客服回复超时" in blank.text
    elsewhere = supervisor.post(action, data={**form, "next": "https://example.com/console/reports"})
    assert elsewhere.status_code == 422 and "只能回到报表页面" in elsewhere.text
    agent_page = agent.get(here).text
    refused = agent.post(action, data={**form, "csrf": csrf_of(agent_page)})
    assert refused.status_code == 403
    unchanged = supervisor.get(here).text
    assert "免责：" not in unchanged and "订货系统故障" not in unchanged
    assert score_of(supervisor.get(f"/console/reports/appraisal?month={MONTH}").text, "客服甲") == "93"

    excused = supervisor.post(action, data=form)
    assert excused.status_code == 303 and excused.headers["location"].startswith(here + "&done=")
    after = supervisor.get(excused.headers["location"]).text
    assert "已免责" in after and "王主管 免责：订货系统故障，客户也知情" in after and "恢复计入" in after
    assert score_of(supervisor.get(f"/console/reports/appraisal?month={MONTH}").text, "客服甲") == "95"
    again = supervisor.post(action, data=form)
    assert again.status_code == 422 and "已经免责" in again.text

    counted = supervisor.post(action, data={**form, "excused": "0", "reason": "核实后系统正常"})
    assert counted.status_code == 303
    history = supervisor.get(here).text
    assert "免责：订货系统故障" in history and "恢复计入：核实后系统正常" in history
    assert score_of(supervisor.get(f"/console/reports/appraisal?month={MONTH}").text, "客服甲") == "93"


def test_a_ruling_on_a_breach_that_does_not_exist_is_not_found(supervisor):
    page = supervisor.get(f"/console/reports/appraisal?month={MONTH}").text
    answer = supervisor.post("/console/reports/breaches/999999/ruling", data={
        "csrf": csrf_of(page), "excused": "1", "reason": "x", "next": "/console/reports/appraisal"})
    assert answer.status_code == 404


# -- downloads ----------------------------------------------------------------------------------

def test_the_appraisal_downloads_as_a_workbook_with_a_chinese_name(supervisor):
    answer = supervisor.get(f"/console/reports/appraisal.xlsx?month={MONTH}")
    assert answer.status_code == 200 and answer.headers["content-type"] == XLSX
    assert f"filename*=UTF-8''{quote(f'{MONTH_LABEL} 员工月度考评.xlsx')}" in answer.headers["content-disposition"]
    assert answer.headers["content-disposition"].startswith("attachment;")
    book = openpyxl.load_workbook(io.BytesIO(answer.content), data_only=True)
    assert book.sheetnames == ["考评排名", "扣分明细"]
    rows = [[cell for cell in row] for row in book["考评排名"].iter_rows(values_only=True)]
    [mine] = [row for row in rows if "客服甲" in row]
    assert mine[0] == 3 and 93 in mine


def test_a_report_sheet_downloads_as_csv_with_a_bom(supervisor):
    answer = supervisor.get(f"/console/reports/compliance.csv?month={MONTH}&sheet=1")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert any(row[:2] == ["客服回复", "客服乙"] for row in rows), "sheet 1 is 按负责人"


def test_a_list_downloads_with_the_same_filters(supervisor, scenario, agent):
    answer = supervisor.get(f"/console/reports/rounds.xlsx?month={MONTH}&kind=reply&bucket=breached_open")
    assert answer.status_code == 200 and answer.headers["content-type"] == XLSX
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).worksheets[0]
    values = [row for row in sheet.iter_rows(values_only=True)]
    assert [row[0] for row in values if row[0] == scenario.tickets["open"]] == [scenario.tickets["open"]]
    assert not any(row[0] == scenario.tickets["late"] for row in values)
    lines = supervisor.get(f"/console/reports/calls.csv?month={MONTH}&score=low")
    assert lines.content.startswith(b"\xef\xbb\xbf") and COMMENT in lines.content.decode("utf-8-sig")
    mine = agent.get(f"/console/reports/appraisal.xlsx?month={MONTH}")
    names = [row[1] for row in openpyxl.load_workbook(io.BytesIO(mine.content))["考评排名"].iter_rows(values_only=True)]
    assert "客服甲" in names and "客服乙" not in names
