"""`python -m bot backup DIR` and `python -m bot restore DIR`.

A backup is a directory: the database (SQLite: `bot.db`, a copy made with SQLite's online backup API, so
the running service may keep writing; PostgreSQL: `database.dump`, made by `pg_dump --format=custom`, which
reads one snapshot), the policy file when `POLICY_FILE` names one (`policies.toml`), and `manifest.json`
(what, when, from which kind of database, at which schema revision, each file's size and SHA-256). The
knowledge base, the launch pictures and the directory's aliases are tables, so the database copy holds them.

A restore goes only into an empty installation (no table in the target database): every check is made
before anything is written, and a refused restore changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url

from bot.config import Settings
from bot.db import MIGRATIONS, make_engine

MANIFEST = "manifest.json"
SQLITE_FILE = "bot.db"
PG_FILE = "database.dump"
POLICY_COPY = "policies.toml"
FORMAT = 1


class BackupError(Exception):
    """Bad input or an impossible step: the message says what and what to do; nothing was changed."""


@dataclass
class Outcome:
    directory: Path
    manifest: dict[str, Any]
    notes: list[str]


def _head() -> str:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def _known_revision(revision: str) -> bool:
    try:
        return ScriptDirectory(str(MIGRATIONS)).get_revision(revision) is not None
    except CommandError:
        return False


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("DATABASE_URL 指向内存数据库，没有可备份或恢复的文件。")
    return Path(url.database)


def _libpq(url: URL) -> str:
    """The SQLAlchemy URL as pg_dump and pg_restore take it: no driver name, and no password (it goes in
    PGPASSWORD, so it shows neither in the process list nor in a message)."""
    bare = URL.create("postgresql", username=url.username, host=url.host, port=url.port, database=url.database,
                      query=url.query)
    return bare.render_as_string(hide_password=False)


def _pg_env(url: URL) -> dict[str, str]:
    return {**os.environ, **({"PGPASSWORD": str(url.password)} if url.password else {})}


def _tool(name: str, documented: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"找不到 {name}（PostgreSQL 客户端）。请安装与服务器版本一致的客户端"
            f"（Debian/Ubuntu：apt-get install postgresql-client），或手动执行：\n  {documented}")
    return path


def _revision_of_sqlite(path: Path) -> str | None:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        try:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None
    return row[0] if row else None


def _revision_of(database_url: str) -> str | None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


def backup(settings: Settings, directory: Path, *, now: datetime | None = None) -> Outcome:
    """Write a consistent copy of the running installation into `directory` (new or empty)."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BackupError(f"备份目录 {directory} 已存在且不为空：请指定一个新的或空的目录，以免覆盖以前的备份。")
    policy = Path(settings.policy_file) if settings.policy_file else None
    if policy is not None and not policy.is_file():
        raise BackupError(f"POLICY_FILE 指向的策略文件 {policy} 不存在：请先改正配置。")
    url = make_url(settings.database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        source = _sqlite_path(url)
        if not source.is_file():
            raise BackupError(f"数据库文件 {source} 不存在：这个安装还没有数据可备份（DATABASE_URL 是否正确？）。")
    elif backend == "postgresql":
        pg_dump = _tool("pg_dump", f"pg_dump --format=custom --no-owner --file {directory / PG_FILE} '{_libpq(url)}'")
    else:
        raise BackupError(f"不支持的数据库类型：{backend}")
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    try:
        if backend == "sqlite":
            target = directory / SQLITE_FILE
            with sqlite3.connect(source, timeout=15) as live, sqlite3.connect(target) as copy:
                live.backup(copy)  # one step: a read transaction over the whole file, a consistent snapshot
            copy_connection = sqlite3.connect(target)
            try:
                copy_connection.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                copy_connection.close()
            revision = _revision_of_sqlite(target)
            files = [SQLITE_FILE]
        else:
            revision = _revision_of(settings.database_url)
            done = subprocess.run([pg_dump, "--format=custom", "--no-owner", "--file", str(directory / PG_FILE),
                                   _libpq(url)], capture_output=True, text=True, env=_pg_env(url))
            if done.returncode != 0:
                raise BackupError(f"pg_dump 失败：{done.stderr.strip()}")
            files = [PG_FILE]
        if revision is None:
            raise BackupError("数据库里没有结构版本（alembic_version）：它还没有被本服务初始化过，不是本服务的数据库。")
        if policy is not None:
            shutil.copyfile(policy, directory / POLICY_COPY)
            files.append(POLICY_COPY)
        manifest = {
            "format": FORMAT,
            "what": "零售户服务群机器人备份 / retailer service-group bot backup",
            "created_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
            "database": backend,
            "schema_revision": revision,
            "policy_file": str(policy) if policy is not None else None,
            "files": {name: {"bytes": (directory / name).stat().st_size, "sha256": _digest(directory / name)}
                      for name in files},
        }
        (directory / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    except BaseException:
        _undo(directory, created)
        raise
    return Outcome(directory, manifest, [])


def _undo(directory: Path, created: bool) -> None:
    """Take away what a failed backup wrote: the directory was new or empty."""
    if created:
        shutil.rmtree(directory, ignore_errors=True)
    else:
        for child in directory.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()


def read_manifest(directory: Path) -> dict[str, Any]:
    if not directory.is_dir():
        raise BackupError(f"找不到备份目录 {directory}。")
    path = directory / MANIFEST
    if not path.is_file():
        raise BackupError(f"{directory} 不是备份目录：缺少 {MANIFEST}（由 python -m bot backup 写出）。")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise BackupError(f"{path} 已损坏，无法读取：{error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} 的格式不是本程序认识的备份格式（format {FORMAT}）。")
    return manifest


def _check_files(directory: Path, manifest: dict[str, Any]) -> None:
    for name, expected in manifest.get("files", {}).items():
        path = directory / name
        if not path.is_file():
            raise BackupError(f"备份不完整：缺少文件 {name}。")
        if path.stat().st_size != expected["bytes"] or _digest(path) != expected["sha256"]:
            raise BackupError(f"备份文件 {name} 与清单不符（大小或 SHA-256 不同）：它已损坏或被改动过。")


def _tables_in(database_url: str) -> list[str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return inspect(connection).get_table_names()
    finally:
        engine.dispose()


def restore(settings: Settings, directory: Path) -> Outcome:
    """Put a backup back into an empty installation (the database of `DATABASE_URL` has no table)."""
    manifest = read_manifest(directory)
    revision = manifest.get("schema_revision")
    if not isinstance(revision, str) or not _known_revision(revision):
        raise BackupError(
            f"备份的数据库结构版本 {revision} 比本程序新（本程序最新为 {_head()}）：它来自更新的版本。"
            "请先安装与备份相同或更新的版本，再恢复。")
    _check_files(directory, manifest)
    url = make_url(settings.database_url)
    backend = url.get_backend_name()
    if backend != manifest.get("database"):
        raise BackupError(f"备份来自 {manifest.get('database')} 数据库，而 DATABASE_URL 是 {backend}："
                          "请把 DATABASE_URL 指向同一种数据库。")
    notes: list[str] = []
    policy_target: Path | None = None
    if POLICY_COPY in manifest.get("files", {}):
        if settings.policy_file:
            policy_target = Path(settings.policy_file)
            if policy_target.exists() and policy_target.read_bytes() != (directory / POLICY_COPY).read_bytes():
                raise BackupError(f"POLICY_FILE 指向的 {policy_target} 已存在且与备份中的策略文件不同："
                                  "请移走它或把 POLICY_FILE 指向一个新路径。")
        else:
            notes.append(f"备份中有策略文件 {directory / POLICY_COPY}（原为 {manifest.get('policy_file')}）："
                         "请复制到配置目录并设置 POLICY_FILE。")
    if backend == "sqlite":
        target = _sqlite_path(url)
        if target.exists() and _tables_in(settings.database_url):
            raise BackupError(f"目标数据库 {target} 不是空的：恢复只写入全新的安装。"
                              "请把 DATABASE_URL 指向一个新文件，或先停止服务并移走现有数据库。")
        created = not target.exists()
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with sqlite3.connect(f"file:{directory / SQLITE_FILE}?mode=ro", uri=True) as saved, \
                    sqlite3.connect(target) as live:
                saved.backup(live)
        except BaseException:
            if created:
                target.unlink(missing_ok=True)
            raise
    elif backend == "postgresql":
        command = f"pg_restore --no-owner --exit-on-error --dbname '{_libpq(url)}' {directory / PG_FILE}"
        pg_restore = _tool("pg_restore", command)
        tables = _tables_in(settings.database_url)
        if tables:
            raise BackupError(f"目标数据库 {url.database} 不是空的（已有 {len(tables)} 张表）：恢复只写入全新的安装。"
                              "请新建一个空数据库（createdb）并把 DATABASE_URL 指向它。")
        done = subprocess.run([pg_restore, "--no-owner", "--exit-on-error", "--single-transaction",
                               "--dbname", _libpq(url), str(directory / PG_FILE)],
                              capture_output=True, text=True, env=_pg_env(url))
        if done.returncode != 0:
            raise BackupError(f"pg_restore 失败（已整体回滚，数据库未改变）：{done.stderr.strip()}")
    else:
        raise BackupError(f"不支持的数据库类型：{backend}")
    if policy_target is not None and not policy_target.exists():
        policy_target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(directory / POLICY_COPY, policy_target)
    return Outcome(directory, manifest, notes)

