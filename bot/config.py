"""Service settings, read from the environment and `.env`.

One settings object feeds NoneBot, the API and the services, so a value is
named once (see `.env.example` for the documented list).
"""

from __future__ import annotations

import ipaddress
import socket
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class UnsafeConfigError(RuntimeError):
    """The configuration would expose the service; it must not start."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = "sqlite:///./data/bot.db"
    onebot_access_token: str = ""
    admin_token: str = ""
    timezone: str = "Asia/Shanghai"
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        "text", description="text: NoneBot's coloured lines; json: one JSON object a line (time, level, "
                            "logger, message, and ticket_id, pledge_id, outbox_id where a line names them).")

    public_numbers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Numbers the group may see (hotlines); comma-separated in the environment.")
    policy_file: str | None = Field(None, description="TOML overriding the pledge policies.")
    knowledge_dir: str = Field(str(Path(__file__).resolve().parents[1] / "knowledge"),
                               description="The knowledge base's seed entries, thresholds and evaluation.")
    knowledge_refresh_seconds: float = Field(
        15, gt=0, le=60, description="How often this instance checks whether the stored knowledge base "
                                     "changed (on another instance) and rebuilds its index.")
    lookups_refresh_seconds: float = Field(
        2, gt=0, le=60, description="How long this instance may answer from its memory of the groups, staff chat "
                                    "accounts and bindings before checking whether another instance changed them.")
    thread_window_minutes: float = Field(
        10, ge=0, description="Follow-ups within this window join the open ticket."
    )
    outbox_poll_seconds: float = Field(1.0, gt=0)
    outbox_rate_per_minute: int = Field(
        30, ge=1, description="The most messages one bot account sends in any 60-second window "
                              "(spread evenly, one every 60/limit seconds).")
    outbox_min_interval_seconds: float = Field(1.5, ge=0)
    outbox_jitter_seconds: float = Field(0.5, ge=0)
    outbox_max_attempts: int = Field(6, ge=1)
    console_url: str = Field(
        "", description="Where staff open the web console, as their browsers reach it; the one-time login "
                        "links sent in private chat start with it. Default: http://<HOST>:<PORT> "
                        "(127.0.0.1 when HOST listens on every address).")
    metrics_token: str = Field(
        "", description="A token that may read /metrics only (Prometheus' bearer token); admins' tokens may too.")
    instance_name: str = Field(
        "", max_length=32,
        description="This process's name on its host (default: its port). A restarted process knows its "
                    "own unfinished outbox claims by it; two running processes of one host must differ.")

    @field_validator("public_numbers", mode="before")
    @classmethod
    def _split_numbers(cls, value: object) -> object:
        if isinstance(value, str):
            return [number.strip() for number in value.split(",") if number.strip()]
        return value

    @model_validator(mode="after")
    def _default_console_url(self) -> Settings:
        if self.console_url:
            self.console_url = self.console_url.rstrip("/")
            return self
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        if ":" in host:  # an IPv6 address goes in brackets in a URL
            host = f"[{host}]"
        self.console_url = f"http://{host}:{self.port}"
        return self

    @property
    def worker(self) -> str:
        """This process's stable outbox identity, `host:instance` (at most 64 characters, as stored).

        The host is always part of it: one `.env` copied to two machines must not make their
        processes take each other's claims for their own.
        """
        instance = self.instance_name or str(self.port)
        return f"{socket.gethostname()[:63 - len(instance)]}:{instance}"

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def check_safe_to_serve(self) -> None:
        """Refuse to listen beyond this machine without an access token.

        A reverse WebSocket without a token lets anyone on the network pose as
        the QQ account and read every retailer's message.
        """
        if not self.is_loopback and not self.onebot_access_token:
            raise UnsafeConfigError(
                f"HOST={self.host} is reachable from other machines, but "
                "ONEBOT_ACCESS_TOKEN is empty: anyone could connect as the bot. "
                "Set ONEBOT_ACCESS_TOKEN (and the same token in NapCat/Lagrange), "
                "or bind to HOST=127.0.0.1."
            )
