"""The service (`python -m bot`) counting every statement it sends to the database, for bench/intake_profile.py.

Statements are counted at the driver, below SQLAlchemy, so the intake's prepared statements (`bot.db.Prepared`,
which statement events do not see) count too: on SQLite through the connection's trace callback (which also sees
BEGIN and COMMIT), on PostgreSQL through a counting cursor (BEGIN and COMMIT are the driver's own round trips,
counted by the benchmark from the server's transaction statistics). Each count is keyed by the statement's verb
and first table. On SIGUSR1 the counts so far are written to `$TRACE_FILE` as JSON.

    PYTHONPATH=. TRACE_FILE=/tmp/counts.json python -m bench.traced_service
"""

from __future__ import annotations

import collections
import json
import os
import re
import runpy
import signal
from pathlib import Path

import psycopg
from sqlalchemy import event
from sqlalchemy.pool import Pool

COUNTS: collections.Counter[str] = collections.Counter()
_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE|JOIN)\s+"?(\w+)', re.IGNORECASE)


def kind(sql: str) -> str:
    """`SELECT ticket`, `INSERT outbox_message`, `BEGIN`: the verb and the first table named."""
    words = sql.split(None, 1)
    verb = words[0].upper() if words else "?"
    table = _TABLE.search(sql)
    return f"{verb} {table.group(1)}" if table and verb not in ("BEGIN", "COMMIT", "ROLLBACK") else verb


class CountingCursor(psycopg.Cursor):
    def execute(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def, override]
        COUNTS[kind(str(query))] += 1
        return super().execute(query, params, **kwargs)

    def executemany(self, query, params_seq, **kwargs):  # type: ignore[no-untyped-def, override]
        COUNTS[kind(str(query)) + " (many)"] += 1
        return super().executemany(query, params_seq, **kwargs)


@event.listens_for(Pool, "connect")
def _trace(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    if hasattr(dbapi_connection, "set_trace_callback"):  # sqlite3
        dbapi_connection.set_trace_callback(lambda sql: COUNTS.update((kind(sql),)))
    elif isinstance(dbapi_connection, psycopg.Connection):
        dbapi_connection.cursor_factory = CountingCursor


def _dump(_signum, _frame) -> None:  # type: ignore[no-untyped-def]
    Path(os.environ["TRACE_FILE"]).write_text(json.dumps(dict(COUNTS)), encoding="utf-8")


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, _dump)
    runpy.run_module("bot", run_name="__main__", alter_sys=True)
