"""Two QQ accounts over the real WebSocket, each in its own groups: each group's messages go out only
through its own account; a group whose only account is offline waits, shown on /healthz, and is sent once
that account connects again."""

from datetime import UTC, datetime

from sqlmodel import Session, select

from bot.db import make_engine
from bot.models import Lane, OutboxMessage
from bot.services import outbox
from tests.support.fixtures import unique_number, wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN


def queue(engine, group: int, text: str, bot_id: str | None = None) -> int:
    with Session(engine) as session:
        row = outbox.enqueue(session, now=datetime.now(UTC), platform="qq", target_kind="group",
                             target_id=str(group), text=text, lane=Lane.BROADCAST, bot_id=bot_id)
        session.commit()
        assert row is not None
        return row.id


def row_of(engine, row_id: int) -> OutboxMessage:
    with Session(engine) as session:
        return session.exec(select(OutboxMessage).where(OutboxMessage.id == row_id)).one()


def account(health: dict, bot_id: str) -> dict | None:
    return next((a for a in health["accounts"] if a["bot_id"] == bot_id), None)


def group_calls(napcat: NapCat) -> list[int]:
    return [call["params"]["group_id"] for call in napcat.drain() if call.get("action") == "send_group_msg"]


async def test_each_group_goes_out_through_its_own_account_and_waits_for_it(service, admin):
    a_id, b_id = str(unique_number(21_000)), str(unique_number(22_000))
    a_groups = [unique_number(890_000), unique_number(890_000)]
    b_groups = [unique_number(891_000)]
    for group in a_groups + b_groups:
        admin.post("/api/v1/groups", json={"group_id": str(group)}).raise_for_status()
    engine = make_engine(service.database_url)
    history: dict[int, list[dict]] = {}
    try:
        async with (NapCat(service.ws_url, self_id=a_id, token=ACCESS_TOKEN, groups=a_groups, history=history) as a,
                    NapCat(service.ws_url, self_id=b_id, token=ACCESS_TOKEN, groups=b_groups) as b):
            def both_listed():
                health = admin.get("/healthz").json()
                return (account(health, a_id) or {}).get("groups") == sorted(map(str, a_groups)) and (
                    account(health, b_id) or {}).get("groups") == [str(b_groups[0])]
            await wait_for(both_listed)
            health = admin.get("/healthz").json()
            assert account(health, a_id)["connected"] and account(health, b_id)["connected"]
            waiting = {g["group_id"] for g in health["groups_without_account"]}
            assert not waiting & {str(g) for g in a_groups + b_groups}

            # a retailer's question in each group is answered through the account of that group
            await a.group_message(a_groups[0], unique_number(17_000), "终端开不了机怎么办")
            await b.group_message(b_groups[0], unique_number(17_000), "扫码枪扫不出来怎么办")
            assert (await a.next_call("send_group_msg", to=a_groups[0]))["params"]["group_id"] == a_groups[0]
            assert (await b.next_call("send_group_msg", to=b_groups[0]))["params"]["group_id"] == b_groups[0]

            # notices queued with no account named (a broadcast) each go through their group's account
            sent = [queue(engine, group, f"货源通知 {group}") for group in a_groups + b_groups for _ in range(2)]
            await wait_for(lambda: all(row_of(engine, row_id).status == "sent" for row_id in sent), timeout=30)
            assert set(group_calls(a)) <= set(a_groups) and set(group_calls(b)) <= set(b_groups)
            assert account(admin.get("/healthz").json(), a_id)["last_send_at"]

        await wait_for(lambda: a_id not in admin.get("/healthz").json()["bots"])
        async with NapCat(service.ws_url, self_id=b_id, token=ACCESS_TOKEN, groups=b_groups) as b:
            await wait_for(lambda: b_id in admin.get("/healthz").json()["bots"])
            health = admin.get("/healthz").json()
            assert {str(g) for g in a_groups} <= {g["group_id"] for g in health["groups_without_account"]}
            assert not account(health, a_id)["connected"]
            held = queue(engine, a_groups[0], "等账号上线再发", bot_id=a_id)
            later = queue(engine, b_groups[0], "这一条照常发出")
            await b.next_call("send_group_msg", to=b_groups[0], timeout=15)
            await wait_for(lambda: row_of(engine, later).status == "sent")
            # B had its turn after the held row was queued and did not take it: it waits, unclaimed
            waiting_row = row_of(engine, held)
            assert (waiting_row.status, waiting_row.claimed_by, waiting_row.attempts) == ("pending", None, 0)
            assert a_groups[0] not in group_calls(b)

            async with NapCat(service.ws_url, self_id=a_id, token=ACCESS_TOKEN, groups=a_groups,
                              history=history) as a_again:
                call = await a_again.next_call("send_group_msg", to=a_groups[0], timeout=15)
                assert "等账号上线再发" in "".join(seg["data"].get("text", "") for seg in call["params"]["message"])
                await wait_for(lambda: row_of(engine, held).status == "sent")
                health = admin.get("/healthz").json()
                assert not {str(g) for g in a_groups} & {g["group_id"] for g in health["groups_without_account"]}
            assert a_groups[0] not in group_calls(b)
    finally:
        engine.dispose()
