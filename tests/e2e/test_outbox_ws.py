"""Acknowledgements waiting together reach the group as one message over the real WebSocket,
mentioning each retailer; the outbox shows every row sent as that message."""

from datetime import UTC, datetime

from sqlmodel import Session

from bot.db import make_engine
from bot.models import Lane
from bot.services import outbox
from tests.support.fixtures import unique_number, wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN


async def test_acknowledgements_due_together_go_as_one_message_mentioning_each(service, admin):
    group = unique_number(870_000)
    admin.post("/api/v1/groups", json={"group_id": str(group)}).raise_for_status()
    await wait_for(lambda: not admin.get("/healthz").json()["bots"])  # queued while no bot is connected
    engine = make_engine(service.database_url)
    try:
        with Session(engine) as session:
            for user in (10001, 10002, 10003):
                outbox.enqueue(session, now=datetime.now(UTC), platform="qq", target_kind="group",
                               target_id=str(group), text=f"收到，已登记为工单（{user}），客服将尽快回复您。",
                               lane=Lane.REPLY, kind=outbox.ACK, mention_user_id=str(user),
                               reply_to=str(700_000 + user))
            session.commit()
    finally:
        engine.dispose()

    async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
        call = await napcat.next_call("send_group_msg", timeout=15)
        while call["params"]["group_id"] != group:
            call = await napcat.next_call("send_group_msg", timeout=15)
        segments = call["params"]["message"]
        assert [seg["data"]["qq"] for seg in segments if seg["type"] == "at"] == ["10001", "10002", "10003"]
        assert not [seg for seg in segments if seg["type"] == "reply"]  # one quote cannot cover three
        text = "".join(seg["data"].get("text", "") for seg in segments if seg["type"] == "text")
        assert text.startswith("以下 3 条提问已分别登记为工单")
        assert all(f"工单（{user}）" in text for user in (10001, 10002, 10003))

        def sent_together():
            rows = [m for m in admin.get("/api/v1/outbox", params={"limit": 200}).json()
                    if m["target_id"] == str(group)]
            return len(rows) == 3 and {m["status"] for m in rows} == {"sent"}

        await wait_for(sent_together)
