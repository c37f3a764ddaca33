"""Log lines as JSON (`LOG_FORMAT=json`), with the ids a line is about as fields of their own.

Our modules log with `logging` and name what a line is about in `extra`, e.g.
`log.warning("outbox %s failed", row.id, extra=log_fields(outbox_id=row.id, ticket_id=row.ticket_id))`;
the handler hands those fields to loguru, whose JSON sink writes them beside the message (the text
format ignores them, the message already says it).
"""

from __future__ import annotations

import inspect
import json
import logging
import sys
import traceback
from typing import Any

FIELDS = ("ticket_id", "pledge_id", "outbox_id")


def log_fields(**ids: int | None) -> dict[str, int]:
    """`extra` for a log call: the ids that are known (None left out)."""
    unknown = set(ids) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown log fields {sorted(unknown)}")
    return {name: value for name, value in ids.items() if value is not None}


class FieldsLoguruHandler(logging.Handler):
    """NoneBot's LoguruHandler, passing the records' id fields on to loguru as `extra`."""

    def emit(self, record: logging.LogRecord) -> None:
        from nonebot.log import logger

        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = inspect.currentframe(), 0
        while frame and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame = frame.f_back
            depth += 1
        fields = {name: getattr(record, name) for name in FIELDS if getattr(record, name, None) is not None}
        logger.bind(**fields).opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


def json_line(record: Any) -> str:
    """One loguru record as a JSON object on one line."""
    line: dict[str, Any] = {
        "time": record["time"].isoformat(timespec="milliseconds"),
        "level": record["level"].name,
        "logger": record["name"],
        "message": record["message"],
    }
    for name in FIELDS:
        if name in record["extra"]:
            line[name] = record["extra"][name]
    if record["exception"] is not None:
        kind, value, trace = record["exception"]
        line["exception"] = "".join(traceback.format_exception(kind, value, trace)).rstrip()
    return json.dumps(line, ensure_ascii=False, default=str)


def json_sink(message: Any) -> None:
    sys.stdout.write(json_line(message.record) + "\n")
    sys.stdout.flush()
