"""Schemathesis against the running service's own OpenAPI: every operation, a bounded number of
generated requests each (valid and invalid ones), as the admin. No answer may be a 5xx, and every
answer must be one the OpenAPI declares, with the declared content type and body.

Left out, because they would make the rest of the run meaningless: `POST /staff/{id}/token`
(a new token for the admin ends the run's credential), and `PATCH /staff/{id}` on the admin itself
(`active: false` or roles without admin lock the run out); the same PATCH on anyone else is fuzzed.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import install
from tests.support.databases import fresh_database
from tests.support.service import ADMIN_TOKEN, RunningService, start_service

EXAMPLES_PER_OPERATION = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ADMIN_ID = 1  # made at start, so first in a fresh database
LEFT_OUT = {("POST", "/api/v1/staff/{staff_id}/token")}


@pytest.fixture(scope="module")
def fuzzed_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """A service of its own, so the fuzzer's writes never meet the other API tests' data."""
    directory = tmp_path_factory.mktemp("fuzz")
    with fresh_database(directory, "fuzz") as url:
        running = start_service(url, directory)
        with running.client() as admin:
            _seed(admin)
        yield running
        running.stop()


def _seed(admin: httpx.Client) -> None:
    """A few rows of each kind, so generated small ids find something to read and change."""
    manager = admin.post("/api/v1/staff", json={"name": "王经理", "roles": ["manager"]}).json()
    admin.post("/api/v1/staff", json={"name": "李客服", "roles": ["agent"], "chat_user_id": "10086"})
    admin.post("/api/v1/groups", json={"group_id": "123456789", "name": "芙蓉区零售户服务群", "district": "芙蓉区"})
    retailer = admin.post("/api/v1/retailers", json={
        "license_no": "430102100001", "store_name": "好邻居便利店", "phone": "13912345678", "grade": 18,
        "manager_id": manager["id"]}).json()
    admin.post(f"/api/v1/retailers/{retailer['id']}/bindings", json={"chat_user_id": "20001"})
    notice = {"title": "第10周货源", "period_start": "2026-03-02", "period_end": "2026-03-08",
              "order_opens_at": "2026-03-02T09:00:00", "order_closes_at": "2026-03-03T17:00:00",
              "items": [{"product": "中华(软)", "retail_price": "65", "quotas": [
                  {"min_grade": 1, "max_grade": 30, "cartons": 2}]}]}
    admin.post("/api/v1/supply/notices", json=notice)
    published = admin.post("/api/v1/supply/notices", json=notice | {"title": "第11周货源"}).json()
    admin.post(f"/api/v1/supply/notices/{published['id']}/publish")
    admin.post("/api/v1/launches", json={"product": {"name": "黄鹤楼(硬奇景)", "aliases": ["奇景"]},
                                         "launch_date": "2026-12-01", "selling_points": "细支爆珠",
                                         "source": "manufacturer"})


@pytest.fixture(scope="module")
def api_schema(fuzzed_service: RunningService) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({"seed": 20260301, "generation": {"database": "none"}})
    return schemathesis.openapi.from_url(f"{fuzzed_service.base_url}/openapi.json", config=config)


def _operations() -> list[tuple[str, str]]:
    """Every operation the service declares (read from the same app the service mounts), less those left out."""
    app = FastAPI()
    install(app, list)
    return [(method.upper(), path) for path, methods in app.openapi()["paths"].items() for method in methods
            if (method.upper(), path) not in LEFT_OUT]


OPERATIONS = _operations()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{method} {path}" for method, path in OPERATIONS])
def test_every_operation_answers_as_declared(api_schema, fuzzed_service: RunningService, method: str, path: str):
    operation = api_schema[path][method]
    cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
    @given(case=cases)
    def answers_as_declared(case) -> None:
        if (method, path) == ("PATCH", "/api/v1/staff/{staff_id}"):
            assume(case.path_parameters.get("staff_id") != ADMIN_ID)
        case.call_and_validate(base_url=fuzzed_service.base_url, headers=BEARER, timeout=30, checks=CHECKS)

    answers_as_declared()
