"""What supervisors are sent without asking: a daily digest and the monthly appraisal, privately.

On each working day (the desk calendar) from `digest_at`, each supervisor gets what breached since
the previous working day's digest and what falls due today. On the first working day of a month
(or the first day the service runs after it) they get last month's appraisal in brief with a link
to the console page. Each message goes through the outbox with a key per day (or month) and person,
so it goes out once across instances and restarts; the scheduler may call `deliver` as often as
it likes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.models import Lane, Pledge, PledgeBreach, PledgeState, Role, StaffMember
from bot.policy import Policies
from bot.services import notices, outbox
from bot.services.reports import appraisal
from bot.services.reports.base import KIND_LABELS, Period, Scope

WEEKDAYS = "一二三四五六日"
SHOWN_TICKETS = 5


def _audience(session: Session, policies: Policies) -> notices.Audience | None:
    """The active supervisors, if the digest's channels reach them; else the admins."""
    active = list(session.exec(select(StaffMember).where(col(StaffMember.active).is_(True))))
    for role in (Role.SUPERVISOR, Role.ADMIN):
        audience = notices.Audience(role, [m for m in active if m.has_role(role)])
        if notices.reaches(policies, "digest", audience):
            return audience
    return None


def _send(session: Session, policies: Policies, audience: notices.Audience, key: str, text: Callable[[], str],
          now: datetime) -> int:
    """Queue the message on the digest's channels where it has not gone yet (the text is built only then)."""
    rows = [row for row in notices.fan_out(policies, audience, "digest", key, "", by_person=True, lane=Lane.STAFF)
            if not outbox.key_taken(session, row["dedupe_key"])]
    if rows:
        body = text()
        outbox.enqueue_many(session, [row | {"text": notices.texts.for_staff_group(body)
                                             if row["target_kind"] == notices.ROBOT else body} for row in rows],
                            now=now)
    return len(rows)


def _digest_moment(day: date, policies: Policies, tz: ZoneInfo) -> datetime:
    hours, minutes = (int(part) for part in policies.digest_at.split(":"))
    return datetime.combine(day, time(hours, minutes), tz)


def _previous_workday(day: date, is_workday) -> date:
    earlier = day - timedelta(days=1)
    while not is_workday(earlier):
        earlier -= timedelta(days=1)
    return earlier


def daily_text(session: Session, day: date, *, policies: Policies, tz: ZoneInfo, console_url: str) -> str:
    """Breaches since the previous working day's digest, and what falls due today."""
    is_workday = policies.calendar("reply", tz).is_workday
    since = _digest_moment(_previous_workday(day, is_workday), policies, tz)
    until = _digest_moment(day, policies, tz)
    breaches = session.exec(select(PledgeBreach.kind, PledgeBreach.ticket_id).where(
        col(PledgeBreach.breached_at) >= since, col(PledgeBreach.breached_at) < until)
        .distinct().order_by(col(PledgeBreach.ticket_id))).all()
    due_today = session.exec(select(Pledge.kind, func.count()).where(
        Pledge.state == PledgeState.PENDING, col(Pledge.due_at) >= until,
        col(Pledge.due_at) < datetime.combine(day + timedelta(days=1), time(), tz)).group_by(Pledge.kind)).all()
    overdue = session.exec(select(func.count()).select_from(Pledge).where(
        Pledge.state == PledgeState.PENDING, col(Pledge.breached_at).is_not(None))).one()
    lines = [f"【每日督办】{day.month}月{day.day}日（周{WEEKDAYS[day.weekday()]}）"]
    if breaches:
        kinds = Counter(kind for kind, _ in breaches)
        tickets = list(dict.fromkeys(ticket_id for _, ticket_id in breaches))
        shown = "、".join(f"#{t}" for t in tickets[:SHOWN_TICKETS]) + ("等" if len(tickets) > SHOWN_TICKETS else "")
        lines.append(f"上个工作日以来超时 {len(breaches)} 项：" + "，".join(
            f"{KIND_LABELS.get(kind, kind)} {n}" for kind, n in kinds.items()) + f"（{shown}）")  # type: ignore[call-overload]
    else:
        lines.append("上个工作日以来没有超时。")
    if due_today:
        lines.append(f"今天到期 {sum(n for _, n in due_today)} 项：" + "，".join(
            f"{KIND_LABELS.get(kind, kind)} {n}" for kind, n in due_today))  # type: ignore[call-overload]
    else:
        lines.append("今天没有到期的承诺。")
    if overdue:
        lines.append(f"仍在超时未兑现：{overdue} 项。")
    lines.append(f"查看：{console_url}/console/tickets?view=breached")
    return "\n".join(lines)


def monthly_text(session: Session, period: Period, *, policies: Policies, tz: ZoneInfo, console_url: str) -> str:
    result = appraisal.report(session, period, Scope(), tz, policies.appraisal)
    lines = [f"【月度考评】{period.label}"]
    if not result.scores:
        lines.append("本月没有参评人员。")
    else:
        excellent = sum(1 for s in result.scores if s.excellent)
        lines.append(f"参评 {len(result.scores)} 人，优秀（{policies.appraisal.excellent:g} 分及以上）{excellent} 人。")
        lines.append("前三名：" + "、".join(f"{s.name} {s.score:g}" for s in result.scores[:3]))
        lowest = result.scores[-1]
        if len(result.scores) > 3:
            lines.append(f"得分最低：{lowest.name} {lowest.score:g}（超时 {lowest.breaches} 次，低分回访 "
                         f"{lowest.low_scores} 次）")
    month = period.query()["month"]
    lines.append(f"详情与扣分明细：{console_url}/console/reports/appraisal?month={month}")
    return "\n".join(lines)


def deliver(session: Session, *, now: datetime, policies: Policies, tz: ZoneInfo, console_url: str) -> int:
    """Send what is due now (nothing before `digest_at` or on a day off); how many messages were queued."""
    today = now.astimezone(tz).date()
    is_workday = policies.calendar("reply", tz).is_workday
    if not is_workday(today) or now < _digest_moment(today, policies, tz):
        return 0
    audience = _audience(session, policies)
    if audience is None:
        return 0
    daily_key = f"digest:{today.isoformat()}"
    sent = _send(session, policies, audience, daily_key, lambda: daily_text(
        session, today, policies=policies, tz=tz, console_url=console_url), now)
    last_month = Period.previous_month(today)
    monthly_key = f"appraisal:{last_month.query()['month']}"
    sent += _send(session, policies, audience, monthly_key, lambda: monthly_text(
        session, last_month, policies=policies, tz=tz, console_url=console_url), now)
    return sent
