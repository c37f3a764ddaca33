"""/metrics over the real service: retailers' questions over the real WebSocket, then the scrape's numbers,
its token check, and two instances on one database reporting the same stored counts."""

import json
import re
from collections import Counter

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from bot.db import make_engine
from tests.support.databases import fresh_database
from tests.support.fixtures import new_member, unique_number, wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN, ADMIN_TOKEN, ROOT, RunningService, start_service

METRICS_TOKEN = "metrics-only-token-0123456789"
CATEGORIES = ("supply", "terminal", "launch", "training", "marketing", "monopoly", "delivery", "complaint", "other")
QUESTIONS = ("扫码枪扫不出来怎么办", "终端屏幕一直闪", "订货平台打不开了", "返利什么时候到账")
STORED = ("retailer_bot_tickets_opened_total", "retailer_bot_auto_answers_total",
          "retailer_bot_pledge_warnings_total", "retailer_bot_pledge_breaches_total",
          "retailer_bot_outbox_waiting", "retailer_bot_outbox_dead_letters")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(service: RunningService, token: str | None = METRICS_TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{service.base_url}/metrics", headers=headers, timeout=10)


def samples(service: RunningService) -> Samples:
    answer = scrape(service)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(answer.text) for sample in family.samples}


def value(found: Samples, name: str, **labels: str) -> float:
    """The sum over the samples of that name whose labels include these."""
    return sum(number for (sample, sample_labels), number in found.items()
               if sample == name and set(labels.items()) <= sample_labels)


def stored(found: Samples) -> Samples:
    return {key: number for key, number in found.items() if key[0] in STORED}


async def test_metrics_count_what_the_store_holds_alike_on_two_instances(tmp_path):
    group, bot_id = unique_number(960_000), "20031"
    with fresh_database(tmp_path, "metrics") as url:
        first = start_service(url, tmp_path, INSTANCE_NAME="first", METRICS_TOKEN=METRICS_TOKEN)
        second = start_service(url, tmp_path, INSTANCE_NAME="second", METRICS_TOKEN=METRICS_TOKEN)
        try:
            with first.client() as admin:
                admin.post("/api/v1/groups", json={"group_id": str(group)}).raise_for_status()
                async with NapCat(first.ws_url, self_id=bot_id, token=ACCESS_TOKEN) as napcat:
                    await wait_for(lambda: bot_id in admin.get("/healthz").json()["bots"])
                    for question in QUESTIONS:
                        await napcat.group_message(group, unique_number(34_000), question)

                    def opened() -> list[dict]:
                        tickets = admin.get("/api/v1/tickets", params={"limit": 100}).json()["items"]
                        return tickets if len(tickets) == len(QUESTIONS) else []

                    tickets = await wait_for(opened)

                    def all_sent() -> bool:
                        rows = [row for row in admin.get("/api/v1/outbox", params={"limit": 200}).json()
                                if row["target_id"] == str(group)]
                        return bool(rows) and all(row["status"] == "sent" for row in rows)

                    await wait_for(all_sent)
                    on_first, on_second = samples(first), samples(second)

                # what each instance stored, counted by category, the same from both
                by_category = Counter(ticket["category"] for ticket in tickets)
                answered = Counter(ticket["category"] for ticket in tickets if ticket["status"] == "answered")
                assert len(by_category) >= 2, by_category  # the questions are of different columns
                for found in (on_first, on_second):
                    for category in CATEGORIES:
                        assert value(found, "retailer_bot_tickets_opened_total", category=category) \
                            == by_category[category]
                        assert value(found, "retailer_bot_auto_answers_total", category=category) \
                            == answered[category]
                    assert value(found, "retailer_bot_outbox_waiting") == 0
                    assert value(found, "retailer_bot_store_up") == 1
                assert stored(on_first) == stored(on_second)

                # what only one process knows is that process's, labelled with its worker
                assert worker_of(on_first).endswith(":first") and worker_of(on_second).endswith(":second")
                assert value(on_first, "retailer_bot_bots_connected", worker=worker_of(on_first)) == 1
                assert value(on_first, "retailer_bot_bot_connected", bot_id=bot_id) == 1
                assert value(on_second, "retailer_bot_bots_connected") == 0
                # the group's account is connected to the first only: the second cannot send to it
                assert value(on_first, "retailer_bot_group_without_account", group_id=str(group)) == 0
                assert value(on_second, "retailer_bot_group_without_account", group_id=str(group)) == 1
                assert value(on_first, "retailer_bot_sends_total", bot_id=bot_id) >= 1
                assert value(on_second, "retailer_bot_sends_total") == 0
                assert value(on_first, "retailer_bot_http_request_seconds_count", route="/api/v1/tickets",
                             method="GET", status="200") >= 1

                # with no bot connected anywhere, an agent's reply waits in the outbox's reply lane
                await wait_for(lambda: not admin.get("/healthz").json()["bots"]
                               and not second.client().get("/healthz").json()["bots"])
                admin.post(f"/api/v1/tickets/{tickets[0]['id']}/replies",
                           json={"text": "请重启扫码枪后再试。"}).raise_for_status()
                engine = make_engine(url)
                try:  # and one acknowledgement that failed every attempt is a dead letter
                    with engine.begin() as connection:
                        connection.execute(text(
                            "UPDATE outbox_message SET status = 'dead' WHERE id = "
                            "(SELECT MIN(id) FROM outbox_message WHERE status = 'sent')"))
                finally:
                    engine.dispose()
                on_first, on_second = samples(first), samples(second)
                for found in (on_first, on_second):
                    assert value(found, "retailer_bot_outbox_waiting", lane="reply") == 1
                    assert value(found, "retailer_bot_outbox_waiting") == 1
                    assert value(found, "retailer_bot_outbox_dead_letters") == 1
                    assert value(found, "retailer_bot_outbox_oldest_age_seconds", lane="reply") >= 0
                    assert value(found, "retailer_bot_group_without_account", group_id=str(group)) == 1
                    assert value(found, "retailer_bot_groups_without_account") == 1
                assert stored(on_first) == stored(on_second)
                assert any(key[0] == "retailer_bot_outbox_oldest_age_seconds" for key in on_second)
        finally:
            first.stop()
            second.stop()


def worker_of(found: Samples) -> str:
    """The worker label (`host:instance`) a service puts on what only it knows."""
    workers = {dict(labels)["worker"] for name, labels in found if name == "retailer_bot_bots_connected"}
    assert len(workers) == 1, workers
    return workers.pop()


def test_metrics_need_an_admins_token_or_the_metrics_token(tmp_path):
    with fresh_database(tmp_path, "metrics-token") as url:
        running = start_service(url, tmp_path, METRICS_TOKEN=METRICS_TOKEN)
        try:
            with running.client() as admin:
                agent = new_member(admin, "agent")
                supervisor = new_member(admin, "supervisor")
            refused = scrape(running, None)
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
            assert "retailer_bot" not in refused.text
            for token in ("wrong-token", agent["token"], supervisor["token"], METRICS_TOKEN + "x"):
                assert scrape(running, token).status_code == 401, token
            for token in (ADMIN_TOKEN, METRICS_TOKEN):
                answer = scrape(running, token)
                assert answer.status_code == 200 and "retailer_bot_tickets_opened_total" in answer.text
            # the metrics token reads the metrics and nothing else
            with running.client(METRICS_TOKEN) as outsider:
                assert outsider.get("/api/v1/tickets").status_code == 401
            assert "/metrics" not in httpx.get(f"{running.base_url}/openapi.json").json()["paths"]
        finally:
            running.stop()


def test_without_a_metrics_token_set_only_admins_read_the_metrics(service, admin):
    assert scrape(service, None).status_code == 401
    assert scrape(service, METRICS_TOKEN).status_code == 401  # the shared service sets none
    assert scrape(service, ADMIN_TOKEN).status_code == 200


def test_the_sample_dashboard_asks_only_for_metrics_the_service_serves(service):
    """deploy/grafana-dashboard.json: each query's metric is one /metrics declares (even before its first
    sample), so a renamed metric cannot leave the dashboard empty unnoticed."""
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text(encoding="utf-8"))
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    asked = {base(name) for query in queries for name in re.findall(r"\bretailer_bot_\w+", query)}
    answer = scrape(service, ADMIN_TOKEN)
    declared = {base(line.split()[2]) for line in answer.text.splitlines() if line.startswith("# TYPE ")}
    assert len(asked) >= 10 and asked <= declared, asked - declared


def base(name: str) -> str:
    return re.sub(r"_(total|bucket|count|sum)$", "", name)
