"""Builds the one process: runtime (store, clock), NoneBot with its plugins, and the API."""

from __future__ import annotations

import concurrent.futures
import gc
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import nonebot
from sqlmodel import col, select

from bot import webhooks
from bot.clock import Clock
from bot.config import Settings
from bot.db import ChildMigration, migrate
from bot.models import ChatGroup
from bot.runtime import Runtime, set_runtime
from bot.services import classify, directory, knowledge, staff
from bot.services.knowledge import KnowledgeBase

PLUGINS = ("plugins.private_chat", "plugins.intake", "plugins.supply_notices", "plugins.new_products",
           "plugins.terminal_help", "plugins.training", "plugins.sender", "plugins.scheduler")
CONSOLE_GROUP = "general"  # the console adapter's default channel plays the group
log = logging.getLogger(__name__)


def _route_logs_to_nonebot(level: str) -> None:
    """Our modules log with `logging`; NoneBot's loguru prints them once, beside its own."""
    from bot.logs import FieldsLoguruHandler

    for name in ("bot", "api", "plugins"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [FieldsLoguruHandler()]
        logger.setLevel(level)
        logger.propagate = False


def start_runtime(settings: Settings, clock: Clock | None = None, *, knowledge_later: bool = False) -> Runtime:
    """Open and migrate the store, make ADMIN_TOKEN's admin (or warn that nobody can administer), and load
    the knowledge (`load_knowledge`); with `knowledge_later`, the service starts that once it serves
    (`init_nonebot`), so it is healthy a second sooner and the first question waits for the index."""
    runtime = open_runtime(settings, clock)
    prepare_store(runtime)
    if not knowledge_later:
        runtime.knowledge = load_knowledge(runtime)
    return runtime


def open_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    """The runtime, set as the current one, before the store is touched: what the plugins and the API hold
    when they load (`init_nonebot`), which the serving process does while its `ChildMigration` works."""
    _route_logs_to_nonebot(settings.log_level)
    runtime = Runtime(settings, clock=clock)
    if hooks := webhooks.resolve(runtime.policies):  # a robot that cannot work stops the start, saying why
        runtime.robots = webhooks.WebhookTransport(hooks, now=runtime.clock.now)
    set_runtime(runtime)
    return runtime


def prepare_store(runtime: Runtime, migration: ChildMigration | None = None) -> None:
    """The store at the newest schema (waiting for the serving process's `migration` in a child, or migrated
    here), and ADMIN_TOKEN's admin made (or a warning that nobody can administer)."""
    if migration is not None:
        migration.wait()
    else:
        migrate(runtime.engine)
    runtime.unit_of_work(staff.ensure_first_admin, runtime.settings.admin_token, now=runtime.clock.now())
    if not runtime.unit_of_work(staff.has_active_admin):
        log.warning(staff.NO_ADMIN_WARNING)


def load_knowledge(runtime: Runtime) -> KnowledgeBase:
    """Add the knowledge files' new entries to the store, build the index, warm the classifier (jieba's
    dictionary): about a second of CPU, the most of any step at start."""
    runtime.unit_of_work(knowledge.seed, Path(runtime.settings.knowledge_dir), now=runtime.clock.now())
    base = KnowledgeBase(Path(runtime.settings.knowledge_dir), runtime.engine)
    classify.warm_up()
    return base


def load_knowledge_once_serving(runtime: Runtime) -> None:
    """Build the knowledge in a worker thread once the driver has started; a build that fails (a broken
    knowledge file) stops the service (SIGTERM to itself), as it would have refused to start."""

    def stop_if_failed(built: concurrent.futures.Future[KnowledgeBase]) -> None:
        if (error := built.exception()) is not None:
            log.critical("知识库加载失败，服务停止 / knowledge base failed to load, stopping: %s", error,
                         exc_info=error)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        keep_out_of_collections()
        built.result().after_build = keep_out_of_collections

    def keep_out_of_collections() -> None:
        """What start-up built (the knowledge index, the intake model, jieba's dictionary: most of the heap)
        lives as long as the process: frozen, the cyclic collector no longer walks it in every full collection,
        which under load took 130-150 ms each, a stall for every retailer waiting meanwhile (5-7 ms after)."""
        gc.freeze()

    def start() -> None:
        runtime.build_knowledge(lambda: load_knowledge(runtime)).add_done_callback(stop_if_failed)

    nonebot.get_driver().on_startup(start)


def _drop_quiet_logs_early(level: str, log_format: str = "text") -> None:
    """NoneBot's handler takes every level and filters after a record is built (colours parsed and
    all): a few per event, measurable on the intake path. With the level on the handler itself,
    loguru returns before building anything quieter. `LOG_FORMAT=json` writes one JSON object a line
    instead (for the journal or a log shipper), with the same level on the handler."""
    from nonebot import log as nonebot_log

    from bot.logs import json_sink

    nonebot_log.logger.remove(nonebot_log.logger_id)
    if log_format == "json":
        nonebot_log.logger_id = nonebot_log.logger.add(
            json_sink, level=level.upper(), diagnose=False, filter=nonebot_log.default_filter, format="{message}")
        return
    nonebot_log.logger_id = nonebot_log.logger.add(
        sys.stdout, level=level.upper(), diagnose=False, filter=nonebot_log.default_filter,
        format=nonebot_log.default_format)


def configure_logging(settings: Settings) -> None:
    """The log handler as the service writes, before anything starts logging: with `LOG_FORMAT=json` the
    start-up lines, and jieba's own (it prints to stderr by itself), are JSON lines as well."""
    _drop_quiet_logs_early(settings.log_level, settings.log_format)
    if settings.log_format == "json":
        import jieba

        from bot.logs import FieldsLoguruHandler

        jieba.default_logger.handlers[:] = [FieldsLoguruHandler()]
        jieba.default_logger.propagate = False


def init_nonebot(settings: Settings, *, console: bool = False) -> None:
    """NoneBot on its FastAPI driver, serving OneBot v11 and the admin API (or the console)."""
    common: dict[str, Any] = dict(log_level=settings.log_level, command_start=[""], command_sep=[" "])
    _drop_quiet_logs_early(settings.log_level, settings.log_format)
    if console:
        nonebot.init(driver="~none", **common)
        from nonebot.adapters.console import Adapter as ConsoleAdapter

        nonebot.get_driver().register_adapter(ConsoleAdapter)
    else:
        nonebot.init(driver="~fastapi+~websockets", host=settings.host, port=settings.port,
                     onebot_access_token=settings.onebot_access_token or None,
                     fastapi_openapi_url="/openapi.json", fastapi_docs_url=None, **common)
        from plugins.chat import SturdyOneBotAdapter

        nonebot.get_driver().register_adapter(SturdyOneBotAdapter)
        from api.main import install

        install(nonebot.get_app(), connected_bots=lambda: sorted(nonebot.get_bots()))
        from api import metrics

        metrics.install(nonebot.get_app(), connected_bots=lambda: sorted(nonebot.get_bots()))
        from api import docs
        from api.console import install as install_console

        docs.install(nonebot.get_app())
        install_console(nonebot.get_app())
    for plugin in PLUGINS:
        nonebot.load_plugin(plugin)


def prepare_console_group(runtime: Runtime) -> None:
    """The terminal chat's channel is a registered group, so questions there become tickets."""

    def ensure(session, now):
        if not session.exec(select(ChatGroup).where(col(ChatGroup.platform) == "console",
                                                    col(ChatGroup.group_id) == CONSOLE_GROUP)).first():
            directory.create_group(session, {"platform": "console", "group_id": CONSOLE_GROUP,
                                             "name": "终端体验群"}, now=now)

    runtime.unit_of_work(ensure, runtime.clock.now())
