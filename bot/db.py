"""Engine, sessions and migrations for SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import ast
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session, create_engine

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 15}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No ping before each use (a round trip a unit of work): a connection the server dropped fails as transient,
    # and the runtime retries on a renewed pool (tests/test_runtime.py).
    return create_engine(url, pool_size=10, max_overflow=10)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the API read while the bot writes; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


_REVISION = re.compile(r"^(down_)?revision\b(?:\s*:[^=\n]*)?\s*=\s*(.+)$", re.MULTILINE)


def script_head() -> str | None:
    """The newest migration's revision, read from the files' `revision` and `down_revision` lines without
    Alembic; None unless every file gives a plain one and they form exactly one head."""
    files = [path for path in (MIGRATIONS / "versions").glob("*.py") if path.name != "__init__.py"]
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in files:
        found = dict(_REVISION.findall(path.read_text(encoding="utf-8")))
        try:
            revision, down = ast.literal_eval(found[""]), ast.literal_eval(found["down_"])
        except (KeyError, ValueError, SyntaxError):
            return None
        downs = down if isinstance(down, tuple) else (down,)
        if not isinstance(revision, str) or not all(isinstance(d, str | None) for d in downs):
            return None
        revisions.add(revision)
        parents.update(d for d in downs if d)
    heads = revisions - parents
    return heads.pop() if len(revisions) == len(files) and len(heads) == 1 else None


def at_head(engine: Engine) -> bool:
    """Whether the store is at the newest revision: one read of Alembic's version table."""
    head = script_head()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            stored = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    except DBAPIError:  # a new store: no version table yet
        return False
    return stored == [head]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe to run at every start. A store already there (every
    start but the first after an upgrade) is left alone without loading Alembic, a tenth of a second."""
    if at_head(engine):
        return
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


class ChildMigration:
    """`python -m bot migrate` in a child process, begun when the store is behind. The serving process lives for
    weeks, and Alembic's modules and the migrations' work would stay in it: 13 MB of RSS after a first start or an
    upgrade (bench/startup.py, `fresh`). Begun as soon as the service has its settings, the child's second of work
    runs beside the service's own imports on the other core; `wait` before the store is first used."""

    def __init__(self, url: str) -> None:
        engine = make_engine(url)
        try:
            behind = not at_head(engine)
        finally:
            engine.dispose()
        self._child = subprocess.Popen([sys.executable, "-m", "bot", "migrate"],
                                       env={**os.environ, "DATABASE_URL": url}) if behind else None

    def wait(self) -> None:
        """Return once the store is at head; raise if the child failed (the start stops, saying so)."""
        if self._child is not None and (code := self._child.wait()) != 0:
            raise RuntimeError(f"the database could not be migrated (python -m bot migrate exited {code})")


def after_commit(session: Session, action: Callable[[], object]) -> None:
    """Run `action` once this unit of work has committed: files are never written inside a
    transaction that may still roll back (a rollback forgets the action)."""
    pending = session.info.get("after_commit")
    if pending is None:
        pending = session.info["after_commit"] = []
        event.listen(session, "after_commit", _run_after_commit)
        event.listen(session, "after_rollback", lambda rolled_back: rolled_back.info["after_commit"].clear())
    pending.append(action)


def _run_after_commit(session: Session) -> None:
    actions, session.info["after_commit"] = session.info["after_commit"], []
    for action in actions:
        try:
            action()
        except Exception:  # the database change stands; the side effect is reported, not retried
            log.exception("an action after commit failed")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class Prepared:
    """A Core statement compiled once per dialect (and set of parameter names) and run straight on
    the driver's cursor, inside the session's transaction.

    For the intake path (bench/intake_load.py): SQLAlchemy's execution layer costs about ten times
    what SQLite takes to run a small statement. Parameters go through each type's bind processor
    (dates, JSON), so what is stored is exactly what `Connection.execute` would store; rows come back
    as the driver gives them, so only statements whose results are ids, text or numbers belong here.
    Statement events (`before_cursor_execute`) do not see these statements.
    """

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...]], tuple[str, Callable[[Mapping[str, Any]], Any]]] = {}

    def _compile(self, dialect: Dialect, names: tuple[str, ...]) -> tuple[str, Callable[[Mapping[str, Any]], Any]]:
        compiled = cast(SQLCompiler, self.statement.compile(dialect=dialect, column_keys=list(names)))
        if compiled.insert_prefetch or compiled.update_prefetch:  # defaults SQLAlchemy would compute
            missing = [column.key for column in (*compiled.insert_prefetch, *compiled.update_prefetch)]
            raise ValueError(f"Prepared statements take every value from the caller; missing {missing}")
        # (name, default, processor) per parameter, worked out once: this runs for every row
        plan = []
        for key, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            plan.append((key, bind.effective_value, processor))

        def values(params: Mapping[str, Any]) -> dict[str, Any]:
            bound = {}
            for key, default, processor in plan:
                raw = params.get(key, default)
                bound[key] = processor(raw) if processor is not None and raw is not None else raw
            return bound

        order = compiled.positiontup
        if order is not None:  # qmark (SQLite): a tuple in the statement's order
            return str(compiled), lambda params: tuple(map(values(params).__getitem__, order))
        return str(compiled), values

    def _for(self, connection: Connection, names: Iterable[str]) -> tuple[str, Callable[[Mapping[str, Any]], Any]]:
        key = (connection.dialect.name, tuple(sorted(names)))
        prepared = self._compiled.get(key)
        if prepared is None:
            prepared = self._compiled[key] = self._compile(connection.dialect, key[1])
        return prepared

    def execute(self, session: Session, params: Mapping[str, Any]) -> Any:
        """Run with `params` (one row's values); returns the driver's cursor, for `fetchone()`."""
        connection = session.connection()
        sql, bind = self._for(connection, params)
        cursor = connection.connection.cursor()
        cursor.execute(sql, bind(params))
        return cursor

    def execute_many(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        """The same for several rows with the same parameter names, in one call to the driver."""
        if rows:
            connection = session.connection()
            sql, bind = self._for(connection, rows[0])
            connection.connection.cursor().executemany(sql, [bind(row) for row in rows])
