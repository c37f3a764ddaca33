"""The staff console over real HTTP, against the real service: sign-in, CSRF, roles, the inbox and the
ticket page's actions, and the reply reaching the group over the real OneBot WebSocket."""

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.support.fixtures import new_member, unique_number, wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "every form carries the CSRF token"
    return found.group(1)


def browser(service, address: str | None = None) -> httpx.Client:
    """A client that keeps cookies, as a browser does; `address` stands for another machine
    (the service trusts X-Forwarded-For from the local proxy address, as behind nginx)."""
    headers = {"X-Forwarded-For": address} if address else {}
    return httpx.Client(base_url=service.base_url, headers=headers, follow_redirects=False)


@contextmanager
def sign_in(service, token: str, address: str | None = None) -> Iterator[httpx.Client]:
    with browser(service, address) as client:
        form = client.get("/console/login")
        answer = client.post("/console/login", data={"token": token, "csrf": csrf_of(form.text)})
        assert answer.status_code == 303, answer.text
        yield client


@pytest.fixture(scope="module")
def people(admin):
    def member(*roles, chat=False):
        return new_member(admin, *roles, chat=chat)

    return {"agent": member("agent"), "other": member("agent"), "marketer": member("marketing"),
            "linked": member("agent", chat=True)}


@pytest.fixture(scope="module")
async def posted(service, admin):
    """A retailer's question in a registered group: (group number, message id, ticket id, napcat)."""
    group = unique_number(940_000)
    admin.post("/api/v1/groups", json={"group_id": str(group), "name": "测试一群"}).raise_for_status()
    async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
        await wait_for(lambda: admin.get("/healthz").json()["bots"])
        user = unique_number(15_000)
        message_id = await napcat.group_message(group, user, "终端黑屏了开不了机")
        await napcat.next_call(to=group)  # the acknowledgement
        ticket = admin.get("/api/v1/tickets", params={"q": "终端黑屏了开不了机"}).json()["items"][0]
        assert ticket["status"] == "open"  # acknowledged, waiting for an agent
        yield group, message_id, ticket["id"], napcat


def test_a_page_without_a_session_sends_to_the_sign_in_form(service):
    with browser(service) as client:
        answer = client.get("/console/tickets?view=mine")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/login?next=/console/tickets%3Fview%3Dmine"
        form = client.get("/console/login")
        assert form.status_code == 200 and 'name="token"' in form.text


def test_a_wrong_token_is_refused_and_sets_no_session(service):
    with browser(service, "203.0.113.7") as client:
        form = client.get("/console/login")
        answer = client.post("/console/login", data={"token": "not-a-token", "csrf": csrf_of(form.text)})
        assert answer.status_code == 401 and "令牌无效" in answer.text
        assert "console_session" not in client.cookies


def test_signing_in_without_the_forms_csrf_token_is_refused(service, people):
    with browser(service) as client:
        client.get("/console/login")
        answer = client.post("/console/login", data={"token": people["agent"]["token"], "csrf": "forged"})
        assert answer.status_code == 403 and "console_session" not in client.cookies


def test_the_session_cookie_is_http_only_and_same_site(service, people):
    with browser(service) as client:
        form = client.get("/console/login?next=/console/tickets?view=mine")
        answer = client.post("/console/login", data={"token": people["agent"]["token"], "csrf": csrf_of(form.text),
                                                      "next": "/console/tickets?view=mine"})
        assert answer.headers["location"] == "/console/tickets?view=mine"
        cookie = answer.headers["set-cookie"]
        assert "console_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Path=/console" in cookie


def test_a_next_address_off_the_console_is_ignored(service, people):
    with browser(service) as client:
        form = client.get("/console/login")
        answer = client.post("/console/login", data={"token": people["agent"]["token"], "csrf": csrf_of(form.text),
                                                      "next": "//evil.example/console/"})
        assert answer.headers["location"] == "/console/tickets"


def test_failed_sign_ins_from_one_address_are_slowed_down(service):
    with browser(service, "198.51.100.23") as client:
        for _ in range(5):
            form = client.get("/console/login")
            assert client.post("/console/login", data={"token": "guess", "csrf": csrf_of(form.text)}
                               ).status_code == 401
        form = client.get("/console/login")
        blocked = client.post("/console/login", data={"token": "guess", "csrf": csrf_of(form.text)})
        assert blocked.status_code == 429 and "次数过多" in blocked.text
    with browser(service, "198.51.100.24") as elsewhere:  # another address is not held up
        form = elsewhere.get("/console/login")
        assert elsewhere.post("/console/login", data={"token": "guess", "csrf": csrf_of(form.text)}
                              ).status_code == 401


def test_signing_out_ends_the_session_on_the_server(service, people):
    with sign_in(service, people["agent"]["token"]) as client:
        page = client.get("/console/tickets")
        kept = client.cookies["console_session"]
        assert client.post("/console/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
    with browser(service) as replay:  # the old cookie, replayed, no longer opens anything
        replay.cookies.set("console_session", kept, path="/console")
        assert replay.get("/console/tickets").status_code == 303


def test_a_role_without_tickets_is_sent_from_the_inbox_to_its_own_page(service, people):
    with sign_in(service, people["marketer"]["token"]) as client:
        answer = client.get("/console/tickets")
        assert answer.status_code == 303 and answer.headers["location"] == "/console/supply"
        assert client.get("/console/tickets/rows").status_code == 403


async def test_the_inbox_lists_the_question_linking_to_its_ticket(service, people, posted):
    _, _, ticket_id, _ = posted
    with sign_in(service, people["agent"]["token"]) as client:
        page = client.get("/console/tickets")
        assert page.status_code == 200
        assert f'href="/console/tickets/{ticket_id}"' in page.text and "终端黑屏了开不了机" in page.text
        assert "测试一群" in page.text and "未分配" in page.text
        assert "终端黑屏" not in client.get("/console/tickets", params={"q": "返利"}).text
        rows = client.get("/console/tickets/rows", params={"view": "unassigned"})
        assert rows.status_code == 200 and f"/console/tickets/{ticket_id}" in rows.text


async def test_a_post_without_the_csrf_token_changes_nothing(service, people, posted, admin):
    _, _, ticket_id, _ = posted
    with sign_in(service, people["other"]["token"]) as client:
        answer = client.post(f"/console/tickets/{ticket_id}/claim", data={"csrf": "forged"})
        assert answer.status_code == 403
    pledges = admin.get(f"/api/v1/tickets/{ticket_id}").json()["pledges"]
    assert all(p["owner_staff_id"] != people["other"]["id"] for p in pledges)


async def test_an_agent_claims_and_replies_and_the_group_gets_the_reply(service, people, posted, admin):
    group, message_id, ticket_id, napcat = posted
    with sign_in(service, people["agent"]["token"]) as client:
        page = client.get(f"/console/tickets/{ticket_id}")
        assert "接单" in page.text and page.text.count('name="text"') == 1 and "发送回复" in page.text
        claimed = client.post(f"/console/tickets/{ticket_id}/claim", data={"csrf": csrf_of(page.text)})
        assert claimed.status_code == 303
        page = client.get(claimed.headers["location"])
        assert "已接单" in page.text

        empty = client.post(f"/console/tickets/{ticket_id}/reply", data={"csrf": csrf_of(page.text), "text": " "})
        assert empty.status_code == 422 and "不能为空" in empty.text
        answer = client.post(f"/console/tickets/{ticket_id}/reply",
                             data={"csrf": csrf_of(page.text), "text": "请重新插拔扫码枪的数据线试试"})
        assert answer.status_code == 303
        call = await napcat.next_call(to=group)
        segments = call["params"]["message"]
        assert {"type": "reply", "data": {"id": str(message_id)}} in segments
        assert "请重新插拔扫码枪的数据线试试" in "".join(s["data"].get("text", "") for s in segments)
        page = client.get(f"/console/tickets/{ticket_id}")
        assert "请重新插拔扫码枪的数据线试试" in page.text and "已兑现" in page.text

        note = client.post(f"/console/tickets/{ticket_id}/note", data={"csrf": csrf_of(page.text),
                                                                       "note": "客户说下午再试"})
        assert note.status_code == 303
        assert "客户说下午再试" in client.get(f"/console/tickets/{ticket_id}").text
    posted_texts = napcat.posted(group)  # the note never leaves the console
    assert any("请重新插拔扫码枪的数据线试试" in text for text in posted_texts)
    assert all("客户说下午再试" not in text for text in posted_texts)

    with sign_in(service, people["other"]["token"]) as second:  # the ticket is taken: asked to confirm
        page = second.get(f"/console/tickets/{ticket_id}")
        refused = second.post(f"/console/tickets/{ticket_id}/reply",
                              data={"csrf": csrf_of(page.text), "text": "我也来回复"})
        assert refused.status_code == 409 and "确认发送回复" in refused.text and "我也来回复" in refused.text
        confirmed = second.post(f"/console/tickets/{ticket_id}/reply",
                                data={"csrf": csrf_of(page.text), "text": "我也来回复", "confirm": "true"})
        assert confirmed.status_code == 303


async def test_a_ticket_that_does_not_exist_is_a_clear_404(service, people):
    with sign_in(service, people["agent"]["token"]) as client:
        answer = client.get("/console/tickets/999999")
        assert answer.status_code == 404 and "不存在" in answer.text


async def test_the_one_time_link_from_private_chat_signs_in_once(service, people, posted):
    napcat, user = posted[3], int(people["linked"]["chat_user_id"])
    await napcat.private_message(user, "登录")
    link = None
    while link is None:  # an agent with a chat account is also sent tasks: the link is the message that has one
        call = await napcat.next_call(to=user)
        message = call["params"]["message"]
        text = message if isinstance(message, str) else "".join(s["data"].get("text", "") for s in message)
        link = re.search(r"(/console/login/[\w-]+)", text)
    with browser(service) as client:
        page = client.get(link.group(1))  # a chat app's preview opens it: that must not use it up
        assert page.status_code == 200 and "确认登录" in page.text
        page = client.get(link.group(1))
        used = client.post(link.group(1), data={"csrf": csrf_of(page.text)})
        assert used.status_code == 303 and "console_session" in client.cookies
        assert client.get("/console/tickets").status_code == 200
    with browser(service) as again:
        page = again.get(link.group(1))
        answer = again.post(link.group(1), data={"csrf": csrf_of(page.text)})
        assert answer.status_code == 410 and "console_session" not in again.cookies


async def test_a_photo_the_retailer_sends_joins_the_ticket_and_opens_from_its_page(service, people, posted, admin):
    group, _, ticket_id, napcat = posted
    sender = admin.get(f"/api/v1/tickets/{ticket_id}").json()["sender_user_id"]
    picture = "https://multimedia.nt.qq.com.cn/download?appid=1407&fileid=EhQxMjM0NTY3ODkwMTIzNDU2Nzg5MA"
    await napcat.group_message(group, int(sender), "",
                               segments=[{"type": "image", "data": {"file": "a.jpg", "url": picture}}])
    await wait_for(lambda: "[图片]" in (admin.get(f"/api/v1/tickets/{ticket_id}").json()["latest_text"] or ""))
    with sign_in(service, people["agent"]["token"]) as client:
        page = client.get(f"/console/tickets/{ticket_id}").text
        assert f'<a href="{picture.replace("&", "&amp;")}" target="_blank" rel="noopener noreferrer">[图片]</a>' in page


def test_paging_through_a_search_keeps_the_search(service, people, admin):
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from bot.db import make_engine
    from bot.models import Ticket

    group = admin.post("/api/v1/groups", json={"group_id": str(unique_number(941_000))}).json()
    now = datetime.now(UTC)
    engine = make_engine(service.database_url)
    with engine.begin() as db:  # more than a page of tickets with one word in common, straight into the store
        db.execute(insert(Ticket.__table__), [  # type: ignore[attr-defined]
            {"chat_group_id": group["id"], "sender_user_id": str(unique_number(19_000)), "category": "other",
             "status": "open", "trading_flag": False, "text": f"灯箱坏了 第{n}家", "created_at": now,
             "updated_at": now, "last_message_at": now} for n in range(55)])
    engine.dispose()
    with sign_in(service, people["agent"]["token"]) as client:
        first = client.get("/console/tickets", params={"q": "灯箱坏了", "view": "open"})
        assert "共 55 张，第 1/2 页" in first.text
        following = re.search(r'href="(/console/tickets\?[^"]*page=2)"', first.text).group(1).replace("&amp;", "&")
        second = client.get(following)
        assert "共 55 张，第 2/2 页" in second.text and "灯箱坏了" in second.text
