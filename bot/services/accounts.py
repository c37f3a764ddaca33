"""Bot accounts and the groups each is in: the one writer of `bot_account` and `bot_membership`.

With several QQ accounts, each can post only in the groups it is a member of. Membership is learnt
three ways: the group list OneBot gives when an account connects (`groups_listed`, which replaces what
the previous list and messages said), a group message arriving through an account (`note_member`), and
admins adding or removing an account by hand (`add_member`, `remove_member`; a later group list does
not remove an admin's addition). The sender reads `members_of` to send a group message only through an
account in the group; a group none of whose accounts is connected waits (`overview` names it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from bot.models import BotAccount, BotMembership, ChatGroup, table_of
from bot.services.errors import Conflict, NotFound, ServiceError
from bot.services.outbox import ENQUEUED

PLATFORM, MESSAGE, ADMIN = "platform", "message", "admin"


def _account(session: Session, platform: str, bot_id: str) -> BotAccount | None:
    return session.exec(select(BotAccount).where(col(BotAccount.platform) == platform,
                                                 col(BotAccount.bot_id) == bot_id)).first()


def _insert_missing(session: Session, model: type, keys: list[str], values: dict) -> bool:
    """Insert the row unless one with the same keys is there (another writer may be adding it at this very
    moment: an admin, or another instance); whether it was inserted."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table_of(model)).values(**values).on_conflict_do_nothing(index_elements=keys)
    return bool(session.connection().execute(statement).rowcount)


def _seen(session: Session, platform: str, bot_id: str, now: datetime) -> BotAccount:
    account = _account(session, platform, bot_id)
    if account is None:
        _insert_missing(session, BotAccount, ["platform", "bot_id"],
                        {"platform": platform, "bot_id": bot_id, "first_seen_at": now})
        account = _account(session, platform, bot_id)
        assert account is not None, "inserted, or there already"
    return account


def _may_go(session: Session) -> None:
    """Rows that waited for an account may be sent now: the sender asks the store once this commits."""
    session.info[ENQUEUED] = True


def _membership(session: Session, platform: str, group_id: str, bot_id: str) -> BotMembership | None:
    return session.exec(select(BotMembership).where(
        col(BotMembership.platform) == platform, col(BotMembership.group_id) == group_id,
        col(BotMembership.bot_id) == bot_id)).first()


def account_connected(session: Session, platform: str, bot_id: str, *, now: datetime) -> None:
    """An account connected (its group list may follow, or never come: then messages teach it)."""
    _seen(session, platform, bot_id, now)
    _may_go(session)


def groups_listed(session: Session, platform: str, bot_id: str, group_ids: Iterable[str], *,
                  now: datetime) -> None:
    """The platform's list of the account's groups: it is in these and, admins' additions aside, no other."""
    account = _seen(session, platform, bot_id, now)
    account.groups_listed_at = now
    listed = set(group_ids)
    known = {row.group_id: row for row in session.exec(select(BotMembership).where(
        col(BotMembership.platform) == platform, col(BotMembership.bot_id) == bot_id))}
    for group_id, row in known.items():
        if group_id not in listed and row.source != ADMIN:
            session.delete(row)
    for group_id in sorted(listed - set(known)):
        session.add(BotMembership(platform=platform, group_id=group_id, bot_id=bot_id, source=PLATFORM,
                                  created_at=now))
    session.flush()
    _may_go(session)  # it is connected: what waited for it may go


def note_member(session: Session, platform: str, group_id: str, bot_id: str, *, now: datetime) -> None:
    """A group message came through the account: it is in that group."""
    _seen(session, platform, bot_id, now)
    if _membership(session, platform, group_id, bot_id) is None and _insert_missing(
            session, BotMembership, ["platform", "group_id", "bot_id"],
            {"platform": platform, "group_id": group_id, "bot_id": bot_id, "source": MESSAGE, "created_at": now}):
        _may_go(session)


def _group(session: Session, group_pk: int) -> ChatGroup:
    group = session.get(ChatGroup, group_pk)
    if group is None:
        raise NotFound(f"群 {group_pk} 不存在")
    return group


def add_member(session: Session, group_pk: int, bot_id: str, *, now: datetime) -> BotMembership:
    """An admin says the account is in the group. Only an account the service has seen may be named."""
    group = _group(session, group_pk)
    bot_id = bot_id.strip()
    if _account(session, group.platform, bot_id) is None:
        raise ServiceError(f"没有机器人账号 {bot_id or '（空）'}：只能填写已连接过本服务的账号")
    if _membership(session, group.platform, group.group_id, bot_id) is not None:
        raise Conflict(f"机器人账号 {bot_id} 已在群 {group.group_id} 中")
    row = BotMembership(platform=group.platform, group_id=group.group_id, bot_id=bot_id, source=ADMIN,
                        created_at=now)
    session.add(row)
    session.flush()
    _may_go(session)
    return row


def remove_member(session: Session, group_pk: int, bot_id: str) -> None:
    """An admin says the account is not in the group (the account's next group list may say otherwise)."""
    group = _group(session, group_pk)
    row = _membership(session, group.platform, group.group_id, bot_id)
    if row is None:
        raise NotFound(f"机器人账号 {bot_id} 不在群 {group.group_id} 中")
    session.delete(row)
    session.flush()


def members_of(session: Session, groups: Iterable[tuple[str, str]]) -> dict[tuple[str, str], set[str]]:
    """The accounts in each (platform, group id); a group nothing is known of is left out."""
    wanted = set(groups)
    found: dict[tuple[str, str], set[str]] = {}
    if not wanted:
        return found
    rows = session.exec(select(BotMembership.platform, BotMembership.group_id, BotMembership.bot_id).where(
        col(BotMembership.group_id).in_(sorted({group_id for _, group_id in wanted}))))
    for platform, group_id, bot_id in rows:
        if (platform, group_id) in wanted:
            found.setdefault((platform, group_id), set()).add(bot_id)
    return found


@dataclass(frozen=True)
class AccountHealth:
    platform: str
    bot_id: str
    connected: bool
    groups: list[str]  # the registered, active groups it serves
    last_send_at: datetime | None


@dataclass(frozen=True)
class Overview:
    accounts: list[AccountHealth]
    members: dict[int, list[str]]  # chat_group.id -> its accounts
    waiting_groups: list[ChatGroup]  # registered, active, and none of its accounts connected


def overview(session: Session, *, connected: dict[str, str], last_sends: dict[str, datetime]) -> Overview:
    """Every account seen or connected, with its groups, and the groups that cannot be sent to now."""
    groups = list(session.exec(select(ChatGroup).order_by(col(ChatGroup.id))))
    by_key = {(group.platform, group.group_id): group for group in groups}
    members: dict[int, list[str]] = {id_: [] for id_ in (group.id for group in groups) if id_ is not None}
    serves: dict[tuple[str, str], list[str]] = {}
    for row in session.exec(select(BotMembership).order_by(col(BotMembership.bot_id))):
        group = by_key.get((row.platform, row.group_id))
        if group is None or group.id is None:
            continue
        members[group.id].append(row.bot_id)
        if group.active:
            serves.setdefault((row.platform, row.bot_id), []).append(group.group_id)
    accounts = {(account.platform, account.bot_id) for account in session.exec(select(BotAccount))}
    accounts |= {(platform, bot_id) for bot_id, platform in connected.items()}
    health = [AccountHealth(platform, bot_id, connected.get(bot_id) == platform, serves.get((platform, bot_id), []),
                            last_sends.get(bot_id)) for platform, bot_id in sorted(accounts)]
    waiting = [group for group in groups if group.active and group.id is not None
               and not any(connected.get(bot_id) == group.platform for bot_id in members[group.id])]
    return Overview(health, members, waiting)

