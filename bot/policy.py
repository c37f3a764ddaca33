"""Pledge policies: deadlines in business time, warnings and escalation ladders.

Defaults are the group's rules; `POLICY_FILE` points to a TOML file that
overrides any part of them (see policies.example.toml, which documents every
key). Durations are written like "30m", "2d", "1h30m" or "45s"; "d" is one
business day of the pledge's calendar, so tests and demos can run in seconds.
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Literal, cast
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.services.calendar import WORKDAY_RULES, BusinessCalendar

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")
Target = Literal["owner", "agents_group", "supervisors", "admins"]


class Duration(BaseModel):
    """Business days plus a plain span of working time."""

    days: int = 0
    span: timedelta = timedelta()

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = _DURATION.match(text.strip().lower().replace(" ", ""))
        if not text.strip() or match is None:
            raise ValueError(f"bad duration {text!r}: write it like 30m, 2d, 1h30m or 45s")
        days, hours, minutes, seconds = match.groups()
        return cls(days=int(days or 0), span=timedelta(hours=int(hours or 0), minutes=int(minutes or 0),
                                                       seconds=float(seconds or 0)))

    def on(self, calendar: BusinessCalendar) -> timedelta:
        return self.days * calendar.day_length + self.span


def _duration(value: object) -> object:
    return Duration.parse(value) if isinstance(value, str) else value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CalendarPolicy(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True)

    periods: tuple[str, ...] = ("08:30-12:00", "13:30-17:30")
    workdays: Literal["china", "weekdays", "every_day"] = "china"

    @field_validator("periods")
    @classmethod
    def _periods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for period in value:
            if not re.match(r"^\d{1,2}:\d{2}-\d{1,2}:\d{2}$", period):
                raise ValueError(f"bad period {period!r}: write it like 08:30-12:00")
        return value

    def build(self, tz: ZoneInfo) -> BusinessCalendar:
        spans = []
        for period in self.periods:  # checked above: "HH:MM-HH:MM"
            start, end = period.split("-")
            spans.append((time.fromisoformat(start.zfill(5)), time.fromisoformat(end.zfill(5))))
        return BusinessCalendar(tuple(spans), tz, WORKDAY_RULES[self.workdays])


class Step(Strict):
    after: Duration
    notify: Target

    _parse = field_validator("after", mode="before")(_duration)


PledgeName = Literal["reply", "visit", "callback"]  # PledgeKind's values


class PledgePolicy(Strict):
    due: Duration
    calendar: str = "desk"
    warn_at: float = Field(0.8, gt=0, lt=1, description="warn the owner at this share of the time")
    ladder: list[Step] = []

    _parse = field_validator("due", mode="before")(_duration)


class CategoryPolicy(Strict):
    """Per category: other deadlines, and whether a visit is always or sometimes needed."""

    due: dict[PledgeName, Duration] = {}
    visit: Literal["always", "never", "keywords"] = "never"
    visit_keywords: list[str] = []

    @field_validator("due", mode="before")
    @classmethod
    def _parse_due(cls, value: object) -> object:
        return {kind: _duration(text) for kind, text in value.items()} if isinstance(value, dict) else value


def _default_pledges() -> dict[PledgeName, PledgePolicy]:
    ladder = [Step(after=Duration(), notify="agents_group"),
              Step(after=Duration.parse("30m"), notify="supervisors"),
              Step(after=Duration.parse("2h"), notify="admins")]
    return {
        "reply": PledgePolicy(due=Duration.parse("30m"), calendar="desk", ladder=ladder),
        "visit": PledgePolicy(due=Duration.parse("2d"), calendar="field",
                              ladder=[Step(after=Duration(), notify="supervisors"),
                                      Step(after=Duration.parse("1d"), notify="admins")]),
        "callback": PledgePolicy(due=Duration.parse("3d"), calendar="desk",
                                 ladder=[Step(after=Duration(), notify="supervisors")]),
    }


def _default_business_types() -> dict[str, list[str]]:
    return {
        "烟酒商店": ["烟酒店", "烟酒行", "名烟名酒", "烟酒", "烟酒专卖店"],
        "食杂店": ["食杂", "杂货店", "小卖部", "副食店", "小卖店"],
        "便利店": ["便利", "连锁便利店"],
        "超市": ["大卖场", "商超", "超级市场"],
        "商场": ["百货", "购物中心"],
        "娱乐服务类": ["娱乐", "网吧", "KTV", "酒店宾馆", "宾馆", "酒店", "旅馆", "茶楼", "棋牌室"],
        "其他": ["其它"],
    }


class DirectoryPolicy(Strict):
    """What the directory import accepts: business types (业态) with their everyday names,
    and extra header spellings of a customer export."""

    business_types: dict[str, list[str]] = Field(
        default_factory=_default_business_types, description="canonical 业态 -> other names for it")
    header_aliases: dict[str, list[str]] = Field(
        default_factory=dict, description="field (license_no, store_name, ...) -> extra header spellings")

    @field_validator("business_types")
    @classmethod
    def _types(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        seen: dict[str, str] = {}
        for canonical, aliases in value.items():
            for name in (canonical, *aliases):
                key = business_type_key(name)
                if seen.setdefault(key, canonical) != canonical:
                    raise ValueError(f"业态别名「{name}」同时属于「{seen[key]}」和「{canonical}」")
        return value

    @field_validator("header_aliases")
    @classmethod
    def _fields(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        from bot.services.retailer_import import HEADERS

        if unknown := sorted(set(value) - set(HEADERS)):
            raise ValueError(f"unknown directory fields {unknown}: use {', '.join(HEADERS)}")
        return value

    def business_type_names(self) -> dict[str, str]:
        """Every accepted name (as `business_type_key` writes it) -> its canonical type."""
        return {business_type_key(name): canonical for canonical, aliases in self.business_types.items()
                for name in (canonical, *aliases)}


def business_type_key(text: str) -> str:
    return re.sub(r"\s", "", text).casefold()


class AppraisalPolicy(Strict):
    """The monthly appraisal (seed 000 section 一): a score out of `base` for each service staff member,
    less points for each breach charged to them, plus a bonus for satisfied retailers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: float = Field(100, gt=0)
    excellent: float = Field(90, description="a score at or above this is 优秀")
    breach_points: dict[PledgeName, float] = Field(
        default_factory=lambda: cast(dict[PledgeName, float], {"reply": 2.0, "visit": 5.0, "callback": 3.0}),
        description="points off per breach charged to the person, by pledge")
    level_points: float = Field(1, ge=0, description="points off per escalation level the breach reached beyond "
                                                      "the first")
    low_score_points: float = Field(3, ge=0, description="points off per callback score at or below 2 on a "
                                                          "ticket whose reply or visit the person kept")
    bonus_mean: float = Field(4.5, ge=1, le=5, description="a mean callback score at or above this earns the bonus")
    bonus_min_calls: int = Field(5, ge=1, description="scored callbacks needed before the bonus counts")
    bonus_points: float = Field(2, ge=0)


NoticeKind = Literal["task", "visit_task", "callback_task", "warning", "breach", "escalation", "low_score",
                     "digest"]
NOTICE_KINDS: tuple[str, ...] = NoticeKind.__args__  # type: ignore[attr-defined]
RoleName = Literal["agent", "manager", "callback", "supervisor", "admin"]  # Role's values that get notices
QQ = "qq"  # the route to QQ: privately, or the agents' or callback staff's QQ group as configured


class RobotChannel(Strict):
    """A WeCom (企业微信) or DingTalk (钉钉) group robot. The webhook URL (it carries the robot's key) and
    DingTalk's signing secret are read from the environment or `.env`, under the names given here, so
    they stay out of this file, its backups and the logs (`bot/webhooks.py` checks them at start)."""

    kind: Literal["wecom", "dingtalk"]
    url_env: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$", description="environment variable holding the webhook URL")
    secret_env: str | None = Field(None, pattern=r"^[A-Z][A-Z0-9_]*$",
                                   description="DingTalk: environment variable holding the signing secret (SEC...)")
    rate_per_minute: int = Field(20, ge=1, le=20, description="the robot's limit: at most 20 messages a minute")

    @model_validator(mode="after")
    def _secret(self) -> RobotChannel:
        if self.kind == "dingtalk" and not self.secret_env:
            raise ValueError("a DingTalk robot needs secret_env (its 加签 secret): unsigned robots are refused")
        if self.kind == "wecom" and self.secret_env:
            raise ValueError("a WeCom robot has no secret (its key is in the URL): remove secret_env")
        return self


class AlertsPolicy(Strict):
    """Where staff notices go: per kind of notice and per role, a list of channels, "qq" (as without this
    section) and the names of robot channels. A kind or role not listed goes to QQ."""

    channels: dict[str, RobotChannel] = Field(default_factory=dict)
    routes: dict[NoticeKind, dict[RoleName, list[str]]] = Field(default_factory=dict)

    @field_validator("channels")
    @classmethod
    def _names(cls, value: dict[str, RobotChannel]) -> dict[str, RobotChannel]:
        for name in value:
            if not re.match(r"^[a-z][a-z0-9_-]{0,31}$", name) or name == QQ:
                raise ValueError(f"bad channel name {name!r}: lower-case letters, digits, - and _, starting "
                                 f"with a letter, at most 32, not {QQ!r}")
        return value

    @model_validator(mode="after")
    def _known_channels(self) -> AlertsPolicy:
        for kind, by_role in self.routes.items():
            for role, names in by_role.items():
                if not names:
                    raise ValueError(f"routes.{kind}.{role} is empty: name at least one channel (\"qq\" or a robot)")
                if unknown := [name for name in names if name != QQ and name not in self.channels]:
                    raise ValueError(f"routes.{kind}.{role} names unknown channels {unknown}: define them under "
                                     f"[alerts.channels.<name>] or use \"qq\"")
        return self

    def route(self, kind: str, role: str) -> list[str]:
        """The channels a notice of this kind for people of this role goes to."""
        return self.routes.get(cast(NoticeKind, kind), {}).get(cast(RoleName, role), [QQ])


class Policies(Strict):
    calendars: dict[str, CalendarPolicy] = {
        "desk": CalendarPolicy(),
        "field": CalendarPolicy(periods=("08:30-12:00", "13:30-18:00")),
    }
    pledges: dict[PledgeName, PledgePolicy] = Field(default_factory=_default_pledges)
    categories: dict[str, CategoryPolicy] = {
        "complaint": CategoryPolicy(visit="always"),
        "terminal": CategoryPolicy(visit="keywords", visit_keywords=[
            "坏了", "开不了机", "开不开机", "黑屏", "死机", "不通电", "摔", "进水", "冒烟", "花屏"]),
    }
    apologise_in_group: bool = True
    agents_group_id: str | None = Field(None, description="QQ group of the agents, for the first escalation")
    callback_group_id: str | None = Field(
        None, description="QQ group of the callback staff; without it callback tasks go to each of them privately")
    agents_on_duty: list[int] = Field(
        default_factory=list, description="staff ids a breach of an unclaimed reply is attributed to (empty: every "
                                          "active agent)")
    sweep_seconds: float = Field(60, gt=0)
    callback_attempts: int = Field(3, ge=1, description="unreachable tries before the callback is closed")
    auto_answer_meets_reply: bool = Field(
        True, description="a knowledge-base answer keeps the reply pledge (转人工 reopens it)")
    quota_in_group: bool = Field(
        False, description="a retailer who asks for it (群里回) may get their quota in the group, not privately")
    directory: DirectoryPolicy = Field(default_factory=DirectoryPolicy)
    appraisal: AppraisalPolicy = Field(default_factory=AppraisalPolicy)
    alerts: AlertsPolicy = Field(default_factory=AlertsPolicy)
    digest_at: str = Field("08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                           description="local time of the supervisors' daily digest (yesterday's breaches, "
                                       "today's deadlines)")

    def calendar(self, kind: str, tz: ZoneInfo) -> BusinessCalendar:
        return _build(self.calendars[self.pledges[cast(PledgeName, kind)].calendar], tz)

    def deadline(self, kind: str, category: str, start: datetime, tz: ZoneInfo) -> datetime:
        name = cast(PledgeName, kind)  # a pledge kind (PledgeKind's values); another is a KeyError below
        override = self.categories.get(category, CategoryPolicy()).due.get(name)
        calendar = self.calendar(kind, tz)
        return calendar.add(start, (override or self.pledges[name].due).on(calendar))

    def needs_visit(self, category: str, text: str) -> bool:
        rule = self.categories.get(category)
        if rule is None or rule.visit == "never":
            return False
        return rule.visit == "always" or any(word in text for word in rule.visit_keywords)


@cache
def _build(policy: CalendarPolicy, tz: ZoneInfo) -> BusinessCalendar:
    return policy.build(tz)


def _merge(defaults: dict, overrides: dict) -> dict:
    merged = dict(defaults)
    for key, value in overrides.items():
        both_tables = isinstance(value, dict) and isinstance(defaults.get(key), dict)
        merged[key] = _merge(defaults[key], value) if both_tables else value
    return merged


def load_policies(path: str | None) -> Policies:
    """The defaults, with whatever the file names overriding them (tables merge, values replace)."""
    if not path:
        return Policies()
    overrides = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return Policies.model_validate(_merge(Policies().model_dump(exclude_unset=False), overrides))
