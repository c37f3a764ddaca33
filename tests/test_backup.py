"""`python -m bot backup DIR` while the real service takes messages, `python -m bot restore DIR` into a new
installation, a service on it; and every bad input refused with a clear message, changing nothing."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from bot.backup import MANIFEST
from bot.db import make_engine
from tests.support.databases import ON_POSTGRES, fresh_database
from tests.support.fixtures import unique_number, wait_for
from tests.support.napcat import NapCat
from tests.support.service import ACCESS_TOKEN, start_service

POLICY = "sweep_seconds = 30\n"
EDITED = "备份前改过的答案：请先重启扫码枪，再检查数据线。"


def bot_command(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "POLICY_FILE": "", **env}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=120)


async def bot_command_async(cwd: Path, *args: str, **env: str) -> tuple[int, str]:
    """The same without blocking the event loop, so the test's NapCat keeps posting meanwhile."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=cwd, env={"PATH": "/usr/bin:/bin", **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


def ids(url: str, sql: str) -> set[int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {row[0] for row in connection.execute(text(sql))}
    finally:
        engine.dispose()


def every(api, path: str, **params) -> list[dict]:
    rows, offset = [], 0
    while True:
        page = api.get(path, params={**params, "offset": offset, "limit": 200})
        page.raise_for_status()
        body = page.json()
        items = body["items"] if isinstance(body, dict) else body
        rows += items
        if len(items) < 200:
            return rows
        offset += 200


async def test_a_backup_under_load_restores_every_ticket_pledge_outbox_row_and_knowledge_edit(tmp_path):
    policy = tmp_path / "policies.toml"
    policy.write_text(POLICY, encoding="utf-8")
    backup_dir = tmp_path / "备份" / "2026-12-04"
    group = unique_number(910_000)
    with fresh_database(tmp_path, "live") as live_url, fresh_database(tmp_path, "restored") as restored_url:
        live = start_service(live_url, tmp_path, POLICY_FILE=str(policy))
        try:
            with live.client() as api:
                api.post("/api/v1/groups", json={"group_id": str(group), "name": "备份测试群"}).raise_for_status()
                edit = api.patch("/api/v1/knowledge/entries/terminal.scanner-no-read", json={"answer": EDITED})
                assert edit.status_code == 200, edit.text
                async with NapCat(live.ws_url, token=ACCESS_TOKEN) as napcat:
                    for n in range(6):
                        await napcat.group_message(group, 41_000 + n, f"第{n}号店的终端开不了机，屏幕一直黑着")
                    await wait_for(lambda: sum(1 for call in napcat.drain() if call["action"].startswith("send"))
                                   or None, timeout=20)
                    await wait_for(lambda: len(ids(live_url, "SELECT id FROM ticket")) >= 6, timeout=20)
                    before = {
                        "tickets": ids(live_url, "SELECT id FROM ticket"),
                        "pledges": ids(live_url, "SELECT id FROM pledge"),
                        "outbox": ids(live_url, "SELECT id FROM outbox_message"),
                    }
                    assert before["pledges"] and before["outbox"]

                    posting = True

                    async def load() -> int:  # retailers keep writing while the backup runs
                        sent = 0
                        while posting:
                            await napcat.group_message(group, 42_000 + sent, f"又一家店的扫码枪坏了，编号{sent}")
                            sent += 1
                            await asyncio.sleep(0.02)
                        return sent

                    writer = asyncio.create_task(load())
                    await wait_for(lambda: len(ids(live_url, "SELECT id FROM ticket")) > 8, timeout=20)
                    code, output = await bot_command_async(tmp_path, "backup", str(backup_dir),
                                                           DATABASE_URL=live_url, POLICY_FILE=str(policy))
                    posting = False
                    assert await writer > 0
            assert code == 0, output
            assert "已备份到" in output
        finally:
            live.stop()

        manifest = json.loads((backup_dir / MANIFEST).read_text(encoding="utf-8"))
        assert manifest["schema_revision"] == ids_revision(live_url)
        assert manifest["database"] == ("postgresql" if ON_POSTGRES else "sqlite")
        assert set(manifest["files"]) == {"database.dump" if ON_POSTGRES else "bot.db", "policies.toml"}

        restored_policy = tmp_path / "restored" / "policies.toml"
        restored = bot_command(tmp_path, "restore", str(backup_dir), DATABASE_URL=restored_url,
                               POLICY_FILE=str(restored_policy))
        assert restored.returncode == 0, restored.stderr
        assert restored_policy.read_text(encoding="utf-8") == POLICY

        again = start_service(restored_url, tmp_path, POLICY_FILE=str(restored_policy))
        try:
            with again.client() as api:
                tickets = {row["id"] for row in every(api, "/api/v1/tickets")}
                pledges = {row["id"] for row in every(api, "/api/v1/pledges")}
                outbox = {row["id"] for row in every(api, "/api/v1/outbox")}
                entry = api.get("/api/v1/knowledge/entries/terminal.scanner-no-read").json()
            assert before["tickets"] <= tickets and before["pledges"] <= pledges and before["outbox"] <= outbox
            assert entry["answer"] == EDITED
            # one snapshot: a ticket that made it into the copy has its reply pledge with it
            assert not ids(restored_url, "SELECT t.id FROM ticket t WHERE t.status = 'open' AND NOT EXISTS "
                                         "(SELECT 1 FROM pledge p WHERE p.ticket_id = t.id AND p.kind = 'reply')")
        finally:
            again.stop()


def ids_revision(url: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()


def installation(tmp_path: Path, name: str) -> str:
    """A migrated installation with one admin (made by `create-admin`) on SQLite."""
    url = f"sqlite:///{tmp_path / name / 'bot.db'}"
    made = bot_command(tmp_path, "create-admin", "--name", "备份管理员", DATABASE_URL=url)
    assert made.returncode == 0, made.stderr
    return url


def test_backup_refuses_a_non_empty_directory_and_writes_nothing_there(tmp_path):
    url = installation(tmp_path, "live")
    target = tmp_path / "old-backup"
    target.mkdir()
    (target / "keep.txt").write_text("以前的备份", encoding="utf-8")
    refused = bot_command(tmp_path, "backup", str(target), DATABASE_URL=url)
    assert refused.returncode == 2
    assert "不为空" in refused.stderr and "未做任何修改" in refused.stderr
    assert [path.name for path in target.iterdir()] == ["keep.txt"]


def test_backup_of_an_installation_that_was_never_started_says_so(tmp_path):
    refused = bot_command(tmp_path, "backup", str(tmp_path / "b"), DATABASE_URL=f"sqlite:///{tmp_path / 'none.db'}")
    assert refused.returncode == 2 and "不存在" in refused.stderr
    assert not (tmp_path / "b").exists() and not (tmp_path / "none.db").exists()


def test_backup_without_pg_dump_names_the_command_to_run(tmp_path):
    url = "postgresql+psycopg://bot:secret@127.0.0.1:5432/retailer_bot"
    refused = bot_command(tmp_path, "backup", str(tmp_path / "b"), DATABASE_URL=url, PATH="/nonexistent")
    assert refused.returncode == 2
    assert "找不到 pg_dump" in refused.stderr and "pg_dump --format=custom" in refused.stderr
    assert "secret" not in refused.stderr  # the password is not printed
    assert not (tmp_path / "b").exists()


def test_restore_refuses_a_missing_directory_or_one_that_is_no_backup(tmp_path):
    url = f"sqlite:///{tmp_path / 'new' / 'bot.db'}"
    missing = bot_command(tmp_path, "restore", str(tmp_path / "nowhere"), DATABASE_URL=url)
    assert missing.returncode == 2 and "找不到备份目录" in missing.stderr
    (tmp_path / "stray").mkdir()
    stray = bot_command(tmp_path, "restore", str(tmp_path / "stray"), DATABASE_URL=url)
    assert stray.returncode == 2 and "manifest.json" in stray.stderr
    assert not (tmp_path / "new").exists()


def test_restore_refuses_a_non_empty_installation_and_leaves_it_as_it_was(tmp_path):
    backup_dir = tmp_path / "bk"
    assert bot_command(tmp_path, "backup", str(backup_dir), DATABASE_URL=installation(tmp_path, "a")).returncode == 0
    occupied = installation(tmp_path, "b")
    before = (tmp_path / "b" / "bot.db").read_bytes()
    refused = bot_command(tmp_path, "restore", str(backup_dir), DATABASE_URL=occupied)
    assert refused.returncode == 2
    assert "不是空的" in refused.stderr and "未做任何修改" in refused.stderr
    assert (tmp_path / "b" / "bot.db").read_bytes() == before


def test_restore_refuses_a_backup_of_a_newer_schema_and_a_damaged_one(tmp_path):
    backup_dir = tmp_path / "bk"
    assert bot_command(tmp_path, "backup", str(backup_dir), DATABASE_URL=installation(tmp_path, "a")).returncode == 0
    target = tmp_path / "new" / "bot.db"

    newer = tmp_path / "newer"
    shutil.copytree(backup_dir, newer)
    manifest = json.loads((newer / MANIFEST).read_text(encoding="utf-8"))
    manifest["schema_revision"] = "9999"
    (newer / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    refused = bot_command(tmp_path, "restore", str(newer), DATABASE_URL=f"sqlite:///{target}")
    assert refused.returncode == 2
    assert "9999" in refused.stderr and "比本程序新" in refused.stderr
    assert not target.exists()

    damaged = tmp_path / "damaged"
    shutil.copytree(backup_dir, damaged)
    with (damaged / "bot.db").open("r+b") as copy:
        copy.seek(5000)
        copy.write(b"\xff" * 16)
    refused = bot_command(tmp_path, "restore", str(damaged), DATABASE_URL=f"sqlite:///{target}")
    assert refused.returncode == 2 and "SHA-256" in refused.stderr
    assert not target.exists()

    restored = bot_command(tmp_path, "restore", str(backup_dir), DATABASE_URL=f"sqlite:///{target}")
    assert restored.returncode == 0, restored.stderr
    assert ids(f"sqlite:///{target}", "SELECT id FROM staff_member WHERE name = '备份管理员'")
