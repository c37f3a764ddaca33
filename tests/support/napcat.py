"""A OneBot v11 client that connects the way NapCat does: reverse WebSocket, X-Self-ID,
an access token, events pushed as JSON, and the bot's API calls answered by echo.

Group messages the bot sends are kept per group, as the platform keeps them, and
`get_group_msg_history` answers with them (NapCat's extension). Pass one `history`
to several clients to play one QQ account connecting again after a restart.
`groups` are the groups the account is in, given to `get_group_list`; without them that
call fails, as on an implementation that lacks it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import websockets

_message_ids = itertools.count(1_000_000)


class NapCat:
    def __init__(self, url: str, self_id: str = "20000", token: str | None = None, *,
                 history: dict[int, list[dict[str, Any]]] | None = None,
                 unanswered: Callable[[dict[str, Any]], bool] = lambda call: False,
                 groups: list[int] | None = None) -> None:
        """`unanswered`: calls the platform carries out but never answers (the bot waits on them)."""
        self.url, self.self_id, self.token = url, self_id, token
        self.groups = groups
        self.history = {} if history is None else history  # group id -> the messages posted there
        self.unanswered = unanswered
        self.calls: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent_at: dict[int, float] = {}  # our message id -> when we sent it
        self._socket: websockets.ClientConnection | None = None
        self._reader: asyncio.Task | None = None
        self._passed_over: list[dict[str, Any]] = []

    async def __aenter__(self) -> NapCat:
        headers = {"X-Self-ID": self.self_id, "X-Client-Role": "Universal",
                   "User-Agent": "NapCat.OneBot/v11"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self._socket = await websockets.connect(self.url, additional_headers=headers,
                                                max_size=None, open_timeout=10)
        await self.send_raw({"time": int(time.time()), "self_id": int(self.self_id),
                             "post_type": "meta_event", "meta_event_type": "lifecycle",
                             "sub_type": "connect"})
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._reader:
            self._reader.cancel()
        if self._socket:
            await self._socket.close()

    async def send_raw(self, frame: dict[str, Any] | str) -> None:
        await self._socket.send(frame if isinstance(frame, str) else json.dumps(frame, ensure_ascii=False))

    async def _read(self) -> None:
        try:
            await self._serve()
        except websockets.ConnectionClosed:  # the service went away (a test killed it)
            pass

    async def _serve(self) -> None:
        async for raw in self._socket:
            call = json.loads(raw)
            call["received_at"] = time.perf_counter()
            await self.calls.put(call)
            data = self._answer(call)
            if self.unanswered(call):
                continue
            if call.get("action") == "get_group_list" and self.groups is None:
                await self._socket.send(json.dumps({"status": "failed", "retcode": 1404, "echo": call.get("echo"),
                                                    "data": None, "message": "unsupported"}))
                continue
            await self._socket.send(json.dumps({"status": "ok", "retcode": 0, "echo": call.get("echo"),
                                                "data": data}))

    def _answer(self, call: dict[str, Any]) -> Any:
        action, params = call.get("action"), call.get("params", {})
        if action in {"send_msg", "send_group_msg", "send_private_msg"}:
            message_id = next(_message_ids)
            if action == "send_group_msg" or params.get("message_type") == "group":
                self.history.setdefault(params["group_id"], []).append({
                    "message_id": message_id, "time": int(time.time()), "message_type": "group",
                    "group_id": params["group_id"], "sender": {"user_id": int(self.self_id)},
                    "message": params["message"]})
            return {"message_id": message_id}
        if action == "get_group_list":
            return [{"group_id": group_id, "group_name": f"群{group_id}", "member_count": 50, "max_member_count": 500}
                    for group_id in self.groups or []]
        if action == "get_group_msg_history":
            return {"messages": self.history.get(params["group_id"], [])[-params.get("count", 20):]}
        if action == "get_msg":  # the adapter looks up quoted messages
            return {"message_id": params.get("message_id"), "real_id": params.get("message_id"),
                    "time": int(time.time()), "message_type": "group",
                    "sender": {"user_id": 10001, "nickname": "零售户"}, "message": []}
        return None

    async def group_message(self, group_id: int, user_id: int, text: str, *,
                            reply_to: int | None = None, segments: list[dict] | None = None,
                            role: str = "member", nickname: str | None = None, ascii_json: bool = False) -> int:
        """Post a group message event; `ascii_json` escapes the frame as json.dumps does by default
        (so a lone surrogate travels as a `\\ud800` escape, as some clients send it)."""
        message_id = next(_message_ids)
        message = list(segments or [])
        if reply_to is not None:
            message.insert(0, {"type": "reply", "data": {"id": str(reply_to)}})
        if text:
            message.append({"type": "text", "data": {"text": text}})
        self.sent_at[message_id] = time.perf_counter()
        frame = {
            "time": int(time.time()), "self_id": int(self.self_id), "post_type": "message",
            "message_type": "group", "sub_type": "normal", "message_id": message_id,
            "group_id": group_id, "user_id": user_id, "message": message,
            "raw_message": text, "font": 0,
            "sender": {"user_id": user_id, "nickname": nickname or f"用户{user_id}", "card": "", "role": role},
        }
        await self.send_raw(json.dumps(frame) if ascii_json else frame)
        return message_id

    async def private_message(self, user_id: int, text: str, *, ascii_json: bool = False) -> int:
        message_id = next(_message_ids)
        frame = {
            "time": int(time.time()), "self_id": int(self.self_id), "post_type": "message",
            "message_type": "private", "sub_type": "friend", "message_id": message_id,
            "user_id": user_id, "message": [{"type": "text", "data": {"text": text}}],
            "raw_message": text, "font": 0, "sender": {"user_id": user_id, "nickname": "零售户"},
        }
        await self.send_raw(json.dumps(frame) if ascii_json else frame)
        return message_id

    async def next_call(self, action_prefix: str = "send", timeout: float = 10, *,
                        to: int | None = None) -> dict[str, Any]:
        """The next API call the bot made whose action starts with the prefix (and, with `to`, that
        goes to that group or user: tests sharing a service see each other's notices)."""
        def wanted(call: dict[str, Any]) -> bool:
            params = call.get("params", {})
            return call.get("action", "").startswith(action_prefix) and (
                to is None or to in (params.get("group_id"), params.get("user_id")))

        for index, call in enumerate(self._passed_over):  # a call another wait skipped is not lost
            if wanted(call):
                return self._passed_over.pop(index)
        async with asyncio.timeout(timeout):
            while True:
                call = await self.calls.get()
                if wanted(call):
                    return call
                if to is not None:
                    self._passed_over.append(call)

    def posted(self, group_id: int) -> list[str]:
        """The text of each message posted in the group, oldest first."""
        return ["".join(seg["data"].get("text", "") for seg in message["message"] if seg["type"] == "text")
                for message in self.history.get(group_id, [])]

    def drain(self) -> list[dict[str, Any]]:
        calls = []
        while not self.calls.empty():
            calls.append(self.calls.get_nowait())
        return calls
