"""Test databases: a SQLite file by default, PostgreSQL when TEST_DATABASE_URL is set.

Each caller gets a database of its own (a new file, or a new PostgreSQL
database next to the given one), dropped when it is done.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

BASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = BASE_URL.startswith("postgresql")


@contextmanager
def fresh_database(tmp_dir: Path, label: str) -> Iterator[str]:
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_dir / f'{label}-{uuid.uuid4().hex[:6]}.db'}"
        return
    base = make_url(BASE_URL)
    name = f"{base.database}_{label}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def empty_tables(engine: Engine) -> None:
    """Delete every row of every table (PostgreSQL also restarts the ids), and what intake keeps of them."""
    from bot.services import lookups

    tables = [table.name for table in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
    lookups.forget_everything(engine)
