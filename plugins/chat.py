"""Adapter glue shared by the plugins: events in, messages out.

OneBot v11 carries QQ; the console adapter is the terminal chat for trying the
bot without QQ (its "general" channel plays the group). Outgoing text is
always a text segment, never parsed, so a retailer's `[CQ:at,qq=all]` can
never come back out as a live code. The console adapter is imported only by the
terminal chat (`python -m bot console`): importing it takes a sixth of the service's start,
and nothing can be a console bot or event where it was never loaded.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeGuard, cast, overload

from nonebot.adapters import Bot, Event
from nonebot.adapters.onebot.v11 import Adapter as OneBotAdapter
from nonebot.adapters.onebot.v11 import Bot as OneBot
from nonebot.adapters.onebot.v11 import Event as OneBotEvent
from nonebot.adapters.onebot.v11 import GroupMessageEvent, PrivateMessageEvent
from nonebot.adapters.onebot.v11 import Message as OneBotMessage
from nonebot.adapters.onebot.v11 import MessageSegment as OneBotSegment
from nonebot.drivers import WebSocket

from bot import texts
from bot.models import OutboxMessage
from bot.runtime import get_runtime
from bot.services import outbox
from bot.services.guard import mask_personal_data
from bot.services.intake import GroupMessage, PrivateMessage

if TYPE_CHECKING:
    from nonebot.adapters.console import Bot as ConsoleBot
    from nonebot.adapters.console import MessageEvent as ConsoleMessageEvent

QQ, CONSOLE = "qq", "console"
log = logging.getLogger(__name__)


def _console() -> ModuleType | None:
    """The console adapter, if the terminal chat loaded it (see the module's docstring)."""
    return sys.modules.get("nonebot.adapters.console")


def _is_console_bot(bot: Bot) -> TypeGuard[ConsoleBot]:
    return (console := _console()) is not None and isinstance(bot, console.Bot)


def _is_console_event(event: Event) -> TypeGuard[ConsoleMessageEvent]:
    return (console := _console()) is not None and isinstance(event, console.MessageEvent)


def _console_text(text: str) -> Any:
    from nonebot.adapters.console import Message

    return Message(text)


def _direct_id() -> str:
    from nonechat.model import DIRECT

    return DIRECT.id


class _SkipMalformedFrames:
    """A WebSocket whose receive() drops frames that are not JSON.

    The stock adapter closes the whole connection on one undecodable frame,
    which would take the QQ account offline; here the frame is logged and
    the connection carries on. Any failure to parse counts: nesting too deep
    for the parser (`[[[…]]]`) raises RecursionError, not ValueError. (The
    adapter catches what goes wrong after parsing itself.)
    """

    def __init__(self, websocket: Any) -> None:
        self._websocket = websocket

    def __getattr__(self, name: str) -> Any:
        return getattr(self._websocket, name)

    async def receive(self) -> str | bytes:
        while True:
            data = await self._websocket.receive()
            try:
                json.loads(data)
            except Exception as error:
                log.warning("skipped a malformed OneBot frame of %d bytes (%s)", len(data), type(error).__name__)
                continue
            return data


class SturdyOneBotAdapter(OneBotAdapter):
    async def _handle_ws(self, websocket: Any) -> None:
        await super()._handle_ws(cast(WebSocket, _SkipMalformedFrames(websocket)))  # the same interface


def platform_of(bot: Bot) -> str | None:
    if isinstance(bot, OneBot):
        return QQ
    if _is_console_bot(bot):
        return CONSOLE
    return None


def connected_accounts() -> dict[str, str]:
    """The bot accounts connected to this process now: bot id -> platform."""
    import nonebot

    return {bot_id: platform for bot_id, bot in nonebot.get_bots().items() if (platform := platform_of(bot))}


def _console_group(event: Event) -> bool:
    return _is_console_event(event) and event.channel.id != _direct_id()


# Rules are coroutines: NoneBot runs a plain function rule in a worker thread for every event.
async def is_group_message(event: Event) -> bool:
    return isinstance(event, GroupMessageEvent) or _console_group(event)


async def is_private_message(event: Event) -> bool:
    return isinstance(event, PrivateMessageEvent) or (
        _is_console_event(event) and event.channel.id == _direct_id()
    )


# NUL and the other C0 controls but tab and newline; lone surrogates (JSON may carry "\ud800").
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b-\x1f]|([\ud800-\udfff])")


@overload
def clean_text(text: str) -> str: ...
@overload
def clean_text(text: None) -> None: ...
def clean_text(text: str | None) -> str | None:
    """Text as it can be stored and answered: PostgreSQL refuses NUL, UTF-8 cannot carry a lone
    surrogate, so the first is dropped and the second becomes U+FFFD."""
    if not text:
        return text
    return _UNSTORABLE.sub(lambda match: "\ufffd" if match.group(1) else "", text)


def plain_text(event: Event) -> str:
    """A chat event's text, cleaned: every message we store or answer comes through here. A picture
    is kept as `[图片] <its address>`, so staff can open it from the ticket."""
    pictures = [f"{texts.PICTURE} {seg.data['url']}" for seg in event.get_message()
                if seg.type == "image" and str(seg.data.get("url", "")).startswith(("http://", "https://"))]
    text = event.get_plaintext()
    return clean_text("\n".join(filter(None, [text.strip(), *pictures])) if pictures else text)


def group_message(event: Event) -> GroupMessage:
    if isinstance(event, GroupMessageEvent):
        reply = next((seg for seg in event.original_message if seg.type == "reply"), None)
        return GroupMessage(
            platform=QQ, group_id=str(event.group_id), user_id=str(event.user_id),
            text=plain_text(event), message_id=str(event.message_id),
            sender_name=clean_text(event.sender.card or event.sender.nickname),
            reply_to=str(reply.data.get("id")) if reply else None, self_id=str(event.self_id),
        )
    assert _is_console_event(event)
    return GroupMessage(platform=CONSOLE, group_id=event.channel.id, user_id=event.user.id,
                        text=plain_text(event), message_id=event.message_id,
                        sender_name=clean_text(event.user.nickname), self_id=event.self_id)


def private_message(bot: Bot, event: Event) -> PrivateMessage:
    message_id = getattr(event, "message_id", None)
    return PrivateMessage(platform=platform_of(bot) or QQ, user_id=event.get_user_id(), text=plain_text(event),
                          message_id=None if message_id is None else str(message_id))


def _message_id(result: Any) -> str | None:
    if isinstance(result, dict):
        value = result.get("message_id")
    else:
        value = getattr(result, "message_id", None)
    return None if value is None else str(value)


def _onebot_text(text: str, reply_to: str | None) -> OneBotMessage:
    message = OneBotMessage()
    if reply_to and reply_to.isdigit():
        message += OneBotSegment.reply(int(reply_to))
    return message + OneBotSegment.text(text)


def _for_group(text: str) -> str:
    """Every group-bound text passes here: retailers' numbers never reach the group."""
    return mask_personal_data(text, get_runtime().settings.public_numbers)


async def reply(bot: Bot, event: Event, text: str, *, quote: bool = True) -> str | None:
    """Answer in the chat the event came from, quoting it; returns the sent message's id."""
    if not await is_private_message(event):
        text = _for_group(text)
    if isinstance(bot, OneBot):
        quoted = str(getattr(event, "message_id", "")) if quote else None
        return _message_id(await bot.send(cast(OneBotEvent, event), _onebot_text(text, quoted)))  # a QQ bot's event
    return _message_id(await bot.send(event, _console_text(text)))


def _lines(rows: list[OutboxMessage]) -> list[tuple[str | None, str]]:
    to_group = rows[0].target_kind == "group"
    return [(mention, _for_group(text) if to_group else text) for mention, text in outbox.compose(rows)]


def _onebot_body(rows: list[OutboxMessage]) -> OneBotMessage:
    """The OneBot message that sending the rows posts: one row as it is, several combined."""
    message, lines = rows[0], _lines(rows)
    if len(rows) == 1:
        body = _onebot_text(lines[0][1], message.reply_to)
    else:  # several retailers at once: each part after a mention of its retailer
        body = OneBotMessage()
        for number, (mention, text) in enumerate(lines):
            if number:
                body += OneBotSegment.text("\n")
            if mention and mention.isdigit():
                body += OneBotSegment.at(int(mention)) + OneBotSegment.text(" ")
            body += OneBotSegment.text(text)
    if message.image_url:  # a launch's picture, after its text
        body += OneBotSegment.image(message.image_url)
    return body


async def deliver(bot: Bot, rows: list[OutboxMessage]) -> str | None:
    """Send outbox rows through a bot account: one row as it is, several combined into one message."""
    message = rows[0]
    to_group = message.target_kind == "group"
    if isinstance(bot, OneBot):
        body = _onebot_body(rows)
        if to_group:
            result = await bot.send_group_msg(group_id=int(message.target_id), message=body)
        else:
            via: dict[str, Any] = {"group_id": int(message.via_group_id)} if message.via_group_id else {}
            result = await bot.send_private_msg(user_id=int(message.target_id), message=body, **via)
        return _message_id(result)
    if _is_console_bot(bot):
        text = "\n".join(text for _, text in _lines(rows))
        if message.image_url:
            text += f"\n[图片] {message.image_url}"
        if to_group:
            return _message_id(await bot.send_message(message.target_id, _console_text(text)))
        return _message_id(await bot.send_private_message(message.target_id, _console_text(text)))
    raise TypeError(f"no way to send through {type(bot).__name__}")


async def group_list(bot: Bot) -> list[str] | None:
    """The groups the account is a member of, as the platform lists them (`get_group_list`); None where the
    platform cannot say (the console). Raises when the call fails."""
    if not isinstance(bot, OneBot):
        return None
    groups = await bot.call_api("get_group_list")
    return [str(group["group_id"]) for group in groups or []]


HISTORY_COUNT = 50  # the group's latest messages searched for a copy
CLOCK_SLACK = timedelta(seconds=10)  # the platform stamps whole seconds, by a clock not quite ours


def _looks(message: OneBotMessage) -> tuple:
    """A message as its readers see it (quote, mentions, words, pictures), whitespace aside: the platform
    may join or trim the text segments it was sent."""
    reply = next((str(seg.data.get("id")) for seg in message if seg.type == "reply"), None)
    mentions = tuple(str(seg.data.get("qq")) for seg in message if seg.type == "at")
    words = "".join("".join(seg.data.get("text", "") for seg in message if seg.type == "text").split())
    return reply, mentions, words, sum(seg.type == "image" for seg in message)


def _posted(message: str | list[dict[str, Any]]) -> OneBotMessage:
    """A message as the history reports it: CQ-coded text or a list of segments."""
    if isinstance(message, str):
        return OneBotMessage(message)
    return OneBotMessage(OneBotSegment(seg["type"], seg.get("data") or {}) for seg in message)


async def find_sent(bot: Bot, rows: list[OutboxMessage], *, since: datetime) -> str | None:
    """The id of a message this account posted no earlier than `since` that looks exactly like sending the
    rows would; None when there is none, or the chat cannot be checked.

    Only a QQ group can be checked, through `get_group_msg_history` (the OneBot extension of NapCat and
    Lagrange.OneBot). A private chat has no history the bot can rely on, and the console none at all, so
    such rows are sent again. An implementation without the call fails it (ActionFailed, or any error):
    that is raised, and the caller sends again too.
    """
    message = rows[0]
    if not isinstance(bot, OneBot) or message.target_kind != "group":
        return None
    history = await bot.call_api("get_group_msg_history", group_id=int(message.target_id), count=HISTORY_COUNT)
    wanted, earliest = _looks(_onebot_body(rows)), (since - CLOCK_SLACK).timestamp()
    for posted in history["messages"]:
        if (str(posted.get("sender", {}).get("user_id")) == bot.self_id and posted["time"] >= earliest
                and _looks(_posted(posted["message"])) == wanted):
            return str(posted["message_id"])
    return None
