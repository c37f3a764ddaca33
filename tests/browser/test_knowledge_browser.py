"""The knowledge base in a real browser: an agent asks the "what would the bot say" box, edits the answer it
found, sees the box answer with the new text, and the bot says it in the group; on a phone, the box comes before the
list of entries, and a question the bot handed over becomes another wording of an entry in one click."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import open_console_page
from tests.browser.test_field import fits_the_screen
from tests.support.fixtures import unique_number, wait_for

QUESTION = "新品咋推"
NEW_ANSWER = "推新品：把新品摆在收银台旁最显眼的位置，顾客问起时说清它的口味和价位，先请熟客试试。"


async def test_an_agent_edits_an_answer_and_the_box_and_the_bot_say_it(page, sign_in, screenshot, agent, napcat,
                                                                      group_id):
    await sign_in(page, agent["token"])
    await page.get_by_role("link", name="知识库").click()
    await expect(page.get_by_role("heading", name="知识库")).to_be_visible()
    box = page.locator(".try-box")
    await box.get_by_label("输入零售户可能说的话").fill(QUESTION)
    await box.get_by_role("button", name="试一试").click()
    result = box.locator(".try-result")
    await expect(result, "the decision and the entry it would answer from").to_contain_text("直接回答")
    await expect(result.locator("table a").first).to_have_text("新品怎么推荐给顾客？")
    await screenshot(page, "knowledge")

    await result.locator("table a").first.click()
    await expect(page.get_by_role("heading", name="新品怎么推荐给顾客？")).to_be_visible()
    await page.get_by_label("答案（群里看到的，最多 600 字）").fill(NEW_ANSWER)
    await page.get_by_role("button", name="保存").click()
    await expect(page.get_by_role("status").first).to_contain_text("已保存")

    box = page.locator(".try-box")
    await box.get_by_label("输入零售户可能说的话").fill(QUESTION)
    await box.get_by_role("button", name="试一试").click()
    await expect(box.locator(".said"), "the box answers with the edited text at once").to_have_text(NEW_ANSWER)
    await screenshot(page, "knowledge-entry", full_page=True)

    await napcat.group_message(group_id, unique_number(21_000), QUESTION)
    call = await napcat.next_call(to=group_id)
    assert NEW_ANSWER in str(call["params"]["message"]), "the bot says what the box said"


async def test_on_a_phone_a_handed_over_question_becomes_a_wording_in_one_click(phone_page, sign_in, screenshot,
                                                                                agent, napcat, group_id, admin):
    asked = "我家收银那个出票的机子今天罢工了"
    await napcat.group_message(group_id, unique_number(22_000), asked)
    await napcat.next_call(to=group_id)
    ticket = await wait_for(lambda: next(iter(admin.get("/api/v1/tickets", params={"q": asked}).json()["items"]),
                                         None))

    await sign_in(phone_page, agent["token"])
    await open_console_page(phone_page, "/console/knowledge")
    box, entries = phone_page.locator(".try-box"), phone_page.locator("table.entries")
    assert (await box.bounding_box())["y"] < (await entries.bounding_box())["y"], "the box before the entries"
    await box.get_by_label("输入零售户可能说的话").fill("弄不了")
    await box.get_by_role("button", name="试一试").click()
    await expect(box.locator(".try-result"), "a post that says nothing of what failed") \
        .to_contain_text("没说清是什么事")
    await fits_the_screen(phone_page)
    await screenshot(phone_page, "knowledge-phone")
    await open_console_page(phone_page, "/console/knowledge/handovers")
    card = phone_page.locator(f"#handover-{ticket['id']}")
    await expect(card).to_contain_text(asked)
    await card.get_by_text("教给知识库").click()
    await card.get_by_label("加到条目").select_option("terminal.printer")
    await fits_the_screen(phone_page)
    await screenshot(phone_page, "knowledge-handovers-phone")
    await card.get_by_role("button", name="加为问法").click()
    await expect(phone_page.get_by_role("status").first).to_contain_text("已加入 terminal.printer")
    await expect(phone_page.locator(f"#handover-{ticket['id']}")).to_have_count(0)
    assert asked in admin.get("/api/v1/knowledge/entries/terminal.printer").json()["similar"]
    answered = admin.get("/api/v1/knowledge/search", params={"q": asked}).json()
    assert answered["entries"][0]["id"] == "terminal.printer"

    await open_console_page(phone_page, f"/console/knowledge/entries/terminal.printer?ask={asked}")
    await expect(phone_page.locator(".try-result"), "now the bot answers it").to_contain_text("直接回答")
    await fits_the_screen(phone_page)
