"""The escalation loop: an APScheduler job sweeps the pledges and sends scheduled broadcasts (supply
notices, publicity posts), at start-up and then every interval; another sends supervisors their daily
digest and the monthly appraisal when due; another forgets old console sign-ins hourly."""

from datetime import datetime

import nonebot
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from nonebot.plugin import PluginMetadata

from bot.runtime import get_runtime
from bot.services import digests, escalation, launches, signin, supply

__plugin_meta__ = PluginMetadata(name="承诺督办", description="三项承诺的预警、超时与逐级上报", usage="")

SWEEP_BATCH = 500
driver = nonebot.get_driver()
scheduler = AsyncIOScheduler()


async def sweep() -> None:
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


@driver.on_startup
async def start_sweeping() -> None:
    scheduler.add_job(sweep, "interval", seconds=get_runtime().policies.sweep_seconds,
                      next_run_time=datetime.now(), max_instances=1, coalesce=True, id="pledge-sweep")
    scheduler.add_job(deliver_digests, "interval", minutes=5, next_run_time=datetime.now(), max_instances=1,
                      coalesce=True, id="supervisor-digests")
    scheduler.add_job(forget_old_sign_ins, "interval", hours=1, max_instances=1, coalesce=True,
                      id="sign-in-cleanup")
    scheduler.start()


@driver.on_shutdown
async def stop_sweeping() -> None:
    scheduler.shutdown(wait=False)
