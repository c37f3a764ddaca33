"""An answer edited in the console of one instance is what the bot says next on another instance sharing the
database (PostgreSQL in CI), without a restart: the second notices the stored version move at its next check."""

import time

from tests.console.test_console_http import sign_in
from tests.console.test_knowledge_pages import form_of
from tests.support.databases import fresh_database
from tests.support.fixtures import unique_number, wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN, start_service

REFRESH_SECONDS = 0.5


def answer_on(client, question: str) -> str | None:
    return client.get("/api/v1/knowledge/search", params={"q": question}).json()["answer"]


async def test_an_answer_edited_on_one_instance_is_what_the_bot_says_next_on_the_other(tmp_path):
    group, question = unique_number(962_000), "收银打单子的那个机器卡纸了"
    new_answer = "小票机卡纸：打开纸仓，顺着出纸方向把纸抽出来，剪齐纸头重新装好。"
    with fresh_database(tmp_path, "knowledge") as url:
        first = start_service(url, tmp_path, INSTANCE_NAME="first", KNOWLEDGE_REFRESH_SECONDS=str(REFRESH_SECONDS))
        second = start_service(url, tmp_path, INSTANCE_NAME="second", KNOWLEDGE_REFRESH_SECONDS=str(REFRESH_SECONDS))
        try:
            with first.client() as on_first, second.client() as on_second:
                on_first.post("/api/v1/groups", json={"group_id": str(group)}).raise_for_status()
                assert answer_on(on_second, question) != new_answer
                agent = on_first.post("/api/v1/staff", json={"name": "知识库编辑", "roles": ["agent"]}).json()
                with sign_in(first, agent["token"]) as console:
                    page = console.get("/console/knowledge/entries/terminal.printer").text
                    saved = console.post("/console/knowledge/entries/terminal.printer",
                                         data=form_of(page, answer=new_answer))
                    assert saved.status_code == 303
                edited = time.monotonic()
                assert answer_on(on_first, question) == new_answer  # where it was made: at once
                await wait_for(lambda: answer_on(on_second, question) == new_answer, timeout=20)
                assert time.monotonic() - edited < 60  # the promise: every instance within a minute
                async with NapCat(second.ws_url, token=ACCESS_TOKEN) as napcat:  # the bot is on the second
                    await wait_for(lambda: on_second.get("/healthz").json()["bots"])
                    await napcat.group_message(group, unique_number(19_000), question)
                    call = await napcat.next_call(to=group)
                    assert new_answer in str(call["params"]["message"])
        finally:
            first.stop()
            second.stop()
