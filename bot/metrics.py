"""Prometheus metrics, served at /metrics (api/metrics.py).

Two kinds, kept apart on purpose:

- What the store holds (tickets by category, automatic answers, pledge warnings and breaches, outbox depth,
  oldest age and dead letters) is read from the database at scrape time with a few aggregate queries, so every
  instance sharing a database reports the same numbers and nothing is counted on the chat intake path.
- What only this process knows (messages it sent per bot account, bots connected to it, its sweep's duration,
  its HTTP latency) is labelled `worker` (this process's `settings.worker`, `host:instance`). Not `instance`:
  Prometheus sets that label itself on every scraped series.

The per-process instruments are module-level and cost an in-memory increment; `registry()` gathers them with the
store's numbers for one app.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from bot.models import Category, Lane, PledgeBreach, PledgeKind, PledgeRound, Ticket
from bot.services import outbox

if TYPE_CHECKING:
    from bot.webhooks import WebhookTransport

PREFIX = "retailer_bot"
log = logging.getLogger(__name__)

_worker = ""  # this process's settings.worker, set when the API is installed


def set_worker(name: str) -> None:
    global _worker
    _worker = name


def worker() -> str:
    return _worker


SENDS = Counter(f"{PREFIX}_sends", "Platform messages this process sent, per bot account "
                "(a combined acknowledgement counts once).", ["worker", "bot_id"], registry=None)
SWEEP_SECONDS = Histogram(f"{PREFIX}_sweep_seconds", "How long one pledge sweep took on this process "
                          "(scheduled broadcasts, warnings, breaches, escalations).", ["worker"], registry=None,
                          buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
HTTP_SECONDS = Histogram(f"{PREFIX}_http_request_seconds", "HTTP requests served by this process: seconds "
                         "until the answer's headers were sent (an event stream counts until it opened).",
                         ["worker", "method", "route", "status"], registry=None,
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

_send_counters: dict[str, Counter] = {}


def sent(bot_id: str) -> None:
    """One platform message went out through this bot account (the sender's loop: a dict lookup and an add)."""
    counter = _send_counters.get(bot_id)
    if counter is None:
        counter = _send_counters[bot_id] = SENDS.labels(_worker, bot_id)
    counter.inc()


@contextmanager
def sweep_timer() -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        SWEEP_SECONDS.labels(_worker).observe(time.perf_counter() - started)


def _lane_name(lane: int) -> str:
    try:
        return Lane(lane).name.lower()
    except ValueError:
        return str(lane)


class StoreCollector(Collector):
    """The database's numbers, read at scrape time; `retailer_bot_store_up` 0 (and nothing else from the store)
    while it cannot be read, so the per-process metrics still come through."""

    def __init__(self, engine: Engine, now: Callable[[], datetime]) -> None:
        self._engine, self._now = engine, now

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(f"{PREFIX}_store_up", "1 when this scrape could read the database.")
        try:  # once, not retried: a scrape must not hang while the database is away
            with Session(self._engine) as session:
                found = read_store(session, self._now())
        except Exception:
            log.warning("metrics: cannot read the store", exc_info=True)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *found]


def read_store(session: Session, now: datetime) -> list[Metric]:
    """Five aggregate queries: tickets and automatic answers by category, pledge rounds warned and breached by
    kind, and the outbox's queues (`outbox.queues`, on its status index). Tickets by category read their
    index alone; the automatic answers and the warnings scan their table (about 0.1 s per 100,000 rows on
    SQLite): no index was added for them, as one on `ticket` would cost every incoming message."""
    opened = CounterMetricFamily(f"{PREFIX}_tickets_opened", "Tickets opened, by category (as stored now).",
                                 labels=["category"])
    answered = CounterMetricFamily(f"{PREFIX}_auto_answers", "Tickets the knowledge base answered "
                                   "automatically when they opened, by category.", labels=["category"])
    by_category = {str(category): (0, 0) for category in Category}  # every category, 0 until its first ticket
    for category, count, auto in session.exec(
            select(Ticket.category, func.count(), func.count(col(Ticket.knowledge_entry_id)))
            .group_by(col(Ticket.category)).order_by(col(Ticket.category))):
        by_category[category] = (count, auto)
    for category, (count, auto) in by_category.items():
        opened.add_metric([category], count)
        answered.add_metric([category], auto)
    warnings = CounterMetricFamily(f"{PREFIX}_pledge_warnings", "Pledge clocks (rounds) warned before their "
                                   "deadline, by kind (reply, visit, callback).", labels=["kind"])
    breaches = CounterMetricFamily(f"{PREFIX}_pledge_breaches", "Pledge clocks (rounds) that missed their "
                                   "deadline, by kind (one per missed deadline, however many people it is "
                                   "charged to).", labels=["kind"])
    warned = dict.fromkeys(map(str, PledgeKind), 0) | dict(session.exec(  # the one scan of a table that grows
        select(PledgeRound.kind, func.count()).where(col(PledgeRound.warned_at).is_not(None))
        .group_by(col(PledgeRound.kind))).all())
    # every breached round has a breach row (one with nobody charged, at least): a table only of breaches
    breached = dict.fromkeys(map(str, PledgeKind), 0) | dict(session.exec(
        select(PledgeBreach.kind, func.count(func.distinct(PledgeBreach.round_id)))
        .group_by(col(PledgeBreach.kind))).all())
    for kind in sorted(warned.keys() | breached.keys()):
        warnings.add_metric([kind], warned.get(kind, 0))
        breaches.add_metric([kind], breached.get(kind, 0))
    labels = ["platform", "bot_id", "lane"]
    waiting = GaugeMetricFamily(f"{PREFIX}_outbox_waiting", "Outbox messages waiting or being sent, per bot "
                                "account (empty: any account) and lane.", labels=labels)
    oldest = GaugeMetricFamily(f"{PREFIX}_outbox_oldest_age_seconds", "How long the longest-waiting outbox "
                               "message has waited, per bot account and lane (0 when none waits).", labels=labels)
    dead = GaugeMetricFamily(f"{PREFIX}_outbox_dead_letters", "Outbox messages that failed every attempt and "
                             "wait for staff (sent again or cancelled in the console), per bot account and lane.",
                             labels=labels)
    for queue in outbox.queues(session):
        names = [queue.platform, queue.bot_id or "", _lane_name(queue.lane)]
        waiting.add_metric(names, queue.waiting)
        oldest.add_metric(names, max(0.0, (now - queue.oldest).total_seconds()) if queue.oldest else 0.0)
        dead.add_metric(names, queue.dead)
    return [opened, answered, warnings, breaches, waiting, oldest, dead]


class BotsCollector(Collector):
    """The bot accounts connected to this process, and the groups in service none of whose accounts is
    connected here (their messages wait), asked at scrape time."""

    def __init__(self, connected_bots: Callable[[], list[str]],
                 waiting_groups: Callable[[], list[tuple[str, str]]] | None = None) -> None:
        self._connected_bots, self._waiting_groups = connected_bots, waiting_groups

    def collect(self) -> Iterable[Metric]:
        bots = self._connected_bots()
        count = GaugeMetricFamily(f"{PREFIX}_bots_connected", "Bot accounts connected to this process.",
                                  labels=["worker"])
        count.add_metric([_worker], len(bots))
        each = GaugeMetricFamily(f"{PREFIX}_bot_connected", "1 for each bot account connected to this process.",
                                 labels=["worker", "bot_id"])
        for bot_id in bots:
            each.add_metric([_worker, bot_id], 1)
        if self._waiting_groups is None:
            return [count, each]
        try:
            waiting = self._waiting_groups()
        except Exception:  # the database is away: retailer_bot_store_up says so
            log.warning("metrics: cannot read the groups' accounts", exc_info=True)
            return [count, each]
        stranded = GaugeMetricFamily(f"{PREFIX}_groups_without_account", "Groups in service none of whose bot "
                                     "accounts is connected to this process: their messages wait.",
                                     labels=["worker"])
        stranded.add_metric([_worker], len(waiting))
        which = GaugeMetricFamily(f"{PREFIX}_group_without_account", "1 for each group in service none of "
                                  "whose bot accounts is connected to this process.",
                                  labels=["worker", "platform", "group_id"])
        for platform, group_id in waiting:
            which.add_metric([_worker, platform, group_id], 1)
        return [count, each, stranded, which]


class RobotsCollector(Collector):
    """What this process saw of each staff alert robot (WeCom, DingTalk): when it last took a message and
    last refused one, and how many it refused. Their queues and dead letters are the outbox's series, with
    the robot's name as `bot_id` and its kind as `platform`. The webhook's key never appears."""

    def __init__(self, robots: Callable[[], WebhookTransport | None]) -> None:
        self._robots = robots

    def collect(self) -> Iterable[Metric]:
        robots = self._robots()
        labels = ["worker", "channel", "kind"]
        success = GaugeMetricFamily(f"{PREFIX}_robot_last_success_timestamp_seconds", "When this process last "
                                    "delivered to the robot (Unix time; 0: not yet).", labels=labels)
        failure = GaugeMetricFamily(f"{PREFIX}_robot_last_failure_timestamp_seconds", "When the robot last "
                                    "refused a message or could not be reached from this process (0: never).",
                                    labels=labels)
        failures = CounterMetricFamily(f"{PREFIX}_robot_failures", "Messages the robot refused or that could "
                                       "not reach it, from this process (each is retried by the outbox).",
                                       labels=labels)
        for name, hook in sorted((robots.hooks if robots else {}).items()):
            assert robots is not None
            state, names = robots.health[name], [_worker, name, hook.kind]
            success.add_metric(names, state.last_success_at.timestamp() if state.last_success_at else 0)
            failure.add_metric(names, state.last_failure_at.timestamp() if state.last_failure_at else 0)
            failures.add_metric(names, state.failures)
        return [success, failure, failures]


def registry(engine: Engine, now: Callable[[], datetime], connected_bots: Callable[[], list[str]],
             waiting_groups: Callable[[], list[tuple[str, str]]] | None = None,
             robots: Callable[[], WebhookTransport | None] = lambda: None) -> CollectorRegistry:
    """One app's metrics: the store's, the connected bots, and this process's instruments."""
    disable_created_metrics()  # no `_created` series beside each counter and histogram: half the text, unused
    found = CollectorRegistry(auto_describe=False)
    for collector in (SENDS, SWEEP_SECONDS, HTTP_SECONDS, StoreCollector(engine, now),
                      BotsCollector(connected_bots, waiting_groups), RobotsCollector(robots)):
        found.register(collector)
    return found
