"""A supply notice in a real browser: a marketing user drafts it, uploads an item table with one bad row and
sees the row named, fixes it, reads the preview, publishes, and the QQ group receives exactly the previewed
parts while the page shows the delivery; then corrects it (the group gets the previewed correction) and
withdraws it."""

from __future__ import annotations

import re
import struct
import zlib

from playwright.async_api import Page, expect

from tests.browser.conftest import PHONE, settled, submit_login
from tests.support.napcat import NapCat

HEADER = "品规,批发价(元/条),建议零售价(元/包),紧俏,1-10档,11-20档,21-30档\n"
ROWS = ["中华(软),450,65,是,不供,1,2", "玉溪(软),200,23,否,5,5,5", "黄鹤楼(软蓝),190,19,否,2,3,4",
        "芙蓉王(硬),230,25,否,3,5,8", "利群(新版),160,17,否,5,8,10", "云烟(紫),120,13,否,不供,5,10",
        "白沙(和天下),900,100,是,不供,不供,1", "红塔山(经典1956),95,10,否,10,10,10",
        "南京(炫赫门),150,16,否,5,8,10", "黄金叶(天叶),900,100,是,不供,不供,1", "真龙(起源),300,33,否,2,3,5",
        "娇子(宽窄好运),180,19,否,3,5,8", "双喜(硬经典),70,8,否,10,10,10", "七匹狼(白),100,11,否,5,5,8",
        "钻石(荷花),300,35,是,不供,1,2", "泰山(佛光),120,12,否,5,5,8", "金圣(智圣出山),200,22,否,2,3,5",
        "贵烟(跨越),200,22,否,3,5,5", "长白山(777),140,14,否,5,8,10", "天子(千里江山),450,50,是,不供,1,2",
        "苏烟(五星红杉树),500,55,否,不供,2,3", "好猫(长乐),110,12,否,5,5,8", "兰州(硬珍品),220,24,否,2,3,5",
        "黄山(徽商新概念),160,17,否,5,5,8", "红双喜(百顺),90,10,否,10,10,10"]
NOTES = "请在订货时间内通过订货平台下单，联系电话 0731-88888888。"


def table(rows: list[str]) -> dict:
    return {"name": "第49周品规表.csv", "mimeType": "text/csv",
            "buffer": (HEADER + "\n".join(rows) + "\n").encode("gb18030")}


async def upload(page: Page, rows: list[str]) -> None:
    await page.locator("input[name=file]").set_input_files(table(rows))
    await page.get_by_role("button", name="上传", exact=True).click()
    await settled(page)


async def test_a_marketing_user_fixes_a_bad_row_previews_publishes_and_the_group_gets_the_preview(
        page, new_staff, admin, group_id, napcat: NapCat, screenshot):
    marketing = new_staff("marketing", name="张营销")
    record = next(g for g in admin.get("/api/v1/groups").json() if g["group_id"] == str(group_id))
    await submit_login(page, marketing["token"])
    await expect(page, "marketing staff land on their own page").to_have_url(re.compile(r"/console/supply$"))

    await page.get_by_role("link", name="新建货源通知").click()
    await page.get_by_label("标题").fill("第49周货源信息")
    await page.get_by_label("供货周期 从").fill("2026-11-30")
    await page.locator("#period_end").fill("2026-12-06")
    await page.get_by_label("订货时间 从").fill("2026-11-30T08:30")
    await page.locator("#order_closes_at").fill("2026-12-01T17:00")
    await page.get_by_label("备注").fill(NOTES)
    await page.locator(f"input[name=group_ids][value='{record['id']}']").check()
    await page.get_by_role("button", name="保存草稿").click()
    await expect(page.get_by_role("status")).to_contain_text("草稿已保存")

    broken = [ROWS[0], ROWS[1].replace(",5,5,5", ",5,五条,5"), *ROWS[2:]]
    await upload(page, broken)
    report = page.get_by_role("table", name="品规表的错误")
    await expect(report, "the bad row is named with its problem").to_contain_text("第 3 行")
    await expect(report).to_contain_text("11-20档 的限量应是条数，不是“五条”")
    await expect(page.get_by_role("alert")).to_contain_text("品规表没有任何改动")
    await expect(page.locator("#preview"), "nothing was half-imported").to_contain_text("品规表还是空的")
    await screenshot(page, "supply-upload-report", full_page=True)

    await upload(page, ROWS)
    await expect(page.get_by_role("status")).to_contain_text(f"导入 {len(ROWS)} 个品规")
    band = page.get_by_label("档位 2")
    await band.fill("10-20")
    problems = page.locator(".item-problems")
    await expect(problems, "an overlapping band is refused as it is typed").to_contain_text("1-10档 与 10-20档 重叠")
    await band.fill("11-20")
    await expect(problems).to_contain_text(f"品规表无误：{len(ROWS)} 个品规")
    bubbles = page.locator("#preview pre.bubble")
    await expect(bubbles.first).to_contain_text("【货源信息】第49周货源信息")
    previewed = await bubbles.all_inner_texts()
    assert len(previewed) > 1 and previewed[-1].endswith(f"（{len(previewed)}/{len(previewed)}）")
    await page.evaluate("document.getElementById('preview').scrollIntoView()")
    await screenshot(page, "supply-preview")

    publish = page.locator("#publish form").first
    await publish.get_by_role("checkbox").check()
    await publish.get_by_role("button", name="立即发布").click()
    await expect(page.get_by_role("status")).to_contain_text("已发布")

    received = []
    for _ in previewed:
        call = await napcat.next_call(to=group_id)
        received.append("".join(s["data"].get("text", "") for s in call["params"]["message"] if s["type"] == "text"))
    assert received == previewed, "the group gets exactly the parts the preview showed, in order"
    deliveries = page.locator("#deliveries")
    await expect(deliveries, "the page shows the delivery as it settles, without a reload").to_contain_text(
        f"{len(previewed)}/{len(previewed)} 条", timeout=8_000)
    await expect(deliveries).to_contain_text("已发送 1")
    await screenshot(page, "supply-delivered")

    # 更正: the ordering window closes a day later; the preview is the very message the group gets
    correction = page.locator("#correction")
    await correction.locator("#c_closes").fill("2026-12-02T17:00")
    await correction.get_by_role("button", name="预览更正").click()
    corrected = correction.locator(".correction-preview pre.bubble")
    await expect(corrected.first).to_contain_text("【货源信息更正】第49周货源信息")
    await expect(corrected.first, "the correction names what changed").to_contain_text("订货时间改为")
    correction_text = (await corrected.all_inner_texts())[0]
    await correction.get_by_role("checkbox").check()
    await correction.get_by_role("button", name="发布更正").click()
    await expect(page.get_by_role("status")).to_contain_text("更正")
    call = await napcat.next_call(to=group_id)
    assert "".join(s["data"].get("text", "") for s in call["params"]["message"] if s["type"] == "text") \
        == correction_text, "the group gets exactly the previewed correction"

    # 撤回, confirmed: the groups that had the notice are told
    withdraw = page.locator("#withdraw")
    await withdraw.get_by_label("原因（写进发给各群的撤回通知）").fill("品规表有误，将重新发布")
    await withdraw.get_by_role("checkbox").check()
    await withdraw.get_by_role("button", name="撤回").click()
    await expect(page.get_by_role("status")).to_contain_text("撤回")
    call = await napcat.next_call(to=group_id)
    withdrawal = "".join(s["data"].get("text", "") for s in call["params"]["message"] if s["type"] == "text")
    assert withdrawal.startswith("【货源信息撤回】") and "品规表有误" in withdrawal
    await expect(page.locator("#withdraw"), "a withdrawn notice offers nothing more to send").to_have_count(0)


async def test_the_notice_page_fits_a_phone(phone_page, new_staff, admin, screenshot):
    marketing = new_staff("marketing", name="张营销")
    made = admin.post("/api/v1/supply/notices", json={
        "title": "第50周货源信息", "period_start": "2026-12-07", "period_end": "2026-12-13",
        "order_opens_at": "2026-12-07T08:30", "order_closes_at": "2026-12-08T17:00",
        "items": [{"product": "中华(软)", "quotas": [{"min_grade": 1, "max_grade": 30, "cartons": 1}]}]})
    assert made.status_code == 201, made.text
    await submit_login(phone_page, marketing["token"])
    await phone_page.goto(f"/console/supply/{made.json()['id']}")
    await expect(phone_page.locator("#preview pre.bubble").first).to_contain_text("第50周货源信息")
    await screenshot(phone_page, "supply-phone", full_page=True)
    scroll_width, width = await phone_page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= width == PHONE["width"], f"the page is {scroll_width} px wide on a {width} px screen"
    admin.post(f"/api/v1/supply/notices/{made.json()['id']}/withdraw", json={}).raise_for_status()


def picture(width: int = 320, height: int = 200) -> bytes:
    """A PNG of two bands of colour, big enough to see on the page."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + (b"\xc8\x1e\x1e" if y < height // 2 else b"\xf0\xc8\x50") * width for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


async def test_a_manufacturers_publicity_is_approved_from_the_queue_and_fits_a_phone(
        page, phone_page, new_staff, admin, group_id, screenshot):
    marketing = new_staff("marketing", name="张营销")
    record = next(g for g in admin.get("/api/v1/groups").json() if g["group_id"] == str(group_id))
    await submit_login(page, marketing["token"])
    await page.goto("/console/launches/new")
    await page.get_by_label("品规名称").fill("黄金叶(乐途细支)")
    await page.get_by_label("规格").fill("细支 97mm")
    await page.get_by_label("厂家").fill("河南中烟")
    await page.get_by_label("批发价").fill("160")
    await page.get_by_label("建议零售价").fill("17")
    await page.get_by_label("上市日期").fill("2027-01-15")
    await page.get_by_label("卖点").fill("细支低焦，清香柔和；小盒包装，适合年轻消费者")
    await page.locator("input[name=image]").set_input_files({"name": "乐途.png", "mimeType": "image/png",
                                                             "buffer": picture()})
    await page.get_by_label("工业企业").check()
    await page.locator(f"input[name=group_ids][value='{record['id']}']").check()
    await page.get_by_role("button", name="保存", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("等待审批后才会发出")
    await expect(page.locator("#preview h3").first).to_contain_text("批准后才发出")

    await page.goto("/console/launches")
    queue = page.locator("#queue")
    await expect(queue).to_contain_text("黄金叶(乐途细支)")
    await queue.get_by_role("link", name="黄金叶(乐途细支)").click()
    approval = page.locator("#approval")
    await approval.get_by_role("checkbox").check()
    await approval.get_by_role("button", name="批准").click()
    await expect(page.get_by_role("status")).to_contain_text("已批准")
    await expect(page.locator("img.launch-image")).to_be_visible()
    await screenshot(page, "launch")

    await submit_login(phone_page, marketing["token"])
    await phone_page.goto(page.url)
    await expect(phone_page.locator("#card pre.bubble")).to_contain_text("黄金叶(乐途细支)")
    scroll_width, width = await phone_page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= width == PHONE["width"], f"the page is {scroll_width} px wide on a {width} px screen"
