"""A ticket's timeline reads in Chinese: every event and every reason the services record in codes is put
into words for staff."""

import re

from bot.models import Role
from bot.policy import Policies
from bot.services import intake, timeline
from tests import factories as make

CODES = re.compile(r"[a-z]+_[a-z]+|not solved|handover|callback|low satisfaction")


def test_an_answered_handed_over_replied_and_closed_ticket_reads_in_words(runtime, session, clock):
    make.group(session, clock)
    agent = make.staff(session, clock, Role.AGENT, chat_user_id="30001", name="客服一")
    answered = make.post(session, clock, runtime.settings, "扫码枪扫不出来怎么办", knowledge=runtime.knowledge)
    assert answered.reason == "answered"
    make.post(session, clock, runtime.settings, "转人工", knowledge=runtime.knowledge)
    ticket_id = answered.ticket_id
    intake.reply_via_api(session, ticket_id, agent, "请把扫码枪的线拔下来重新插牢", now=clock.now(),
                         policies=Policies(), tz=runtime.settings.tz)
    session.commit()  # the sender is unbound: no callback, so the reply closes the ticket

    page = timeline.ticket_page(session, agent, ticket_id, public_numbers=())
    events = [entry.text for entry in page.entries if entry.kind == "event"]
    assert [entry.who for entry in page.entries if entry.text.startswith("机器人按知识库自动答复")] == ["机器人"]
    assert [entry.who for entry in page.entries if entry.text.startswith("建单")] == ["老王"]  # the sender
    assert any("客户要求转人工" in text for text in events)
    assert any(text.startswith("关闭") and "无法回访" in text for text in events)
    assert not [text for text in events if CODES.search(text.split("（")[0]) or "其他操作" in text]
    assert [entry.kind for entry in page.entries if entry.kind in ("retailer", "reply")] == [
        "retailer", "retailer", "reply"]
