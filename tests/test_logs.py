"""`LOG_FORMAT=json`: one JSON object a line, with the ids a line is about as fields."""

import json
import logging

import pytest

from bot.app import _drop_quiet_logs_early, _route_logs_to_nonebot
from bot.logs import log_fields


@pytest.fixture
def json_logs():
    _drop_quiet_logs_early("INFO", "json")
    _route_logs_to_nonebot("INFO")
    yield
    _drop_quiet_logs_early("INFO")


def test_json_lines_carry_ticket_pledge_and_outbox_ids(json_logs, capsys):
    log = logging.getLogger("bot.sender")
    log.warning("outbox %s failed", 41, extra=log_fields(outbox_id=41, ticket_id=12, pledge_id=7))
    log.warning("database unavailable: 工单库")
    log.debug("too quiet to be written")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("outbox pass failed", extra=log_fields(ticket_id=None, outbox_id=3))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3  # the debug line is dropped by the handler's level
    first, second, third = lines
    assert first["message"] == "outbox 41 failed" and first["level"] == "WARNING"
    assert (first["ticket_id"], first["pledge_id"], first["outbox_id"]) == (12, 7, 41)
    assert second["message"] == "database unavailable: 工单库" and "ticket_id" not in second
    assert third["outbox_id"] == 3 and "ticket_id" not in third
    assert "RuntimeError: boom" in third["exception"] and third["time"]


def test_an_unknown_field_is_a_programming_error():
    with pytest.raises(ValueError):
        log_fields(ticket=1)


def test_the_service_with_log_format_json_writes_only_json_lines_from_its_start(tmp_path):
    """The warning written while the store opens (no admin yet) and jieba's own lines are JSON too."""
    from tests.support.service import start_service

    service = start_service(f"sqlite:///{tmp_path / 'json.db'}", tmp_path, LOG_FORMAT="json", LOG_LEVEL="INFO",
                            ADMIN_TOKEN="")
    try:
        with service.client(token=None) as client:
            assert client.get("/healthz").status_code == 200
    finally:
        service.stop()
    lines = [json.loads(line) for line in service.log().splitlines() if line.strip()]
    assert any("create-admin" in line["message"] and line["level"] == "WARNING" for line in lines)
    assert any(line["logger"] == "uvicorn" and "/healthz" in line["message"] for line in lines)
