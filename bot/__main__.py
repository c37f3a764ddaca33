"""`python -m bot` serves the bot, the API and the scheduler.

    python -m bot                         serve (OneBot v11, admin API, outbox sender)
    python -m bot console                 a terminal chat as a retailer, on the same database
    python -m bot import-retailers FILE   load the customer export (XLSX, XLS or CSV) into the directory
    python -m bot create-admin [--name 名字]  create an admin (or re-issue their token) and print the token once
    python -m bot export-knowledge DIR    write the stored knowledge entries as files, DIR/<column>/<name>.yaml
    python -m bot backup DIR              a consistent copy of the database and policy file, while the service runs
    python -m bot restore DIR             put a backup back into an empty installation
    python -m bot check-policy            check POLICY_FILE and the staff alert robots it names, change nothing
    python -m bot migrate                 bring the database's schema to this release's (serving does it at start)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.config import Settings, UnsafeConfigError


def _serve(settings: Settings, console: bool) -> int:
    if not console:
        try:
            settings.check_safe_to_serve()
        except UnsafeConfigError as error:
            print(f"拒绝启动 / refusing to start: {error}", file=sys.stderr)
            return 2
        if (problem := _policy_problem(settings)) is not None:
            print(f"拒绝启动 / refusing to start: {problem}", file=sys.stderr)
            return 2
    from bot.db import ChildMigration

    migration = ChildMigration(settings.database_url)  # Alembic's work beside the imports that follow
    import nonebot

    from bot.app import (
        configure_logging,
        init_nonebot,
        load_knowledge_once_serving,
        open_runtime,
        prepare_console_group,
        prepare_store,
    )

    configure_logging(settings)
    runtime = open_runtime(settings)
    init_nonebot(settings, console=console)  # the plugins and the API load while the child migrates
    prepare_store(runtime, migration)
    if console:
        prepare_console_group(runtime)
    load_knowledge_once_serving(runtime)
    try:
        nonebot.run()
    finally:
        runtime.close()
    return 0


def _policy_problem(settings: Settings) -> str | None:
    """What is wrong with the policy file or the robots it names (their URLs and secrets), or None."""
    from pydantic import ValidationError

    from bot.policy import load_policies
    from bot.webhooks import AlertConfigError, resolve

    try:
        resolve(load_policies(settings.policy_file))
    except (OSError, ValueError) as error:  # ValidationError and TOML errors are ValueErrors
        if isinstance(error, ValidationError):
            details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            return f"策略文件 {settings.policy_file} 有误：{details}"
        if isinstance(error, AlertConfigError):
            return str(error)
        return f"策略文件 {settings.policy_file} 无法读取：{error}"
    return None


def _check_policy(settings: Settings) -> int:
    """The policy file and the staff alert robots, checked as the service checks them at start."""
    from bot.policy import NOTICE_KINDS, load_policies
    from bot.webhooks import resolve

    if (problem := _policy_problem(settings)) is not None:
        print(problem, file=sys.stderr)
        return 2
    policies = load_policies(settings.policy_file)
    print(f"策略文件 {settings.policy_file or '（未设置，使用默认值）'} 无误。")
    for name, hook in resolve(policies).items():
        print(f"机器人通道 {name}（{hook.kind}）：{hook.masked}，每分钟最多 {hook.rate_per_minute} 条")
    for notice in NOTICE_KINDS:
        routes = policies.alerts.routes.get(notice, {})  # type: ignore[call-overload]
        if routes:
            print(f"{notice}: " + "；".join(f"{role} → {', '.join(names)}" for role, names in routes.items()))
    return 0


def _import_retailers(settings: Settings, path: Path, dry_run: bool, full: bool) -> int:
    from bot.db import migrate
    from bot.runtime import Runtime
    from bot.services.retailer_import import import_retailers
    from bot.services.spreadsheets import TableError

    if not path.is_file():
        print(f"找不到文件：{path}", file=sys.stderr)
        return 2
    runtime = Runtime(settings)
    migrate(runtime.engine)
    try:
        report = runtime.unit_of_work(import_retailers, path.read_bytes(), path.name,
                                      policies=runtime.policies, tz=settings.tz, dry_run=dry_run, full=full,
                                      staff_id=None, now=runtime.clock.now())
    except TableError as error:
        print(str(error), file=sys.stderr)
        return 1
    finally:
        runtime.close()
    summary = {key: value for key, value in report.as_dict().items() if key != "changes"}
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    for problem in report.errors:
        print(f"第 {problem.row} 行 [{problem.column}] {problem.message}", file=sys.stderr)
    if report.errors:
        print("有错误，未做任何修改。", file=sys.stderr)
        return 1
    print("试运行：未做任何修改。" if dry_run else "导入完成。")
    return 0


def _migrate(settings: Settings) -> int:
    """The schema brought to this release's, as the service does at start (there in a child process)."""
    from bot.db import make_engine, migrate

    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return 0


def _create_admin(settings: Settings, name: str | None) -> int:
    """The first admin without ADMIN_TOKEN, or the way back in when every admin's token is lost."""
    from bot.db import migrate
    from bot.runtime import Runtime
    from bot.services import staff
    from bot.services.errors import ServiceError

    runtime = Runtime(settings)
    migrate(runtime.engine)
    try:
        admin, token = runtime.unit_of_work(staff.create_admin, name or staff.FIRST_ADMIN_NAME,
                                            now=runtime.clock.now())
    except ServiceError as error:
        print(str(error), file=sys.stderr)
        return 2
    finally:
        runtime.close()
    print(f"管理员「{admin.name}」（编号 {admin.id}）的令牌如下，只显示这一次，请妥善保存：")
    print(token)
    return 0


def _export_knowledge(settings: Settings, directory: Path) -> int:
    """The stored entries back to files (say knowledge/entries, to keep the curation in version control)."""
    from bot.db import migrate
    from bot.runtime import Runtime
    from bot.services import knowledge

    runtime = Runtime(settings)
    migrate(runtime.engine)
    try:
        files = runtime.unit_of_work(knowledge.export_files)
    finally:
        runtime.close()
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"已导出 {len(files)} 个知识条目到 {directory}")
    return 0


def _backup(settings: Settings, directory: Path) -> int:
    from bot.backup import BackupError, backup

    try:
        done = backup(settings, directory)
    except BackupError as error:
        print(f"备份失败，未做任何修改：{error}", file=sys.stderr)
        return 2
    files = "、".join(done.manifest["files"])
    print(f"已备份到 {directory}（{files}；数据库结构版本 {done.manifest['schema_revision']}）")
    return 0


def _restore(settings: Settings, directory: Path) -> int:
    from bot.backup import BackupError, restore

    try:
        done = restore(settings, directory)
    except BackupError as error:
        print(f"恢复失败，未做任何修改：{error}", file=sys.stderr)
        return 2
    print(f"已从 {directory} 恢复（备份于 {done.manifest['created_at']}，数据库结构版本 "
          f"{done.manifest['schema_revision']}）。启动服务时会自动升级到本版本的结构。")
    for note in done.notes:
        print(note)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("console", help="terminal chat as a retailer")
    load = commands.add_parser("import-retailers", help="load the customer export")
    load.add_argument("file", type=Path)
    load.add_argument("--dry-run", action="store_true", help="report only, change nothing")
    load.add_argument("--full", action="store_true", help="mark retailers absent from the file inactive")
    admin = commands.add_parser("create-admin", help="create an admin (or re-issue their token); prints it once")
    admin.add_argument("--name", help="the admin's name (default 管理员)")
    export = commands.add_parser("export-knowledge", help="write the stored knowledge entries as YAML files")
    export.add_argument("directory", type=Path, help="where to write <column>/<name>.yaml (e.g. knowledge/entries)")
    save = commands.add_parser("backup", help="copy the database and policy file while the service runs")
    save.add_argument("directory", type=Path, help="a new or empty directory")
    load_backup = commands.add_parser("restore", help="put a backup back into an empty installation")
    load_backup.add_argument("directory", type=Path, help="a directory written by `backup`")
    commands.add_parser("check-policy", help="check POLICY_FILE and its staff alert robots, change nothing")
    commands.add_parser("migrate", help="bring the database's schema to this release's (the service does at start)")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "import-retailers":
        return _import_retailers(settings, args.file, args.dry_run, args.full)
    if args.command == "create-admin":
        return _create_admin(settings, args.name)
    if args.command == "backup":
        return _backup(settings, args.directory)
    if args.command == "restore":
        return _restore(settings, args.directory)
    if args.command == "check-policy":
        return _check_policy(settings)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "export-knowledge":
        return _export_knowledge(settings, args.directory)
    return _serve(settings, console=args.command == "console")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
