"""The stored numbers /metrics reports (bot/metrics.py read_store), counted from the tables at scrape time."""

from bot.metrics import read_store
from bot.models import Role
from bot.policy import Policies
from bot.services import escalation
from tests import factories as make


def numbers(session, clock) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in read_store(session, clock.now()) for sample in family.samples}


def test_a_breach_charged_to_two_agents_counts_once_and_its_warning_once(session, clock, runtime):
    policies = Policies()
    make.group(session, clock)
    for n in (1, 2):
        make.staff(session, clock, Role.AGENT, chat_user_id=f"3100{n}", name=f"客服{n}")
    before = numbers(session, clock)
    assert before[("retailer_bot_pledge_breaches_total", (("kind", "reply"),))] == 0
    assert before[("retailer_bot_tickets_opened_total", (("category", "terminal"),))] == 0
    make.post(session, clock, runtime.settings, "终端屏幕一直闪", user_id="10001")
    for minutes in (25, 10, 30):  # warned, then breached (charged to both agents on duty), then escalated
        clock.advance(minutes=minutes)
        escalation.sweep(session, now=clock.now(), policies=policies, tz=runtime.settings.tz)
        session.commit()
    after = numbers(session, clock)
    assert after[("retailer_bot_tickets_opened_total", (("category", "terminal"),))] == 1
    assert after[("retailer_bot_pledge_warnings_total", (("kind", "reply"),))] == 1
    assert after[("retailer_bot_pledge_breaches_total", (("kind", "reply"),))] == 1
    assert after[("retailer_bot_pledge_breaches_total", (("kind", "visit"),))] == 0
    waiting = sum(value for (name, _), value in after.items() if name == "retailer_bot_outbox_waiting")
    assert waiting >= 3  # the acknowledgement, the warning and the breach notices, none sent (no sender runs)
