"""Reports over real HTTP: the figures of a small district, the tickets behind one, the files, who may
see what, and refusals of bad input. (Every figure against a hand count: tests/reports.)"""

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from tests.support.fixtures import new_member, unique_number, wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN

PHONE = "13912345678"


def bearer(member):
    return {"Authorization": f"Bearer {member['token']}"}


@pytest.fixture(scope="module")
async def district(service, admin):
    """A group of its own district: two requests, one answered by an agent."""
    name = f"测试区{unique_number(100)}"
    group = unique_number(960_000)
    admin.post("/api/v1/groups", json={"group_id": str(group), "district": name}).raise_for_status()
    people = {"agent": new_member(admin, "agent"), "other": new_member(admin, "agent"),
              "supervisor": new_member(admin, "supervisor"), "marketer": new_member(admin, "marketing")}
    async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
        await wait_for(lambda: admin.get("/healthz").json()["bots"])
        # neither is answered by the knowledge base: people must
        texts = {"answered": f"店门口的招牌灯不亮了怎么办 {unique_number(1)}",
                 "open": f"请问怎么申请成为终端示范户，电话{PHONE}"}
        for text in texts.values():
            await napcat.group_message(group, unique_number(17_000), text)

        def opened(text):
            items = admin.get("/api/v1/tickets", params={"q": text[:10]}).json()["items"]
            return items[0]["id"] if items else None

        ids = {key: await wait_for(lambda text=text: opened(text)) for key, text in texts.items()}
        replied = admin.post(f"/api/v1/tickets/{ids['answered']}/replies", headers=bearer(people["agent"]),
                             json={"text": "已安排补送"})
        assert replied.status_code == 201, replied.text
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the service runs on the wall clock
    period = {"start": (today - timedelta(days=1)).isoformat(), "end": (today + timedelta(days=1)).isoformat()}
    return {"name": name, "ids": ids, "period": period, **people}


def test_a_supervisor_reads_the_districts_compliance_and_the_tickets_behind_a_figure(admin, district):
    supervisor = bearer(district["supervisor"])
    asked = {**district["period"], "district": district["name"]}
    found = admin.get("/api/v1/reports/compliance", params=asked, headers=supervisor)
    assert found.status_code == 200, found.text
    reply = next(row for row in found.json()["by_kind"] if row["kind"] == "reply")
    assert (reply["tally"]["due"], reply["tally"]["met_in_time"], reply["tally"]["open"]) == (2, 1, 1)
    assert reply["tally"]["in_time_share"] == 1.0
    owners = {row["label"]: row["filters"] for row in found.json()["by_owner"] if row["kind"] == "reply"}
    assert owners[district["agent"]["name"]] == {"kind": "reply", "owner": str(district["agent"]["id"])}

    listed = admin.get("/api/v1/reports/details/rounds", params={**asked, "kind": "reply", "bucket": "open"},
                       headers=supervisor)
    assert listed.status_code == 200, listed.text
    assert [line["ticket_id"] for line in listed.json()["items"]] == [district["ids"]["open"]]
    assert listed.json()["total"] == 1 and PHONE not in listed.json()["items"][0]["text"]
    assert listed.json()["caption"].startswith("客服回复 · 进行中")


def test_service_staff_see_their_own_figures_and_nobody_elses(admin, district):
    asked = {**district["period"], "district": district["name"]}
    mine = admin.get("/api/v1/reports/compliance", params=asked, headers=bearer(district["agent"])).json()
    assert mine["scope"]["staff_id"] == district["agent"]["id"]
    reply = next(row for row in mine["by_kind"] if row["kind"] == "reply")
    assert reply["tally"]["due"] == 1  # the one they answered; the pool's open one is not theirs
    other = admin.get("/api/v1/reports/compliance", params={**asked, "staff": district["other"]["id"]},
                      headers=bearer(district["agent"]))
    assert other.status_code == 403 and "本人" in other.json()["detail"]
    refused = admin.get("/api/v1/reports/appraisal", params=asked, headers=bearer(district["marketer"]))
    assert refused.status_code == 403


@pytest.mark.parametrize(("params", "reason"), [
    ({"month": "2026-13"}, "月份"), ({"start": "2026-11-09", "end": "2026-11-01"}, "结束日期"),
    ({"start": "2026-11-01"}, "同时"), ({"month": "2026-11", "start": "2026-11-01", "end": "2026-11-02"}, "只选"),
])
def test_a_bad_period_is_refused_with_the_reason(admin, district, params, reason):
    refused = admin.get("/api/v1/reports/workload", params=params, headers=bearer(district["supervisor"]))
    assert refused.status_code == 422 and reason in refused.json()["detail"]


def test_an_unknown_filter_or_value_is_refused_not_ignored(admin, district):
    supervisor = bearer(district["supervisor"])
    for params in ({"bucket": "lost"}, {"colour": "red"}, {"owner": "x"}):
        refused = admin.get("/api/v1/reports/details/rounds", params={**district["period"], **params},
                            headers=supervisor)
        assert refused.status_code == 422, (params, refused.text)


def test_the_appraisal_downloads_as_a_workbook_and_a_sheet_as_csv(admin, district):
    supervisor = bearer(district["supervisor"])
    asked = {**district["period"], "district": district["name"]}
    workbook = admin.get("/api/v1/reports/appraisal/file", params=asked, headers=supervisor)
    assert workbook.status_code == 200, workbook.text
    assert "filename*=UTF-8''" in workbook.headers["content-disposition"]
    sheets = load_workbook(io.BytesIO(workbook.content), data_only=True)
    assert sheets.sheetnames == ["考评排名", "扣分明细"]
    assert sheets["考评排名"].page_setup.paperSize == 9  # A4, to print and sign

    table = admin.get("/api/v1/reports/compliance/file", params={**asked, "format": "csv", "sheet": 1},
                      headers=supervisor)
    assert table.status_code == 200 and table.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(table.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["承诺", "负责人", "应兑现"]
    assert [district["agent"]["name"], "1"] == rows[1][1:3]
    missing = admin.get("/api/v1/reports/compliance/file", params={**asked, "format": "csv", "sheet": 9},
                        headers=supervisor)
    assert missing.status_code == 422


def test_breach_rulings_are_for_supervisors_and_name_an_existing_breach(admin, district):
    assert admin.get("/api/v1/breaches/999999", headers=bearer(district["supervisor"])).status_code == 404
    ruled = admin.post("/api/v1/breaches/999999/rulings", json={"excused": True, "reason": "系统故障"},
                       headers=bearer(district["supervisor"]))
    assert ruled.status_code == 404
    assert admin.post("/api/v1/breaches/1/rulings", json={"excused": True, "reason": "系统故障"},
                      headers=bearer(district["agent"])).status_code == 403
    blank = admin.post("/api/v1/breaches/999999/rulings", json={"excused": True, "reason": ""},
                       headers=bearer(district["supervisor"]))
    assert blank.status_code == 422
