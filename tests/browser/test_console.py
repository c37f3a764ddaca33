"""The staff console in a real browser: an agent signs in, sees a retailer's question arrive live, takes it
and replies, and the reply reaches the QQ group quoting the retailer."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Page, expect

from tests.browser.conftest import PHONE, open_console_page, submit_login
from tests.support.fixtures import wait_for
from tests.support.napcat import NapCat

QUESTION = "扫码枪扫不出来怎么办"
REPLY = "请先擦干净扫码窗口，再把扫码枪的线拔下来重新插牢试试"


def ticket_link(page: Page, ticket_id: int, text: str):
    """The inbox row's link to the ticket: the link itself shows the text, or sits in a row that does."""
    href = f'a[href$="/console/tickets/{ticket_id}"]'
    return (page.locator(href, has_text=text)
            .or_(page.locator("tr, li, article, [role=row]", has_text=text).locator(href))).first


def text_of(call: dict) -> str:
    return "".join(seg["data"].get("text", "") for seg in call["params"]["message"] if seg["type"] == "text")


async def reply_posted_to(napcat: NapCat, group_id: int, text: str) -> dict:
    """The bot's next message to the group that carries the text (the acknowledgement goes first)."""
    async with asyncio.timeout(10):
        while True:
            call = await napcat.next_call("send", to=group_id)
            if text in text_of(call):
                return call


async def test_an_agent_sees_a_question_arrive_live_takes_it_and_replies_into_the_group(
        page, sign_in, screenshot, napcat, group_id, agent, admin, group_tickets):
    await sign_in(page, agent["token"])
    await expect(page.get_by_text(QUESTION)).to_have_count(0)
    await page.evaluate("window.__noReload = true")  # gone if the inbox reloads the page

    question = await napcat.group_message(group_id, 10001, QUESTION, nickname="好邻居便利店")
    await expect(page.get_by_text(QUESTION).first,
                 "the inbox shows the new ticket within 3 s").to_be_visible(timeout=3_000)
    assert await page.evaluate("window.__noReload === true"), "the inbox reloaded the page instead of updating"
    [ticket] = group_tickets(group_id)
    link = ticket_link(page, ticket["id"], QUESTION)
    await expect(link, f"the row links to /console/tickets/{ticket['id']}").to_be_visible()
    await screenshot(page, "inbox")

    await link.click()
    await expect(page).to_have_url(re.compile(rf"/console/tickets/{ticket['id']}/?$"))
    await expect(page.get_by_text(QUESTION).first).to_be_visible()

    await page.get_by_role("button", name="接单", exact=True).click()

    def claimed_by_agent() -> bool:
        detail = admin.get(f"/api/v1/tickets/{ticket['id']}").json()
        return any(p["kind"] == "reply" and p["owner_staff_id"] == agent["id"] for p in detail["pledges"])

    await wait_for(claimed_by_agent, timeout=5)

    await page.locator("textarea[name=text]").fill(REPLY)
    await page.get_by_role("button", name="发送回复", exact=True).click()

    posted = await reply_posted_to(napcat, group_id, REPLY)
    assert posted["action"] in {"send_group_msg", "send_msg"}
    assert posted["params"]["group_id"] == group_id
    assert {"type": "reply", "data": {"id": str(question)}} in posted["params"]["message"]
    await expect(page.get_by_text(REPLY).first, "the reply shows in the ticket's timeline").to_be_visible()
    await screenshot(page, "ticket")


async def test_an_agent_corrects_what_the_bot_read_on_the_ticket_page(page, sign_in, screenshot, napcat, group_id,
                                                                       agent, admin, group_tickets):
    """改类别 to a complaint orders its visit; 不是诉求 closes the ticket and keeps it out of the figures."""
    text = "价签纸用完了还能再领一些吗"
    await napcat.group_message(group_id, 10003, text, nickname="东风路烟酒店")
    ticket = await wait_for(lambda: next((t for t in group_tickets(group_id) if t["text"] == text), None))
    await sign_in(page, agent["token"])
    await open_console_page(page, f"/console/tickets/{ticket['id']}")

    await page.get_by_label("改类别（改为意见投诉会按规则安排上门）").select_option(label="意见投诉")
    await page.get_by_role("button", name="改类别", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("类别已改为意见投诉")
    await expect(page.locator(".ticket-head .meta")).to_contain_text("意见投诉")
    await expect(page.get_by_text("需要上门（类别改为意见投诉，按类别规则需要上门）")).to_be_visible()
    await page.locator("fieldset.misread").scroll_into_view_if_needed()
    await screenshot(page, "ticket-misread")

    await page.get_by_role("button", name="不是诉求（闲聊），关闭且不计入统计").click()
    await expect(page.get_by_role("status")).to_have_text("已标为不是诉求：工单关闭，不计入诉求统计")
    await expect(page.locator(".ticket-head .status")).to_have_text("已关闭")
    await expect(page.get_by_text("机器人读错了")).to_have_count(0)
    detail = admin.get(f"/api/v1/tickets/{ticket['id']}").json()
    assert detail["asked_nothing"] and detail["category"] == "complaint"
    assert {p["kind"]: p["state"] for p in detail["pledges"]}.get("visit") == "cancelled"


async def test_the_login_page_refuses_a_wrong_token_in_chinese_and_sets_no_cookie(page, screenshot, agent):
    await open_console_page(page, "/console/login")
    before_text = await page.evaluate("document.body.innerText")

    await submit_login(page, agent["token"] + "-wrong")
    error = await page.wait_for_function(
        """before => {
            const shown = document.body.innerText.split('\\n').map(line => line.trim());
            const fresh = shown.filter(line => line && !before.includes(line) && /[\\u4e00-\\u9fff]/.test(line));
            return fresh.length ? fresh : null;
        }""",
        arg=before_text.split("\n"))
    assert await error.json_value(), "a new line of Chinese text says the token was refused"
    assert not re.search(r"/console/tickets", page.url), page.url
    await expect(page.locator("input[name=token]"), "the form is there to try again").to_be_visible()
    await screenshot(page, "login-refused")
    assert "console_session" not in {cookie["name"] for cookie in await page.context.cookies()}, \
        "a refused login opens no session"


async def test_the_inbox_fits_a_phone_without_scrolling_sideways(phone_page, sign_in, screenshot, napcat,
                                                                  group_id, agent):
    text = "订货平台一直提示网络异常请稍后再试，换了手机也一样，店里宽带也重启过了，还是登录不上去怎么办"
    await napcat.group_message(group_id, 10002, text, nickname="芙蓉区东风路好又多超市")
    await sign_in(phone_page, agent["token"])
    await expect(phone_page.get_by_text(text[:12]).first).to_be_visible()
    await screenshot(phone_page, "inbox-phone", full_page=True)

    viewport = await phone_page.evaluate("document.querySelector('meta[name=viewport]')?.content ?? ''")
    assert "width=device-width" in viewport, (
        'a phone lays the page out 980 px wide and shrinks it: it needs '
        '<meta name="viewport" content="width=device-width, initial-scale=1">')
    scroll_width, width = await phone_page.evaluate(
        "[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= width == PHONE["width"], (
        f"the inbox is {scroll_width} px wide on a {PHONE['width']} px screen "
        f"(Chromium laid the page out {width} px wide to fit it)")


async def test_on_a_phone_an_agent_makes_a_ticket_of_a_request_the_bot_took_for_chatter(
        phone_page, sign_in, screenshot, napcat, group_id, agent, admin):
    """许可证延续的材料今天交上去了 reads as news to the bot; the agent knows the shop is waiting to hear back. From the
    inbox to 未建单, the line, 建单 as 专卖咨询: the ticket page says so, and the page fits the phone."""
    text = "许可证延续的材料今天交上去了"
    message_id = await napcat.group_message(group_id, 10004, text, nickname="东风路小卖部")
    await wait_for(lambda: any(line["message_id"] == str(message_id)
                               for line in admin.get("/api/v1/tickets/unticketed").json()) or None)
    await sign_in(phone_page, agent["token"])
    await phone_page.get_by_role("link", name="未建单").click()
    card = phone_page.locator("article.unticketed", has_text=text)
    await expect(card).to_be_visible()
    scroll_width, width = await phone_page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= width, f"the page is {scroll_width} px wide on a {width} px screen"
    await screenshot(phone_page, "unticketed-phone", full_page=True)

    await expect(card.get_by_label("类别")).to_have_value("monopoly")  # the request the model finds likeliest
    await card.get_by_label("类别").select_option(label="专卖咨询")
    await card.get_by_role("button", name="建单").click()
    await expect(phone_page.get_by_role("status")).to_contain_text("已建单：工单 #")
    await expect(phone_page.locator(".ticket-head .meta")).to_contain_text("专卖咨询")
    await expect(phone_page.get_by_text("机器人没建单，工作人员补建（机器人当作闲聊）")).to_be_visible()
