"""The reports for one month of a city-sized district: compliance, satisfaction, workload and the
appraisal for October 2026 (Asia/Shanghai, across the National Day holiday), for the whole district,
one district and one person, on SQLite or PostgreSQL. Aim (the issue's): each report under 1 s, the
appraisal's XLSX export under 5 s, memory under 300 MB.

Fills a fresh database with a month made in bulk (Core inserts in batches of 10,000, one transaction):
300 staff (200 agents, 80 account managers, 15 callback staff, 5 supervisors), 40 groups in 6
districts, 20,000 retailers, 200,000 tickets over the month's working hours (a few outside them and
on the holiday, when the clocks wait), and for each its pledges and the ledger's facts as the
services write them (`bot/services/ledger.py`):
- a reply round per ticket: about 35% met by the bot at once (`by_bot`, 0 s), 5% of those handed over
  to a person after (a second round, reason "handover"); the others kept by an agent, a few late;
- a visit round for about 25% (the retailer's account manager, 2 working days), a callback round for
  about 60% (3 days; not applicable when the retailer cannot be called), some reopened after a low
  score or "not solved" (a new reply round);
- one pause in about 20% of the rounds; about 6% of the rounds breached, with a breach row per
  person charged (`ledger.charged_to`: the owner; an unclaimed reply the 8 agents of the policy's
  `agents_on_duty`, a callback nobody took every callback staffer, an unassigned visit nobody); a few
  hundred supervisor's rulings on breaches; the callback records with scores, confirmations and
  satisfaction items; the retailers' interest in supply notices and launches.
Working time is the policy's calendars (desk 08:30-12:00 and 13:30-17:30, field until 18:00) on
chinese_calendar's days: in 2026 the holiday is 1-7 October, 8 and 9 October are working days and
Saturday 10 October is the make-up day (调休). The month is seen from 2 November 10:00, so rounds of
its last days are still running. Rows the reports do not read are not made: ticket messages and
events, visit records, the outbox.

Then each report runs in a fresh process per scope (the first run cold, then the median of 5 more),
with the process's peak RSS (VmHWM) before the report (imports and a connection) and after; the
appraisal's download the same way (the report, then its printable XLSX file, as the console makes
it). The floor in the same run: counting the rounds, one plain pass over the month's rounds (the sum
of their working time) and over the month's callbacks. The load average is printed at the start and
the end: on a shared machine, figures taken under load are not comparable.

    .venv/bin/python bench/reports_month.py                    # a temporary SQLite file
    .venv/bin/python bench/reports_month.py --recreate \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_reports

`--recreate` drops and creates the PostgreSQL database named in the URL (never `test`); `--reuse`
measures a database this script filled before without filling it again; `--history 3` adds three
months of the same size before October (a store in use for a while: the reports still read October);
`--only appraisal export` measures only those.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.db import make_engine, migrate, session_scope  # noqa: E402
from bot.models import (  # noqa: E402
    BreachCorrection,
    CallbackRecord,
    ChatGroup,
    Interest,
    Pledge,
    PledgeBreach,
    PledgePause,
    PledgeRound,
    Product,
    Retailer,
    StaffMember,
    Ticket,
    table_of,
)
from bot.policy import Policies  # noqa: E402
from bot.services.calendar import BusinessCalendar  # noqa: E402
from bot.services.reports import appraisal, compliance, exports, satisfaction, workload  # noqa: E402
from bot.services.reports.base import Period, Scope  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
YEAR, MONTH = 2026, 10
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=TZ).timestamp()  # the moment the month is seen from
BATCH = 10_000
RUNS = 5  # warm runs after the cold one
SEED = 20261031

DISTRICTS = {"芙蓉区": 10, "天心区": 7, "岳麓区": 8, "开福区": 6, "雨花区": 6, "望城区": 3}  # groups each
STAFF = {"agent": 200, "manager": 80, "callback": 15, "supervisor": 5}
ROLE_NAMES = {"agent": "客服", "manager": "客户经理", "callback": "回访员", "supervisor": "主管"}
RETAILERS, PRODUCTS, ON_DUTY = 20_000, 50, 8
CATEGORIES = {"supply": 30, "terminal": 14, "delivery": 12, "launch": 8, "marketing": 8, "training": 5,
              "monopoly": 5, "complaint": 5, "other": 13}
VISIT_SHARE = {"complaint": 1.0, "terminal": 0.75, "delivery": 0.45, "supply": 0.3, "other": 0.35,
               "marketing": 0.3, "launch": 0.25, "training": 0.3, "monopoly": 0.4}
# what retailers ask, by category: each topic is a knowledge-base entry asked in a few ways
TOPICS = {
    "supply": ["本周{}能订几条", "{}什么时候有货", "{}的货源怎么分配的", "{}这周投放多少", "我这个档位{}能订多少"],
    "terminal": ["终端{}", "扫码枪{}", "POS机{}", "收银系统{}"],
    "delivery": ["送货{}", "这周{}", "配送{}"],
    "launch": ["新品{}", "{}新品什么时候上市", "{}的新品怎么订"],
    "marketing": ["{}活动怎么参加", "{}的陈列奖励什么时候发", "{}积分怎么兑换"],
    "training": ["{}培训是哪天", "{}培训在哪里", "{}培训要带什么"],
    "monopoly": ["许可证{}", "{}需要什么材料", "{}要多久办下来"],
    "complaint": ["{}投诉", "对{}不满意"],
    "other": ["{}怎么联系", "{}电话多少", "{}在哪里"],
}
FILLS = {
    "supply": ["中华(软)", "芙蓉王(硬)", "黄鹤楼(软蓝)", "利群(新版)", "玉溪(软)", "白沙(精品)", "云烟(紫)",
               "南京(炫赫门)", "苏烟(五星红杉树)", "贵烟(跨越)", "芙蓉王(蓝)", "白沙(和天下)", "钻石(荷花)",
               "真龙(起源)", "红塔山(经典)", "娇子(宽窄)"],
    "terminal": ["开不了机", "黑屏了", "扫不出来", "连不上网", "死机了", "打印不出小票", "花屏", "不通电", "进水了"],
    "delivery": ["少送了两条", "送晚了", "什么时候到", "送错了品规", "能不能改时间", "包装破了", "没收到短信",
                 "多送了一条"],
    "launch": ["到了没有", "价格多少", "芙蓉王", "白沙", "黄鹤楼"],
    "marketing": ["国庆", "月度", "金秋", "会员", "重阳", "双十一"],
    "training": ["新零售", "月度", "终端使用", "消防安全", "陈列", "数据分析"],
    "monopoly": ["快到期了怎么延续", "变更地址", "换证", "补办", "注销", "变更经营者", "新办"],
    "complaint": ["送货员态度", "客户经理", "配送延误"],
    "other": ["客户经理", "营销部", "物流中心", "专卖所", "客服中心", "财务"],
}
COMMENTS = ["送货员态度很好", "希望多投放一些紧俏烟", "回复很及时", "客户经理上门很快", "终端还是有点卡",
            "希望配送时间固定一点", "满意", "处理得不错", "等了很久才有人回", "问题还没完全解决",
            "新品宣传资料不够", "希望培训多安排在下午"]


# -- working time as a number line ---------------------------------------------------------------

class WorkTime:
    """One calendar's working time from `first` to `last` as a number line: `at` is the working
    seconds before a moment, `moment` the moment a number of working seconds is reached (what
    `BusinessCalendar.add` does), so the fill works out a million deadlines in a few seconds."""

    def __init__(self, calendar: BusinessCalendar, first: date, last: date) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.before: list[float] = []  # working seconds before each span
        total, day = 0.0, first
        while day <= last:
            if calendar.is_workday(day):
                for start, end in calendar.periods:
                    begin, finish = (datetime.combine(day, start, TZ).timestamp(),
                                     datetime.combine(day, end, TZ).timestamp())
                    self.starts.append(begin)
                    self.ends.append(finish)
                    self.before.append(total)
                    total += finish - begin
            day += timedelta(days=1)
        self.through = [b + (e - s) for b, s, e in zip(self.before, self.starts, self.ends, strict=True)]
        self.day_seconds = calendar.day_length.total_seconds()

    def at(self, moment: float) -> float:
        span = bisect.bisect_right(self.starts, moment) - 1
        if span < 0:
            return 0.0
        return self.before[span] + min(moment, self.ends[span]) - self.starts[span]

    def moment(self, worked: float) -> float:
        span = bisect.bisect_left(self.through, worked)
        return self.starts[span] + (worked - self.before[span])

    def working(self, moment: float) -> bool:
        span = bisect.bisect_right(self.starts, moment) - 1
        return span >= 0 and moment < self.ends[span]


def _check_worktime(line: WorkTime, calendar: BusinessCalendar, rng: random.Random) -> None:
    """The number line agrees with the service's calendar (to the second)."""
    for _ in range(200):
        start = datetime(2026, 10, 1, tzinfo=TZ) + timedelta(minutes=rng.randrange(31 * 24 * 60))
        worked = timedelta(minutes=rng.randrange(1, 3 * 8 * 60))
        expected = calendar.add(start, worked).timestamp()
        assert abs(line.moment(line.at(start.timestamp()) + worked.total_seconds()) - expected) < 1, start
        end = start + timedelta(hours=rng.randrange(1, 100))
        assert abs(line.at(end.timestamp()) - line.at(start.timestamp())
                   - calendar.elapsed(start, end).total_seconds()) < 1


# -- the month --------------------------------------------------------------------------------

def _utc(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


class Month:
    """Builds the month's rows ticket by ticket, in the order the services would write them."""

    def __init__(self, tickets: int, rng: random.Random, policies: Policies, history: int = 0) -> None:
        """`tickets` a month, for the month measured and `history` months before it."""
        self.rng, self.tickets = rng, tickets * (1 + history)
        self.months = [date(YEAR, MONTH - n, 1) for n in range(history, -1, -1)]
        first, last = self.months[0], date(YEAR, 12, 31)
        self.desk = WorkTime(policies.calendar("reply", TZ), first, last)
        self.field = WorkTime(policies.calendar("visit", TZ), first, last)
        _check_worktime(self.desk, policies.calendar("reply", TZ), rng)
        _check_worktime(self.field, policies.calendar("visit", TZ), rng)
        self.due = {kind: policies.pledges[kind].due.on(policies.calendar(kind, TZ)).total_seconds()
                    for kind in ("reply", "visit", "callback")}
        self.warn = {kind: policies.pledges[kind].warn_at for kind in ("reply", "visit", "callback")}
        self.ladder = {kind: [step.after.on(policies.calendar(kind, TZ)).total_seconds()
                              for step in policies.pledges[kind].ladder] for kind in ("reply", "visit", "callback")}
        self.ids = dict.fromkeys(("pledge", "round", "pause", "breach", "callback"), 0)
        self._people()
        for month in self.months:
            self._arrivals(month, tickets)
        self._questions()

    # the fixed part: people, groups, shops, products

    def _people(self) -> None:
        rng, now = self.rng, _utc(NOW - 200 * 86400)
        self.staff_rows: list[dict] = []
        self.by_role: dict[str, list[int]] = {}
        for role, count in STAFF.items():
            for n in range(count):
                staff_id = len(self.staff_rows) + 1
                self.by_role.setdefault(role, []).append(staff_id)
                self.staff_rows.append({
                    "id": staff_id, "name": f"{ROLE_NAMES[role]}{n + 1:03d}",
                    "work_no": f"W{staff_id:04d}", "roles": [role], "chat_user_id": str(70_000 + staff_id),
                    "token_hash": None, "active": True, "created_at": now})
        names = list(DISTRICTS)
        self.district_agents = {d: self.by_role["agent"][i::len(names)] for i, d in enumerate(names)}
        self.on_duty = self.by_role["agent"][-ON_DUTY:]  # policy `agents_on_duty`
        self.district_managers = {d: self.by_role["manager"][i::len(names)] for i, d in enumerate(names)}
        self.group_rows, self.groups_of = [], {}
        for district, count in DISTRICTS.items():
            for n in range(count):
                group_id = len(self.group_rows) + 1
                self.groups_of.setdefault(district, []).append(group_id)
                self.group_rows.append({"id": group_id, "platform": "qq", "group_id": str(810_000 + group_id),
                                        "name": f"{district}零售户{n + 1}群", "district": district,
                                        "bot_id": str(20_000 + group_id % 4), "active": True, "created_at": now})
        self.district_of_group = {g["id"]: g["district"] for g in self.group_rows}
        weights = [DISTRICTS[d] for d in names]
        self.retailer_rows = []
        for n in range(RETAILERS):
            district = rng.choices(names, weights)[0]
            self.retailer_rows.append({
                "id": n + 1, "license_no": f"4301{n + 1:08d}", "customer_code": f"C{n + 1:07d}",
                "store_name": f"{district}便民店{n + 1}", "owner_name": f"店主{n + 1}",
                "phone": None if rng.random() < 0.07 else f"139{n + 1:08d}", "address": f"{district}某路{n % 300}号",
                "district": district, "grade": rng.randint(1, 30), "business_type": "便利店",
                "manager_id": rng.choice(self.district_managers[district]), "ordering_day": "周一",
                "delivery_day": "周三", "visit_cycle": "每月", "active": True, "created_at": now,
                "updated_at": now, "group": rng.choice(self.groups_of[district])})
        # some shops ask far more than others
        self.retailer_weights = list(_cumulative(rng.paretovariate(1.6) for _ in range(RETAILERS)))
        self.product_rows = [{"id": n + 1, "name": f"品规{n + 1:02d}", "brand": f"品牌{n % 12 + 1}", "spec": "硬盒",
                              "aliases": [], "wholesale_price": None, "retail_price": None, "price_class": "A",
                              "manufacturer": None, "created_at": now} for n in range(PRODUCTS)]

    def _arrivals(self, month: date, tickets: int) -> None:
        """Where in the month tickets arrive: working hours on working days mostly; evenings, the
        weekends and the holiday much less."""
        moments, weights = [], []
        day = month
        while day.month == month.month:
            for hour in range(7, 22):
                start = datetime.combine(day, clock_time(hour), TZ).timestamp()
                working = self.desk.working(start + 1800)
                workday = any(self.desk.working(datetime.combine(day, clock_time(h, 30), TZ).timestamp())
                              for h in (9, 15))
                moments.append(start)
                weights.append(10.0 if working else 1.2 if workday else 0.6)
            day += timedelta(days=1)
        self.hours, self.hour_weights = moments, list(_cumulative(weights))
        # ids grow with time, as when the tickets came in one by one (and so do the rows' places on disk)
        self.opened = getattr(self, "opened", []) + sorted(
            hour + self.rng.random() * 3600
            for hour in self.rng.choices(self.hours, cum_weights=self.hour_weights, k=tickets))

    def _questions(self) -> None:
        """About 60 knowledge-base entries and a few hundred ways to ask, Zipf-like."""
        self.questions: dict[str, list[tuple[str, str | None]]] = {}
        self.question_weights: dict[str, list[float]] = {}
        for category, templates in TOPICS.items():
            asked = []
            for n, fill in enumerate(FILLS[category]):
                entry = f"{category}-{n + 1:03d}" if category != "complaint" else None
                for template in templates:
                    asked.append((template.format(fill), entry))
            self.rng.shuffle(asked)
            self.questions[category] = asked
            self.question_weights[category] = list(_cumulative(1 / (rank + 1) ** 0.9 for rank in range(len(asked))))
        self.category_names = list(CATEGORIES)
        self.category_weights = list(_cumulative(CATEGORIES.values()))

    # the month, ticket by ticket

    def chunks(self) -> Iterable[dict[str, list[dict]]]:
        rows: dict[str, list[dict]] = {}
        for ticket_id in range(1, self.tickets + 1):
            self._ticket(ticket_id, rows)
            if ticket_id % BATCH == 0 or ticket_id == self.tickets:
                yield rows
                rows = {}

    def _next(self, name: str) -> int:
        self.ids[name] += 1
        return self.ids[name]

    def _ticket(self, ticket_id: int, rows: dict[str, list[dict]]) -> None:
        rng = self.rng
        opened = self.opened[ticket_id - 1]
        category = rng.choices(self.category_names, cum_weights=self.category_weights)[0]
        question, entry = rng.choices(self.questions[category], cum_weights=self.question_weights[category])[0]
        retailer = None if rng.random() < 0.12 else self.retailer_rows[
            bisect.bisect_left(self.retailer_weights, rng.random() * self.retailer_weights[-1])]
        if retailer is None:
            group: int | None = rng.randrange(1, len(self.group_rows) + 1)
        else:
            group = None if rng.random() < 0.08 else retailer["group"]
        district = self.district_of_group[group] if group is not None else retailer["district"]
        ticket = {"id": ticket_id, "platform": "qq", "chat_group_id": group,
                  "retailer_id": retailer["id"] if retailer else None, "sender_user_id": str(3_000_000 + ticket_id),
                  "sender_name": f"零售户{ticket_id % 5000}", "category": category, "status": "closed",
                  "trading_flag": False, "knowledge_entry_id": None, "text": question, "latest_text": question,
                  "created_at": _utc(opened), "updated_at": None, "last_message_at": _utc(opened), "closed_at": None}
        rows.setdefault("ticket", []).append(ticket)
        where = {"ticket_id": ticket_id, "category": category, "chat_group_id": group, "district": district}
        last = opened
        agents = self.district_agents[district]

        # the reply: the bot's answer, or an agent's
        reply_pledge = self._next("pledge")
        by_bot = entry is not None and rng.random() < 0.37
        if by_bot:
            ticket["knowledge_entry_id"] = entry
            replied = self._round(rows, where, reply_pledge, 1, "reply", "opened", opened, owner=None, by_bot=True)
            rounds = [replied]
            if rng.random() < 0.05:  # 转人工 after the answer
                rounds.append(self._human_reply(rows, where, reply_pledge, 2, "handover",
                                                opened + rng.uniform(30, 1800), agents))
        else:
            rounds = [self._human_reply(rows, where, reply_pledge, 1, "opened", opened, agents)]
        replied = rounds[-1]
        again = replied["_end"] + rng.uniform(600, 86400) if replied["_end"] else NOW
        if not replied["by_bot"] and replied["outcome"] == "met" and again < NOW and rng.random() < 0.02:
            rounds.append(self._human_reply(rows, where, reply_pledge, len(rounds) + 1, "not solved", again,
                                            agents, owner=replied["met_by_staff_id"]))  # 没解决
        replied = rounds[-1]
        ticket["status"] = "answered" if replied["by_bot"] else "closed"

        # the visit, ordered by the agent who replied
        visit = None
        ordered = replied["_end"] + rng.uniform(0, 600) if replied["_end"] else NOW
        if (not replied["by_bot"] and replied["outcome"] == "met" and ordered < NOW
                and rng.random() < VISIT_SHARE[category] * 0.92):
            manager = retailer["manager_id"] if retailer else None
            visit = self._round(rows, where, self._next("pledge"), 1, "visit", "visit needed", ordered,
                                owner=manager, not_applicable=retailer is None)
            rows.setdefault("pledge", []).append(self._pledge(visit, "manager"))
        # the callback, once the reply (and the visit) are kept
        callback = None
        if (not replied["by_bot"] and replied["outcome"] == "met"
                and (visit is None or visit["outcome"] in ("met", "not_applicable"))):
            begun = max(replied["_end"], visit["_end"] if visit else 0) + rng.uniform(60, 3600)
            if begun < NOW:
                cannot = retailer is None or retailer["phone"] is None
                owner = rng.choice(self.by_role["callback"]) if rng.random() < 0.7 else None
                callback = self._round(rows, where, self._next("pledge"), 1, "callback", "callback due", begun,
                                       owner=owner, not_applicable=cannot, caller=True)
                rows.setdefault("pledge", []).append(self._pledge(callback, "callback"))
                score = self._calls(rows, callback, replied, visit, category)
                if score is not None and score <= 2 and callback["_end"] + 1 < NOW:  # a low score reopens it
                    rounds.append(self._human_reply(rows, where, reply_pledge, len(rounds) + 1, "low satisfaction",
                                                    callback["_end"] + 1, agents, owner=replied["met_by_staff_id"]))
        rows.setdefault("pledge", []).append(self._pledge(rounds[-1], "agent"))
        for round_ in [*rounds, visit, callback]:
            if round_ is None:
                continue
            if round_["outcome"] == "running":
                ticket["status"] = "open" if round_["kind"] == "reply" else "replied"
            last = max(last, round_["_end"] or round_["_start"])
        ticket["updated_at"] = _utc(last)
        if ticket["status"] == "closed":
            ticket["closed_at"] = _utc(last)

    def _human_reply(self, rows: dict, where: dict, pledge_id: int, number: int, reason: str, start: float,
                     agents: list[int], owner: int | None = None) -> dict:
        if owner is None and self.rng.random() < 0.85:
            owner = self.rng.choice(agents)
        return self._round(rows, where, pledge_id, number, "reply", reason, start, owner=owner, agents=agents)

    def _round(self, rows: dict, where: dict, pledge_id: int, number: int, kind: str, reason: str, start: float, *,
               owner: int | None, by_bot: bool = False, agents: list[int] | None = None,
               not_applicable: bool = False, caller: bool = False) -> dict:
        """One run of a clock, from its start to now: met (in time or late), breached, cancelled,
        not applicable, or still running; with a pause now and then."""
        rng, line = self.rng, (self.field if kind == "visit" else self.desk)
        due = self.due[kind]
        began = line.at(start)
        round_id = self._next("round")
        row = {"id": round_id, "pledge_id": pledge_id, "round_no": number, "kind": kind, "reason": reason,
               **where, "owner_staff_id": owner, "started_at": _utc(start), "warned_at": None, "breached_at": None,
               "escalation_level": 0, "ended_at": None, "outcome": "met", "outcome_reason": None,
               "met_by_staff_id": None, "by_bot": by_bot, "business_seconds": None, "paused_seconds": 0.0,
               "_start": start, "_end": None, "_warn": None}
        rows.setdefault("round", []).append(row)
        if by_bot:
            row.update(due_at=_utc(line.moment(began + due)), ended_at=_utc(start), business_seconds=0.0, _end=start)
            return row
        if not_applicable:  # no shop to visit, no phone to call: stopped at once
            row.update(due_at=_utc(line.moment(began + due)), ended_at=_utc(start), business_seconds=0.0,
                       outcome="not_applicable", outcome_reason="没有电话" if caller else "未识别店铺", _end=start)
            return row
        # working time the clock ran, drawn around a typical share of the deadline
        typical = {"reply": 0.35, "visit": 0.45, "callback": 0.4}[kind]
        spread = {"reply": 0.85, "visit": 0.7, "callback": 0.6}[kind]
        ran = due * typical * math.exp(rng.gauss(0, spread))
        cancelled = rng.random() < 0.02
        unreachable = caller and rng.random() < 0.02
        if cancelled or unreachable:
            ran = min(ran, due * rng.uniform(0.1, 0.95))
        paused = rng.uniform(600, 0.6 * due) if rng.random() < 0.27 else 0.0
        pause_at = began + rng.uniform(0.1, 0.9) * min(ran, due * self.warn[kind])
        deadline = began + due + paused
        ended = began + ran + paused
        end_moment = line.moment(ended)
        running = end_moment > NOW
        row["due_at"] = _utc(line.moment(deadline))
        row["_warn"] = _utc(line.moment(began + due * self.warn[kind] + paused))
        if paused:
            resumed = line.moment(pause_at + paused)
            self.ids["pause"] += 1
            rows.setdefault("pause", []).append({
                "id": self.ids["pause"], "round_id": round_id, "ticket_id": where["ticket_id"],
                "paused_at": _utc(line.moment(pause_at)), "paused_by_staff_id": owner,
                "reason": "等零售户提供照片" if kind != "callback" else "零售户约了改天再打",
                "resumed_at": _utc(resumed) if resumed <= NOW else None, "resumed_by_staff_id": owner,
                "resume_reason": None, "business_seconds": paused if resumed <= NOW else None})
            if resumed <= NOW:
                row["paused_seconds"] = paused
        worked_until = line.at(NOW) if running else ended
        if worked_until - paused - began >= due * self.warn[kind]:
            row["warned_at"] = row["_warn"]
        overdue = worked_until - deadline
        if overdue > 0:
            breached = line.moment(deadline) + rng.uniform(1, 60)  # the sweep's next pass
            row["breached_at"] = _utc(breached)
            row["escalation_level"] = sum(1 for after in self.ladder[kind] if overdue >= after)
            # `ledger.charged_to`: the owner; nobody's reply: the agents on duty; nobody's callback: every
            # callback staffer; nobody's visit: nobody
            charged: list[int | None] = [owner]
            if owner is None and kind == "reply":
                charged = list(self.on_duty)
            elif owner is None and kind == "callback":
                charged = list(self.by_role["callback"])
            for staff_id in dict.fromkeys(charged):
                self.ids["breach"] += 1
                rows.setdefault("breach", []).append({
                    "id": self.ids["breach"], "round_id": round_id, "ticket_id": where["ticket_id"], "kind": kind,
                    "staff_id": staff_id, "due_at": row["due_at"], "breached_at": _utc(breached)})
        if running:
            row["outcome"] = "running"
            return row
        if cancelled:
            row["outcome"], row["outcome_reason"] = "cancelled", "工作人员关闭了工单"
        elif unreachable:
            row["outcome"], row["outcome_reason"] = "not_applicable", "三次未接通"
            if owner is None:  # the first caller takes it
                row["owner_staff_id"] = rng.choice(self.by_role["callback"])
        else:
            if owner is None and kind == "reply":  # whoever replied took it
                owner = row["owner_staff_id"] = rng.choice(agents or [1])
            if owner is None and kind == "callback":  # the first caller takes it
                owner = row["owner_staff_id"] = rng.choice(self.by_role["callback"])
            row["met_by_staff_id"] = owner
        row.update(ended_at=_utc(end_moment), business_seconds=ran, _end=end_moment)
        return row

    def _pledge(self, round_: dict, owner_role: str) -> dict:
        """A pledge row holds its latest round's clock."""
        state = {"running": "pending"}.get(round_["outcome"], round_["outcome"])
        return {"id": round_["pledge_id"], "ticket_id": round_["ticket_id"], "kind": round_["kind"],
                "owner_role": owner_role, "owner_staff_id": round_["owner_staff_id"], "state": state,
                "state_reason": round_["outcome_reason"], "due_at": round_["due_at"],
                "met_at": round_["ended_at"] if state == "met" else None, "met_by_staff_id": round_["met_by_staff_id"],
                "created_at": round_["started_at"], "started_at": round_["started_at"],
                "warn_at": round_["_warn"], "warned_at": round_["warned_at"], "breached_at": round_["breached_at"],
                "escalation_level": round_["escalation_level"],
                "next_check_at": round_["due_at"] if state == "pending" else None, "paused_at": None,
                "remaining_seconds": None}

    def _calls(self, rows: dict, callback: dict, replied: dict, visit: dict | None, category: str) -> int | None:
        """The calls of a callback round: unreachable tries, then the call that kept it, with a score."""
        rng = self.rng
        if callback["outcome"] not in ("met", "not_applicable") or callback["business_seconds"] == 0.0:
            return None
        caller = callback["owner_staff_id"]
        tries = 3 if callback["outcome"] == "not_applicable" else (1 if rng.random() < 0.1 else 0)
        asked = {"ticket_id": callback["ticket_id"], "staff_id": caller, "reply_round_id": replied["id"],
                 "visit_round_id": visit["id"] if visit else None,
                 # what the call asked about, as pledges.record_callback copies it from the rounds
                 "reply_staff_id": replied["met_by_staff_id"], "visit_staff_id": visit["met_by_staff_id"] if visit
                 else None, "reply_kept_in_time": replied["outcome"] == "met" and replied["breached_at"] is None,
                 "visit_kept": visit["outcome"] == "met" if visit else None,
                 "chat_group_id": replied["chat_group_id"], "district": replied["district"]}
        for n in range(tries):
            moment = callback["_start"] + (callback["_end"] - callback["_start"]) * (n + 1) / (tries + 2)
            rows.setdefault("callback", []).append({
                "id": self._next("callback"), **asked, "reached": False, "score": None, "reply_in_time": None,
                "visit_happened": None, "supply_satisfaction": None, "manager_satisfaction": None,
                "handling_satisfaction": None, "comment": None, "recorded_at": _utc(moment)})
        if callback["outcome"] != "met":
            return None
        score = rng.choices((5, 4, 3, 2, 1), (60, 28, 8.5, 2.3, 1.2))[0]
        in_time = replied["breached_at"] is None
        if rng.random() < 0.05:
            in_time = not in_time  # the retailer remembers it otherwise
        answer = ("satisfied", "fair", "dissatisfied")
        mood = (80, 15, 5) if score >= 4 else (30, 40, 30)
        rows.setdefault("callback", []).append({
            "id": self._next("callback"), **asked, "reached": True, "score": score,
            "reply_in_time": in_time if rng.random() < 0.85 else None,
            "visit_happened": (visit["outcome"] == "met") ^ (rng.random() < 0.03) if visit else None,
            "supply_satisfaction": rng.choices(answer, mood)[0] if category == "supply" else "not_involved",
            "manager_satisfaction": rng.choices(answer, mood)[0] if visit else None,
            "handling_satisfaction": rng.choices(answer, mood)[0],
            "comment": rng.choice(COMMENTS) if rng.random() < 0.1 or score <= 2 else None,
            "recorded_at": _utc(callback["_end"])})
        return score

    def interest(self, groups: int) -> list[dict]:
        rng = self.rng
        return [{"subject": subject, "subject_id": rng.randint(1, 8 if subject == "supply" else 4),
                 "product_id": rng.randint(1, PRODUCTS) if rng.random() < 0.8 else None,
                 "kind": rng.choice(("asked", "want", "want", "not_interested")),
                 "chat_group_id": rng.randint(1, groups), "platform": "qq", "chat_user_id": str(3_500_000 + n),
                 "retailer_id": rng.randint(1, RETAILERS),
                 "created_at": _utc(rng.choices(self.hours, cum_weights=self.hour_weights)[0] + rng.random() * 3600)}
                for n, subject in enumerate(rng.choices(("supply", "launch"), (3, 1), k=6000))]

    def corrections(self) -> list[dict]:
        """A supervisor's rulings on a few hundred breaches; some ruled on twice (the latest counts)."""
        rng, rows = self.rng, []
        picked = rng.sample(range(1, self.ids["breach"] + 1), min(400, self.ids["breach"]))
        supervisors = self.by_role["supervisor"]
        for n, breach_id in enumerate(picked):
            at = NOW - rng.uniform(3600, 20 * 86400)
            rows.append({"breach_id": breach_id, "excused": True, "reason": "系统故障期间，不计入考评",
                         "by_staff_id": rng.choice(supervisors), "at": _utc(at)})
            if n % 5 == 0:
                rows.append({"breach_id": breach_id, "excused": False, "reason": "复核后仍计入",
                             "by_staff_id": rng.choice(supervisors), "at": _utc(at + 3600)})
        return rows


def _cumulative(values: Iterable[float]) -> Iterable[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


# -- filling ----------------------------------------------------------------------------------

TABLES = {"ticket": Ticket, "pledge": Pledge, "round": PledgeRound, "pause": PledgePause, "breach": PledgeBreach,
          "callback": CallbackRecord}


def _insert(db, model: type, rows: list[dict]) -> None:
    table = table_of(model)
    names = set(table.c.keys())
    for start in range(0, len(rows), BATCH):
        db.execute(insert(table), [{k: v for k, v in row.items() if k in names} for row in rows[start:start + BATCH]])


def fill(engine: Engine, tickets: int, history: int) -> dict:
    """The month (and `history` months before it), in one transaction; returns how many rows of each kind."""
    rng = random.Random(SEED)
    month = Month(tickets, rng, Policies(), history)
    counts: dict[str, int] = {}
    with engine.begin() as db:
        _insert(db, StaffMember, month.staff_rows)
        _insert(db, ChatGroup, month.group_rows)
        _insert(db, Retailer, month.retailer_rows)
        _insert(db, Product, month.product_rows)
        for rows in month.chunks():
            for name in ("ticket", "pledge", "round", "pause", "breach", "callback"):
                _insert(db, TABLES[name], rows.get(name, []))
                counts[name] = counts.get(name, 0) + len(rows.get(name, []))
        corrections, interest = month.corrections(), month.interest(len(month.group_rows))
        _insert(db, BreachCorrection, corrections)
        _insert(db, Interest, interest)
        counts.update(correction=len(corrections), interest=len(interest), staff=len(month.staff_rows),
                      retailer=len(month.retailer_rows))
        if db.dialect.name == "postgresql":  # the ids were given: each sequence starts after them
            for model in (StaffMember, ChatGroup, Retailer, Product, *TABLES.values()):
                name = table_of(model).name
                db.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                f"(SELECT coalesce(max(id), 1) FROM {name}))"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
            db.execute(text("VACUUM ANALYZE"))  # what autovacuum would have done over the month
    return counts


def recreate_postgres(url: str) -> None:
    parsed = make_url(url)
    if parsed.database in (None, "", "test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to drop the database {parsed.database!r}: name one for this benchmark")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        db.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


# -- measuring --------------------------------------------------------------------------------

PERIOD = Period.month(YEAR, MONTH)
DISTRICT, PERSON = "芙蓉区", 1  # the largest district; an agent
SCOPES = {"all": Scope(), "district": Scope(district=DISTRICT), "person": Scope(staff_id=PERSON)}


def _reports() -> dict[str, Callable]:
    policies = Policies()
    return {
        "compliance": lambda session, scope: compliance.report(session, PERIOD, scope, TZ),
        "satisfaction": lambda session, scope: satisfaction.report(session, PERIOD, scope, TZ),
        "workload": lambda session, scope: workload.report(session, PERIOD, scope, TZ,
                                                           policies.calendar("reply", TZ).is_workday),
        "appraisal": lambda session, scope: appraisal.report(session, PERIOD, scope, TZ, policies.appraisal),
    }


def _export() -> Callable:
    """The appraisal as the console's download makes it: the report, then its printable XLSX file."""
    policies = Policies()

    def run(session, scope: Scope) -> None:
        result = appraisal.report(session, PERIOD, scope, TZ, policies.appraisal)
        with exports.write_file(exports.document("appraisal", result, printable=True), "xlsx") as out:
            out.read()

    return run


def _rss_mb() -> float:
    """This process's peak RSS. Linux keeps `ru_maxrss` across fork and exec (a child started by
    the filled parent would report the parent's peak), so the kernel's VmHWM, which a new program
    starts afresh, is read where there is one."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # kB on Linux


def child(url: str, what: str, scope_name: str) -> None:
    """In a fresh process: one report (or the export), cold then warm; prints one JSON line."""
    engine = make_engine(url)
    with engine.connect() as db:
        db.execute(text("SELECT 1"))
    run = _export() if what == "export" else _reports()[what]
    base = _rss_mb()
    times = []
    for _ in range(1 + RUNS):
        with session_scope(engine) as session:
            start = time.perf_counter()
            run(session, SCOPES[scope_name])
            times.append(time.perf_counter() - start)
    print(json.dumps({"cold_ms": round(1000 * times[0]), "median_ms": round(1000 * statistics.median(times[1:])),
                      "rss_mb": _rss_mb(), "rss_before_mb": base}))


def measure(url: str, what: str, scope_name: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--database-url", url, "--child", what, scope_name],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{what} ({scope_name}) failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def floor(engine: Engine) -> dict:
    start, end = PERIOD.bounds(TZ)
    params = {"start": start.astimezone(UTC).replace(tzinfo=None), "end": end.astimezone(UTC).replace(tzinfo=None)}
    queries = {
        "count_rounds": "SELECT count(*) FROM pledge_round",
        "sum_month_rounds": "SELECT sum(business_seconds) FROM pledge_round WHERE started_at >= :start "
                            "AND started_at < :end",
        "sum_month_calls": "SELECT sum(score) FROM callback_record WHERE recorded_at >= :start AND recorded_at < :end",
    }
    found = {}
    with engine.connect() as db:
        for name, sql in queries.items():
            times = []
            for _ in range(1 + RUNS):
                begin = time.perf_counter()
                db.execute(text(sql), params).all()
                times.append(time.perf_counter() - begin)
            found[name] = {"cold_ms": round(1000 * times[0], 1),
                           "median_ms": round(1000 * statistics.median(times[1:]), 1)}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument("--tickets", type=int, default=200_000, help="tickets a month")
    parser.add_argument("--history", type=int, default=0, choices=range(10),
                        help="months of the same size before October (a store in use for a while)")
    parser.add_argument("--recreate", action="store_true", help="drop and create the PostgreSQL database first")
    parser.add_argument("--reuse", action="store_true", help="measure a database this script filled before")
    parser.add_argument("--only", nargs="+", choices=[*_reports(), "export"], help="measure only these")
    parser.add_argument("--child", nargs=2, metavar=("REPORT", "SCOPE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.database_url, *args.child)
        return
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'reports.db'}"
        if args.recreate:
            if not url.startswith("postgresql"):
                raise SystemExit("--recreate is for PostgreSQL; the default SQLite file is always new")
            recreate_postgres(url)
        engine = make_engine(url)
        results: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                         "load_average_at_start": os.getloadavg()[0], "database": engine.dialect.name,
                         "period": PERIOD.label, "tickets": args.tickets, "months_before": args.history}
        started = time.perf_counter()
        migrate(engine)
        with engine.connect() as db:
            filled = db.execute(text("SELECT count(*) FROM ticket")).scalar_one()
        if args.reuse and filled:
            results["rows"] = "reused"
        elif filled:
            raise SystemExit("the database already holds tickets: give --recreate (PostgreSQL) or --reuse")
        else:
            results["rows"] = fill(engine, args.tickets, args.history)
            results["fill_s"] = round(time.perf_counter() - started, 1)
            print(json.dumps(results, ensure_ascii=False), file=sys.stderr, flush=True)
        results["floor"] = floor(engine)
        engine.dispose()
        measured: dict = {}
        for what in args.only or [*_reports(), "export"]:
            for scope_name in (["all"] if what == "export" else SCOPES):
                measured[f"{what} {scope_name}"] = measure(url, what, scope_name)
                print(what, scope_name, measured[f"{what} {scope_name}"], file=sys.stderr, flush=True)
        results["reports"] = measured
        results["load_average_at_end"] = os.getloadavg()[0]  # the machine may be shared: compare with 2 cores
        results["aim"] = "each report < 1000 ms, appraisal XLSX < 5000 ms, RSS < 300 MB"
    print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
