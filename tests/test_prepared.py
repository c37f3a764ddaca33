"""Prepared statements (`bot.db.Prepared`): run on the driver's cursor, they must store and find exactly what
SQLAlchemy's own execution would, on SQLite and on PostgreSQL."""

from datetime import timedelta

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, insert, update
from sqlmodel import Session, select

from bot.db import Prepared
from bot.models import OutboxMessage, Ticket, TicketEvent, table_of
from bot.services import tickets
from tests.conftest import START


def test_a_prepared_insert_stores_dates_json_and_flags_as_the_orm_reads_them(runtime):
    with Session(runtime.engine) as session:
        ticket_id = tickets.open_ticket(session, tickets.Request(
            platform="qq", chat_group_id=None, sender_user_id="7001", sender_name="王老板", retailer_id=None,
            category="terminal", trading=True, text="扫码枪坏了", message_id="m1"), now=START)
        session.commit()
    with Session(runtime.engine) as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        assert (ticket.created_at, ticket.trading_flag, ticket.text) == (START, True, "扫码枪坏了")
        opened = session.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)).one()
        assert opened.at == START and opened.detail["category"] == "terminal" and opened.detail["trading"] is True


def test_a_prepared_select_binds_dates_through_their_type(runtime):
    with Session(runtime.engine) as session:
        tickets.open_ticket(session, tickets.Request(
            platform="qq", chat_group_id=None, sender_user_id="7002", sender_name=None, retailer_id=None,
            category="other", trading=False, text="在吗", message_id=None), now=START)
        session.commit()
        found = tickets.latest_of_sender(session, "qq", "7002", START - timedelta(seconds=1), chat_group_id=None)
        assert found is not None and found.sender_user_id == "7002"
        assert tickets.latest_of_sender(session, "qq", "7002", START + timedelta(seconds=1), chat_group_id=None) is None


def test_executing_many_rows_binds_each(runtime):
    rows = [{"platform": "qq", "target_kind": "group", "target_id": str(n), "text": f"第{n}条", "lane": 0,
             "status": "pending", "attempts": 0, "next_attempt_at": START, "created_at": START} for n in range(3)]
    with Session(runtime.engine) as session:
        Prepared(insert(table_of(OutboxMessage))).execute_many(session, rows)
        mark = Prepared(update(table_of(OutboxMessage)).where(table_of(OutboxMessage).c.target_id == bindparam("t"))
                        .values(status="sent", sent_at=bindparam("at")))
        mark.execute_many(session, [{"t": "0", "at": START}, {"t": "2", "at": START + timedelta(minutes=1)}])
        session.commit()
        stored = {row.target_id: (row.status, row.sent_at) for row in session.exec(select(OutboxMessage))}
    assert stored == {"0": ("sent", START), "1": ("pending", None), "2": ("sent", START + timedelta(minutes=1))}


def test_a_statement_whose_defaults_sqlalchemy_would_compute_is_refused(runtime):
    defaults = Table("with_defaults", MetaData(), Column("id", Integer, primary_key=True),
                     Column("n", Integer, default=lambda: 1))
    with Session(runtime.engine) as session, pytest.raises(ValueError, match=r"missing \['n'\]"):
        Prepared(insert(defaults)).execute(session, {"id": 1})
