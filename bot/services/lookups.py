"""What intake looks up for every message, kept in memory: the group it was written in, whether the sender
is active staff, and the retailer their chat account is bound to (three statements a message otherwise,
bench/intake_profile.py). This module alone writes `lookup_version`.

Each process keeps one copy per engine. A change made in this process is seen by its next message: the
writer (`directory`, `staff`) calls `changed` in the change's transaction, which forgets the table's copy
(or changes the one row, for the account a group is answered through) once the transaction commits; until
then that transaction reads past the copy, so it sees its own change, and a rollback leaves the copy as it
was. `changed` also raises the table's stored version: intake calls `refresh` at each message, which reads
the versions at most every `LOOKUPS_REFRESH_SECONDS` and forgets the tables whose version moved other than
by this process's own changes, so another instance's change is seen within that long.

Staff chat accounts are few: all are read at once, so a sender not seen before costs nothing to tell from
staff. Groups and bindings are read one chat at a time and kept, "none" included, up to `ROOM` chats each,
the least recently used forgotten first.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Engine, bindparam, insert, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from bot.db import Prepared, after_commit
from bot.models import ChatBinding, ChatGroup, LookupVersion, StaffMember, table_of

GROUP, STAFF, BINDING = "chat_group", "staff_member", "chat_binding"  # the kept tables, as `lookup_version` names them
ROOM = 50_000  # groups or bindings kept per engine (a few MB)


class GroupRow(NamedTuple):
    """The columns of a chat_group row that intake reads."""

    id: int
    active: bool
    bot_id: str | None
    group_id: str
    platform: str
    district: str | None


# six columns: SQLAlchemy's select (SQLModel's is typed for four)
_GROUP = Prepared(core_select(col(ChatGroup.id), col(ChatGroup.active), col(ChatGroup.bot_id), col(ChatGroup.group_id),
                              col(ChatGroup.platform), col(ChatGroup.district)).where(
    col(ChatGroup.platform) == bindparam("platform"), col(ChatGroup.group_id) == bindparam("group_id")))
_STAFF = Prepared(select(StaffMember.id).where(StaffMember.chat_user_id == bindparam("user_id"), StaffMember.active))
_ALL_STAFF = Prepared(select(StaffMember.id, StaffMember.chat_user_id)
                      .where(col(StaffMember.chat_user_id).is_not(None), StaffMember.active)
                      .order_by(col(StaffMember.id).desc()))  # the lowest id is read last and wins
_BINDING = Prepared(select(ChatBinding.retailer_id).where(ChatBinding.platform == bindparam("platform"),
                                                          ChatBinding.chat_user_id == bindparam("user_id")))
_VERSIONS = Prepared(select(LookupVersion.kind, LookupVersion.version))
_VERSION = table_of(LookupVersion)
_RAISE = (update(_VERSION).where(_VERSION.c.kind == bindparam("changed")).values(version=_VERSION.c.version + 1)
          .returning(_VERSION.c.version))


class _Copy:
    """One engine's copy. `generation` rises whenever something is forgotten: what was read before that is
    not kept (it may be what was just forgotten)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # intake on the event loop, writers also in FastAPI's worker threads
        self.generation = 0
        self.chats: dict[str, OrderedDict[Hashable, Any]] = {GROUP: OrderedDict(), BINDING: OrderedDict()}
        self.staff: dict[str, int] | None = None  # chat account -> staff id, all at once; None: to be read
        self.versions: dict[str, int] | None = None  # as last read
        self.checked_at: datetime | None = None

    def forget(self, *kinds: str) -> None:
        with self.lock:
            self.generation += 1
            for kind in kinds:
                if kind == STAFF:
                    self.staff = None
                else:
                    self.chats[kind].clear()

    def kept(self, kind: str, key: Hashable) -> tuple[bool, Any, int]:
        """(found, the value, the generation to keep a value read now under)."""
        with self.lock:
            chats = self.chats[kind]
            if key in chats:
                chats.move_to_end(key)
                return True, chats[key], self.generation
            return False, None, self.generation

    def keep(self, kind: str, key: Hashable, value: Any, generation: int) -> None:
        with self.lock:
            if generation != self.generation:
                return
            chats = self.chats[kind]
            chats[key] = value
            if len(chats) > ROOM:
                chats.popitem(last=False)

    def change(self, kind: str, key: Hashable, change: Callable[[Any], Any]) -> None:
        """A committed change to one row: the row kept, if any, is changed alike (read from the store, it holds
        every other change committed, or one whose forgetting is still to come), and a read under way is not
        kept (it may be of the row before the change)."""
        with self.lock:
            self.generation += 1
            kept = self.chats[kind].get(key)
            if kept is not None:
                self.chats[kind][key] = change(kept)

    def read_versions(self, versions: dict[str, int], now: datetime) -> None:
        """The stored versions, just read: the tables whose version is not the one known are forgotten."""
        with self.lock:
            known, self.versions, self.checked_at = self.versions, versions, now
        moved = [kind for kind in (GROUP, STAFF, BINDING)
                 if known is None or versions.get(kind, 0) != known.get(kind, 0)]  # no row: 0, as migrated
        if moved:
            self.forget(*moved)

    def raised(self, kind: str, version: int) -> None:
        """A change made here committed as `version`: when it is the only one since the versions were read, the
        next check need not forget the table again."""
        with self.lock:
            if self.versions is not None and self.versions.get(kind, 0) == version - 1:
                self.versions[kind] = version

    def staff_now(self) -> tuple[dict[str, int] | None, int]:
        with self.lock:
            return self.staff, self.generation

    def keep_staff(self, staff: dict[str, int], generation: int) -> None:
        with self.lock:
            if generation == self.generation:
                self.staff = staff


_copies: weakref.WeakKeyDictionary[Engine, _Copy] = weakref.WeakKeyDictionary()
_copies_lock = threading.Lock()
_CHANGED_IN = "lookups_changed_in"  # session.info: kind -> the transaction that changed it


def _copy_of(session: Session) -> _Copy:
    engine = session.get_bind().engine
    copy = _copies.get(engine)
    if copy is None:
        with _copies_lock:
            copy = _copies.setdefault(engine, _Copy())
    return copy


def _reads_past(session: Session, kind: str) -> bool:
    """Whether this transaction changed the table: it must see its change, and keep nothing it read."""
    changed_in = session.info.get(_CHANGED_IN, {}).get(kind)
    return changed_in is not None and changed_in is session.get_transaction()


def refresh(session: Session, *, now: datetime, every: float) -> None:
    """Forget what another instance changed: the stored versions are read if `every` seconds have passed
    since they last were (or the clock went back)."""
    copy = _copy_of(session)
    checked_at = copy.checked_at
    if checked_at is not None and checked_at <= now < checked_at + timedelta(seconds=every):
        return
    copy.read_versions(dict(_VERSIONS.execute(session, {}).fetchall()), now)


def changed(session: Session, kind: str, *, one: tuple[Hashable, Callable[[Any], Any]] | None = None) -> None:
    """The writer of a kept table changed it in this transaction: the stored version is raised (for the other
    instances), this transaction reads past the copy, and once it commits the copy forgets the table, or with
    `one` (a key and how its row changed) changes only that row."""
    connection = session.connection()
    version = connection.execute(_RAISE, {"changed": kind}).scalar()
    if version is None:  # a store emptied by hand: the row is gone
        connection.execute(insert(_VERSION).values(kind=kind, version=1))
        version = 1
    session.info.setdefault(_CHANGED_IN, {})[kind] = session.get_transaction()
    copy = _copy_of(session)

    def committed() -> None:
        if one is None:
            copy.forget(kind)
        else:
            copy.change(kind, *one)
        copy.raised(kind, version)

    after_commit(session, committed)


def forget_everything(engine: Engine) -> None:
    """For a store changed behind the services' backs (the tests empty every table between tests)."""
    _copies.pop(engine, None)


def group(session: Session, platform: str, group_id: str) -> GroupRow | None:
    """The registered group (active or not) a message was written in."""
    def read() -> GroupRow | None:
        found = _GROUP.execute(session, {"platform": platform, "group_id": group_id}).fetchone()
        return GroupRow._make(found) if found else None

    return _kept_or_read(session, GROUP, (platform, group_id), read)


def _kept_or_read(session: Session, kind: str, key: Hashable, read: Callable[[], Any]) -> Any:
    """One chat's row of a kept table: from the copy, or read and kept (unless this transaction changed the
    table, or something was forgotten while it was read)."""
    copy, kept = _copy_of(session), not _reads_past(session, kind)
    if kept:
        found, value, generation = copy.kept(kind, key)
        if found:
            return value
    value = read()
    if kept:
        copy.keep(kind, key, value, generation)
    return value


def staff_member(session: Session, user_id: str) -> StaffMember | None:
    """The active staff member writing from this chat account, if any. Their row is loaded anyway, and
    checked: a member changed on another instance since the versions were read is not taken for staff."""
    if _reads_past(session, STAFF):
        return _staff_in_store(session, user_id)
    copy = _copy_of(session)
    staff, generation = copy.staff_now()
    if staff is None:
        staff = {chat_user_id: staff_id for staff_id, chat_user_id in _ALL_STAFF.execute(session, {})}
        copy.keep_staff(staff, generation)
    staff_id = staff.get(user_id)
    if staff_id is None:
        return None
    member = session.get(StaffMember, staff_id)
    if member is not None and member.active and member.chat_user_id == user_id:
        return member
    copy.forget(STAFF)
    return _staff_in_store(session, user_id)


def _staff_in_store(session: Session, user_id: str) -> StaffMember | None:
    found = _STAFF.execute(session, {"user_id": user_id}).fetchone()
    return session.get(StaffMember, found[0]) if found else None


def retailer_id(session: Session, platform: str, user_id: str) -> int | None:
    """The retailer the chat account is bound to."""
    def read() -> int | None:
        found = _BINDING.execute(session, {"platform": platform, "user_id": user_id}).fetchone()
        return found[0] if found else None

    return _kept_or_read(session, BINDING, (platform, user_id), read)
