"""The escalation loop: an APScheduler job sweeps the pledges and sends scheduled broadcasts (supply
notices, publicity posts), at start-up and then every interval; another sends supervisors their daily
digest and the monthly appraisal when due; another forgets old console sign-ins hourly; another
rebuilds the knowledge index, in a worker thread, when another instance changed the stored entries."""

import asyncio
import logging
from datetime import datetime

import nonebot
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from nonebot.plugin import PluginMetadata

from bot import metrics
from bot.runtime import get_runtime
from bot.services import digests, escalation, launches, signin, supply, tickets

__plugin_meta__ = PluginMetadata(name="承诺督办", description="三项承诺的预警、超时与逐级上报", usage="")

SWEEP_BATCH = 500
log = logging.getLogger(__name__)
driver = nonebot.get_driver()
scheduler = AsyncIOScheduler()


async def sweep() -> None:
    with metrics.sweep_timer():  # /metrics: retailer_bot_sweep_seconds
        await _sweep()


async def _sweep() -> None:
    runtime = get_runtime()
    tz = runtime.settings.tz
    await runtime.run(supply.publish_due, now=runtime.clock.now(), tz=tz)
    await runtime.run(launches.posts_due, now=runtime.clock.now())
    while True:  # a backlog (after downtime) is worked off in batches
        result = await runtime.run(escalation.sweep, now=runtime.clock.now(), policies=runtime.policies,
                                   tz=runtime.settings.tz, limit=SWEEP_BATCH)
        if result.examined < SWEEP_BATCH:
            return


async def deliver_digests() -> None:
    runtime = get_runtime()
    await runtime.run(digests.deliver, now=runtime.clock.now(), policies=runtime.policies, tz=runtime.settings.tz,
                      console_url=runtime.settings.console_url)


async def forget_old_sign_ins() -> None:
    runtime = get_runtime()
    await runtime.run(signin.forget_old, now=runtime.clock.now())


async def forget_old_unticketed() -> None:
    runtime = get_runtime()
    await runtime.run(tickets.forget_unticketed, now=runtime.clock.now())


async def refresh_knowledge() -> None:
    try:
        knowledge = await get_runtime().knowledge_ready()
    except Exception:  # the build at start failed: it said so, and the service is stopping
        return
    if knowledge is None:
        return
    try:
        await asyncio.to_thread(knowledge.refresh)
    except Exception:  # the database is away or a stored entry is unreadable: keep answering from the old index
        log.warning("knowledge base: cannot refresh the index", exc_info=True)


@driver.on_startup
async def start_sweeping() -> None:
    scheduler.add_job(sweep, "interval", seconds=get_runtime().policies.sweep_seconds,
                      next_run_time=datetime.now(), max_instances=1, coalesce=True, id="pledge-sweep")
    scheduler.add_job(deliver_digests, "interval", minutes=5, next_run_time=datetime.now(), max_instances=1,
                      coalesce=True, id="supervisor-digests")
    scheduler.add_job(forget_old_sign_ins, "interval", hours=1, max_instances=1, coalesce=True,
                      id="sign-in-cleanup")
    scheduler.add_job(forget_old_unticketed, "interval", hours=1, max_instances=1, coalesce=True,
                      id="unticketed-cleanup")
    scheduler.add_job(refresh_knowledge, "interval", seconds=get_runtime().settings.knowledge_refresh_seconds,
                      max_instances=1, coalesce=True, id="knowledge-refresh")
    scheduler.start()


@driver.on_shutdown
async def stop_sweeping() -> None:
    scheduler.shutdown(wait=False)
