"""From a retailer's question to an agent's reply, over the OneBot v11 WebSocket."""

import pytest
import websockets

from tests.support.fixtures import unique_number, wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN


@pytest.fixture
def group_id(admin):
    number = unique_number(800_000)
    assert admin.post("/api/v1/groups", json={"group_id": str(number), "name": "城区零售户群"}).status_code == 201
    return number


@pytest.fixture
def agent(admin):
    user = unique_number(30_000)
    created = admin.post("/api/v1/staff", json={"name": "李客服", "roles": ["agent"],
                                                "chat_user_id": str(user)}).json()
    return {"user_id": user, **created}


@pytest.fixture
async def napcat(service, admin):
    async with NapCat(service.ws_url, self_id="20000", token=ACCESS_TOKEN) as client:
        await wait_for(lambda: "20000" in admin.get("/healthz").json()["bots"])
        yield client
        # the tests share a service: what this one queued (staff notices too) goes out before the
        # connection closes, so no send is left waiting on a closed socket for the next test
        await wait_for(lambda: not any(admin.get("/api/v1/outbox", params={"status": status}).json()
                                       for status in ("pending", "sending")), timeout=30)


def tickets_of(admin, group_id):
    record = next(g for g in admin.get("/api/v1/groups").json() if g["group_id"] == str(group_id))
    return admin.get("/api/v1/tickets", params={"group_id": record["id"]}).json()["items"]


def text_of(call):
    return "".join(seg["data"].get("text", "") for seg in call["params"]["message"] if seg["type"] == "text")


def segment_types(call):
    return [seg["type"] for seg in call["params"]["message"]]


async def test_question_becomes_a_ticket_and_an_agents_quoted_reply_meets_the_pledge(napcat, admin, group_id, agent):
    question = await napcat.group_message(group_id, 10001, "店里的烟柜玻璃裂了能不能帮忙换")

    ack = await napcat.next_call("send_group_msg", to=group_id)
    assert ack["params"]["group_id"] == group_id
    assert ack["params"]["message"][0] == {"type": "reply", "data": {"id": str(question)}}
    [ticket] = tickets_of(admin, group_id)
    assert f"#{ticket['id']}" in text_of(ack) and "前回复" in text_of(ack)
    detail = admin.get(f"/api/v1/tickets/{ticket['id']}").json()
    assert [(p["kind"], p["state"]) for p in detail["pledges"]] == [("reply", "pending")]

    await napcat.group_message(group_id, agent["user_id"], "请检查数据线是否插好", reply_to=question)

    def pledge_met():
        detail = admin.get(f"/api/v1/tickets/{ticket['id']}").json()
        return detail if detail["pledges"][0]["state"] == "met" else None

    detail = await wait_for(pledge_met)
    assert detail["pledges"][0]["met_by_staff_id"] == agent["id"]
    # an unbound sender has no phone to call back: the callback cannot apply, so the ticket is done
    callback = next(p for p in detail["pledges"] if p["kind"] == "callback")
    assert (callback["state"], callback["state_reason"]) == ("not_applicable", "提问人未绑定许可证，无电话可回访")
    assert detail["status"] == "closed"
    assert tickets_of(admin, group_id)[0]["id"] == ticket["id"]  # the agent's message opened nothing


async def test_an_api_reply_is_posted_in_the_group_quoting_the_retailer(napcat, admin, group_id, agent):
    question = await napcat.group_message(group_id, 10002, "订货平台登录不上怎么办")
    await napcat.next_call("send_group_msg", to=group_id)
    [ticket] = tickets_of(admin, group_id)

    agent_client = {"Authorization": f"Bearer {agent['token']}"}
    answer = admin.post(f"/api/v1/tickets/{ticket['id']}/replies", headers=agent_client,
                        json={"text": "[CQ:at,qq=all] 请用新密码登录"})
    assert answer.status_code == 201, answer.text

    posted = await napcat.next_call("send_group_msg", to=group_id)
    assert posted["params"]["group_id"] == group_id
    assert segment_types(posted) == ["reply", "text"]  # the code stays text, never a live @all
    assert posted["params"]["message"][0]["data"]["id"] == str(question)
    assert text_of(posted).endswith("[CQ:at,qq=all] 请用新密码登录")
    detail = admin.get(f"/api/v1/tickets/{ticket['id']}").json()
    assert detail["pledges"][0]["state"] == "met"


async def test_retailer_codes_never_come_back_as_live_codes(napcat, admin, group_id):
    await napcat.group_message(group_id, 10003, "[CQ:at,qq=all] 终端黑屏了怎么办")
    ack = await napcat.next_call("send_group_msg", to=group_id)
    assert "at" not in segment_types(ack)
    [ticket] = tickets_of(admin, group_id)
    assert ticket["text"] == "[CQ:at,qq=all] 终端黑屏了怎么办"


async def test_bad_frames_crash_nothing_and_lose_nothing(napcat, admin, group_id):
    await napcat.group_message(group_id, 10004, "送货少送了两条怎么办")
    await napcat.next_call("send_group_msg", to=group_id)

    await napcat.send_raw("this is not json")
    await napcat.send_raw({"post_type": "message"})  # missing every field
    await napcat.send_raw({"post_type": "no_such_type", "self_id": 20000, "time": 1})
    await napcat.send_raw([1, 2, 3])
    await napcat.group_message(group_id, 10005, "", segments=[{"type": "image", "data": {"file": "a.jpg"}}])
    await napcat.group_message(group_id, 10006, "", segments=[{"type": "face", "data": {"id": "1"}}])
    await napcat.group_message(group_id, 10007, "终端坏了怎么办" + "很" * 10_000)
    ack = await napcat.next_call("send_group_msg", to=group_id)
    assert "很" * 20 not in text_of(ack) and len(text_of(ack)) < 1000  # the huge text is not echoed back

    assert admin.get("/healthz").json()["database"] is True
    texts = sorted(t["text"][:10] for t in tickets_of(admin, group_id))
    assert texts == sorted(["送货少送了两条怎么办", ("终端坏了怎么办" + "很" * 10)[:10]])
    huge = next(t for t in tickets_of(admin, group_id) if t["text"].startswith("终端"))
    assert len(huge["text"]) == 10_007


async def test_a_flood_from_one_user_becomes_one_ticket(napcat, admin, group_id):
    for n in range(150):
        await napcat.group_message(group_id, 10008, f"终端坏了怎么办 第{n}次")
    first_ack = await napcat.next_call("send_group_msg", to=group_id)
    assert "#" in text_of(first_ack)
    await napcat.group_message(group_id, 10009, "许可证怎么延续")  # a sentinel after the flood
    sentinel = await napcat.next_call("send_group_msg", to=group_id)
    assert "专卖" in text_of(sentinel)

    flood = [t for t in tickets_of(admin, group_id) if t["sender_user_id"] == "10008"]
    assert len(flood) == 1
    detail = admin.get(f"/api/v1/tickets/{flood[0]['id']}").json()
    assert sum(m["author_kind"] == "retailer" for m in detail["messages"]) == 150


@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_a_client_without_the_right_token_is_refused(service, token):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with NapCat(service.ws_url, self_id="20001", token=token):
            pass
    assert refused.value.response.status_code in {401, 403}


async def test_no_personal_number_reaches_the_group(napcat, admin, group_id, agent):
    await napcat.group_message(group_id, 10010, "我电话13912345678，许可证430102100001，终端坏了怎么办")
    ack = await napcat.next_call("send_group_msg", to=group_id)
    [ticket] = tickets_of(admin, group_id)
    admin.post(f"/api/v1/tickets/{ticket['id']}/replies", headers={"Authorization": f"Bearer {agent['token']}"},
               json={"text": "王老板 13912345678 您好，许可证 430102100001 的终端已登记，身份证43010219900101123X"})
    posted = await napcat.next_call("send_group_msg", to=group_id)
    for text in (text_of(ack), text_of(posted)):
        assert "13912345678" not in text and "430102100001" not in text and "43010219900101123X" not in text
    assert "139****5678" in text_of(posted)


async def test_a_nul_or_a_lone_surrogate_is_cleaned_and_the_message_kept(napcat, admin, group_id):
    await napcat.group_message(group_id, 10011, "终端\x00坏了\ud800怎么办\x07\n请尽快", nickname="王\ud800老板",
                               ascii_json=True)
    ack = await napcat.next_call(to=group_id)
    assert "#" in text_of(ack)
    [ticket] = tickets_of(admin, group_id)
    assert ticket["text"] == "终端坏了\ufffd怎么办\n请尽快"
    assert ticket["sender_name"] == "王\ufffd老板"


async def test_a_nul_in_a_private_message_is_dropped_before_it_is_read(napcat):
    await napcat.private_message(10012, "我的信息\x00", ascii_json=True)
    answer = await napcat.next_call("send", to=10012)
    assert "还没有绑定" in text_of(answer)


async def test_a_frame_nested_too_deep_is_skipped_and_the_connection_kept(napcat, admin, group_id, service):
    await napcat.send_raw("[" * 100_000 + "]" * 100_000)
    await napcat.send_raw('{"a":' * 100_000 + "1" + "}" * 100_000)
    await napcat.group_message(group_id, 10013, "扫码枪扫不出来怎么办")
    ack = await napcat.next_call(to=group_id)  # answered on the same connection
    assert "#" in text_of(ack)
    assert "20000" in admin.get("/healthz").json()["bots"]
    assert "RecursionError" in service.log()


async def test_a_question_in_private_chat_becomes_a_ticket_answered_privately(napcat, admin, agent):
    retailer = unique_number(13_000)
    await napcat.private_message(retailer, "店里的烟柜玻璃裂了能不能帮忙换")
    ack = await napcat.next_call("send", to=retailer)  # said where it was asked (send_msg)
    assert "前回复您" in text_of(ack)
    mine = [t for t in admin.get("/api/v1/tickets", params={"limit": 200}).json()["items"]
            if t["sender_user_id"] == str(retailer)]
    assert [(t["chat_group_id"], t["platform"], t["status"]) for t in mine] == [(None, "qq", "open")]
    as_agent = {"Authorization": f"Bearer {agent['token']}"}
    reply = admin.post(f"/api/v1/tickets/{mine[0]['id']}/replies", headers=as_agent,
                       json={"text": "明天安排人上门更换"})
    assert reply.status_code == 201
    answer = await napcat.next_call("send_private_msg", to=retailer)
    assert text_of(answer).endswith("明天安排人上门更换")
