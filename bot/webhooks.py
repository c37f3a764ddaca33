"""Staff alerts through WeCom (企业微信) and DingTalk (钉钉) group robots: their webhooks, beside the QQ sender.

A robot channel is a sending account of its own kind to the sender (`bot/sender.py`): its name is the
account, its kind (`wecom`, `dingtalk`) the platform, so its rows are claimed, paced (the robot's 20 a
minute), retried and dead-lettered by the one outbox like any QQ account's. The webhook URL carries the
robot's key and DingTalk's secret signs each request: both are read from the environment (or `.env`) under
the names the policy file gives, checked at start (`resolve`), and never logged or shown whole (`masked`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from dotenv import dotenv_values

from bot.models import OutboxMessage
from bot.policy import Policies, RobotChannel
from bot.services import outbox

log = logging.getLogger(__name__)
# httpx logs every request's URL at INFO, and a robot's URL holds its key
logging.getLogger("httpx").setLevel(logging.WARNING)
KINDS = ("wecom", "dingtalk")
TIMEOUT_SECONDS = 10
# the robots' "too many messages" answers: retried after a minute, costing no attempt
RATE_LIMITED = {"wecom": {45009}, "dingtalk": {130101, 410100}}
RATE_LIMIT_PAUSE_SECONDS = 60
_KEY_PARAM = {"wecom": "key", "dingtalk": "access_token"}


class AlertConfigError(ValueError):
    """A robot channel cannot work as configured: the service does not start, and says which and why."""


class WebhookFailed(RuntimeError):
    """The robot refused the message or could not be reached (the text never names the URL)."""


class RateLimited(WebhookFailed):
    """The robot says too many messages: try again after a pause, without spending an attempt."""


@dataclass(frozen=True)
class Webhook:
    name: str
    kind: str
    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    rate_per_minute: int = 20

    @property
    def masked(self) -> str:
        """The URL without its key: scheme, host and path, with the key's first four characters."""
        parts = urllib.parse.urlsplit(self.url)
        key = dict(urllib.parse.parse_qsl(parts.query)).get(_KEY_PARAM[self.kind], "")
        return f"{parts.scheme}://{parts.netloc}{parts.path}?{_KEY_PARAM[self.kind]}={key[:4]}…"


def _environment(env_file: str | Path = ".env") -> dict[str, str]:
    """The process's environment over `.env` (the settings read the same two places)."""
    found = {name: value for name, value in dotenv_values(env_file).items() if value is not None}
    return found | dict(os.environ)


def _check_url(name: str, channel: RobotChannel, url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise AlertConfigError(f"机器人通道 {name}：{channel.url_env} 不是网址（应以 https:// 开头）")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise AlertConfigError(f"机器人通道 {name}：{channel.url_env} 须用 https://（密钥不能明文传输）")
    if not dict(urllib.parse.parse_qsl(parts.query)).get(_KEY_PARAM[channel.kind]):
        raise AlertConfigError(f"机器人通道 {name}：{channel.url_env} 缺少 {_KEY_PARAM[channel.kind]}= 参数，"
                               f"请复制机器人的完整 Webhook 地址")


def resolve(policies: Policies, environ: Mapping[str, str] | None = None) -> dict[str, Webhook]:
    """Each robot channel with its URL and secret, or AlertConfigError naming the first that cannot work."""
    env = _environment() if environ is None else environ
    found = {}
    for name, channel in sorted(policies.alerts.channels.items()):
        url = env.get(channel.url_env, "").strip()
        if not url:
            raise AlertConfigError(f"机器人通道 {name}：环境变量 {channel.url_env} 未设置（应为机器人的 Webhook 地址）")
        _check_url(name, channel, url)
        secret = None
        if channel.secret_env:
            secret = env.get(channel.secret_env, "").strip()
            if not secret:
                raise AlertConfigError(
                    f"机器人通道 {name}：环境变量 {channel.secret_env} 未设置（钉钉机器人的加签密钥）")
        found[name] = Webhook(name, channel.kind, url, secret, channel.rate_per_minute)
    return found


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's 加签: base64 of HMAC-SHA256 over "timestamp\\nsecret", keyed by the secret (not yet URL-encoded)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def payload(hook: Webhook, content: str, mobiles: list[str]) -> dict:
    """The robot's JSON: plain text, @ by mobile (DingTalk shows the @ only when the content names it)."""
    if hook.kind == "wecom":
        return {"msgtype": "text", "text": {"content": content, "mentioned_mobile_list": mobiles}}
    if mobiles:
        content += "\n" + " ".join(f"@{mobile}" for mobile in mobiles)
    return {"msgtype": "text", "text": {"content": content}, "at": {"atMobiles": mobiles, "isAtAll": False}}


def text_of(rows: list[OutboxMessage]) -> tuple[str, list[str]]:
    """What one send says (`outbox.compose`, several notices a digest) and whom it @-mentions."""
    content = "\n".join(text for _, text in outbox.compose(rows))
    mobiles = [mobile for row in rows for mobile in (row.mentions or "").split(",") if mobile]
    return content, list(dict.fromkeys(mobiles))


@dataclass
class ChannelHealth:
    """What this process saw of one robot: kept in memory, shown on /healthz and /metrics."""

    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_error: str | None = None
    failures: int = 0


@dataclass(frozen=True)
class RobotHealth:
    """One robot channel as /healthz shows it: its URL without the key, what this process saw, its queue."""

    name: str
    kind: str
    url: str
    rate_per_minute: int
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None
    waiting: int
    dead: int


def health(robots: WebhookTransport | None, queues: list[outbox.Queue]) -> list[RobotHealth]:
    if robots is None:
        return []
    found = []
    for name, hook in sorted(robots.hooks.items()):
        mine = [queue for queue in queues if queue.platform == hook.kind and queue.bot_id == name]
        state = robots.health[name]
        found.append(RobotHealth(name, hook.kind, hook.masked, hook.rate_per_minute, state.last_success_at,
                                 state.last_failure_at, state.last_error, sum(q.waiting for q in mine),
                                 sum(q.dead for q in mine)))
    return found


class WebhookTransport:
    """Posts robot messages with httpx. `now` stamps health; `epoch_ms` DingTalk's signatures."""

    def __init__(self, hooks: dict[str, Webhook], *, now: Callable[[], datetime],
                 epoch_ms: Callable[[], int] = lambda: int(time.time() * 1000),
                 client: httpx.AsyncClient | None = None) -> None:
        self.hooks = hooks
        self.health = {name: ChannelHealth() for name in hooks}
        self._now, self._epoch_ms = now, epoch_ms
        self._client = client

    def connected(self) -> dict[str, str]:
        return {name: hook.kind for name, hook in self.hooks.items()}

    def _url(self, hook: Webhook) -> str:
        if hook.kind != "dingtalk" or hook.secret is None:
            return hook.url
        timestamp = self._epoch_ms()
        signed = urllib.parse.urlencode({"timestamp": timestamp, "sign": dingtalk_sign(hook.secret, timestamp)})
        return f"{hook.url}&{signed}"

    async def send(self, name: str, rows: list[OutboxMessage]) -> str | None:
        hook = self.hooks[name]
        try:
            await self._post(hook, *text_of(rows))
        except WebhookFailed as error:
            state = self.health[name]
            state.last_failure_at, state.last_error, state.failures = self._now(), str(error), state.failures + 1
            raise
        self.health[name].last_success_at = self._now()
        return None  # robots give no message id

    async def _post(self, hook: Webhook, content: str, mobiles: list[str]) -> None:
        client = self._client or httpx.AsyncClient(timeout=TIMEOUT_SECONDS)
        try:
            response = await client.post(self._url(hook), json=payload(hook, content, mobiles))
        except httpx.HTTPError as error:  # its text may hold the URL, and so the key: name only the kind
            raise WebhookFailed(f"{hook.kind} 机器人连接失败（{type(error).__name__}）") from None
        finally:
            if self._client is None:
                await client.aclose()
        if response.status_code != 200:
            raise WebhookFailed(f"{hook.kind} 机器人返回 HTTP {response.status_code}")
        try:
            answer = response.json()
            code = int(answer.get("errcode", -1))
        except (ValueError, AttributeError, TypeError):
            raise WebhookFailed(f"{hook.kind} 机器人的回答不是预期的 JSON") from None
        if code != 0:
            message = f"{hook.kind} 机器人拒绝：errcode {code} {str(answer.get('errmsg', ''))[:200]}"
            raise (RateLimited if code in RATE_LIMITED[hook.kind] else WebhookFailed)(message)

    async def find_sent(self, name: str, rows: list[OutboxMessage], *, since: datetime) -> str | None:
        return None  # a robot's group cannot be read back: a taken-back claim is sent again

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
