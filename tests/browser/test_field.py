"""The console in the field, in a real browser on a phone-sized screen: an account manager records a visit,
and a callback staffer's low score reopens the ticket with a new reply clock for the agent who had it."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import open_console_page
from tests.support.fixtures import unique_number, wait_for


async def fits_the_screen(page: Page) -> None:
    wide = await page.evaluate("document.scrollingElement.scrollWidth")
    assert wide <= await page.evaluate("window.innerWidth"), "nothing scrolls sideways"


def bound_retailer(admin, manager: dict, store: str) -> int:
    """A retailer of the manager's, bound to a new QQ number (returned)."""
    retailer = admin.post("/api/v1/retailers", json={
        "license_no": f"43010{unique_number(2_000_000)}", "store_name": store, "phone": "13912345678",
        "address": "芙蓉区东风路88号", "manager_id": manager["id"]}).json()
    user = unique_number(17_000)
    admin.post(f"/api/v1/retailers/{retailer['id']}/bindings", json={"chat_user_id": str(user)}).raise_for_status()
    return user


async def test_a_manager_records_a_visit_on_a_phone(phone_page, sign_in, screenshot, napcat, group_id, admin,
                                                    new_staff, group_tickets):
    manager = new_staff("manager", name="王经理")
    user = bound_retailer(admin, manager, "东风路好又多超市")
    await napcat.group_message(group_id, user, "我要投诉，送货员态度很差，还把烟箱扔在门口")
    [ticket] = await wait_for(lambda: group_tickets(group_id))

    await sign_in(phone_page, manager["token"])
    await open_console_page(phone_page, "/console/visits")
    card = phone_page.locator("article, li, section", has_text="东风路好又多超市").filter(
        has_text="芙蓉区东风路88号").first
    await expect(card, "the visit shows the shop, its address and phone").to_contain_text("13912345678")
    await fits_the_screen(phone_page)
    await screenshot(phone_page, "visits-phone")

    await phone_page.locator(f'a[href="/console/visits/{ticket["id"]}"]').click()
    await phone_page.locator("textarea[name=action]").fill("上门向店主致歉，已和配送中心约定以后送货进店")
    await phone_page.locator("input[name=outcome]").first.check()
    await phone_page.get_by_role("button", name="保存上门记录").click()
    await expect(phone_page.get_by_text("上门已记录").first).to_be_visible()
    await fits_the_screen(phone_page)

    pledges = {p["kind"]: p for p in admin.get(f"/api/v1/tickets/{ticket['id']}").json()["pledges"]}
    assert pledges["visit"]["state"] == "met"


async def test_a_callback_scored_2_reopens_the_ticket_with_a_new_clock_for_its_agent(
        phone_page, sign_in, napcat, group_id, admin, new_staff, group_tickets):
    agent, caller = new_staff("agent", name="李客服"), new_staff("callback", name="赵回访")
    user = bound_retailer(admin, new_staff("manager", name="钱经理"), "五一路便民店")  # a shop to call back
    await napcat.group_message(group_id, user, "门头招牌的灯箱不亮了，麻烦安排一下")
    [ticket] = await wait_for(lambda: group_tickets(group_id))
    replied = admin.post(f"/api/v1/tickets/{ticket['id']}/replies",
                         headers={"Authorization": f"Bearer {agent['token']}"}, json={"text": "已报修，明天师傅上门"})
    assert replied.status_code == 201, replied.text
    before = {p["kind"]: p for p in admin.get(f"/api/v1/tickets/{ticket['id']}").json()["pledges"]}
    assert before["callback"]["state"] == "pending"

    await sign_in(phone_page, caller["token"])
    await open_console_page(phone_page, f"/console/callbacks/{ticket['id']}")
    await phone_page.locator("input[name=reached][value=yes]").check()
    await phone_page.locator("input[name=score][value='2']").check()
    await phone_page.locator("textarea[name=comment]").fill("灯箱还是不亮，师傅没来")
    await phone_page.get_by_role("button", name="保存回访记录").click()
    await expect(phone_page.get_by_text("工单已重新打开").first, "the page says what the low score did").to_be_visible()
    await fits_the_screen(phone_page)

    after = admin.get(f"/api/v1/tickets/{ticket['id']}").json()
    reply = next(p for p in after["pledges"] if p["kind"] == "reply")
    assert after["status"] == "open"
    assert before["reply"]["state"] == "met"
    # a fresh reply clock (running again, not met) for the agent who had it; on a weekend its due time
    # is the same Monday morning as before, in business time
    assert reply["state"] == "pending" and reply["met_at"] is None and reply["owner_staff_id"] == agent["id"]
    assert reply["due_at"] is not None
