import threading
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select

from bot import texts
from bot.db import make_engine
from bot.models import (
    ChatBinding,
    Interest,
    Lane,
    NoticeState,
    OutboxMessage,
    OutboxStatus,
    Product,
    Ticket,
    TicketEvent,
)
from bot.policy import Policies
from bot.services import broadcast, inquiries, intake, outbox, pledges, products, supply
from bot.services.errors import Conflict, ServiceError
from bot.services.supply import ItemIn, QuotaBand
from tests import factories as make
from tests.support.databases import ON_POSTGRES

BANDS = [{"min_grade": 1, "max_grade": 10, "cartons": 0}, {"min_grade": 11, "max_grade": 20, "cartons": 1},
         {"min_grade": 21, "max_grade": 30, "cartons": 2}]


def items() -> list[ItemIn]:
    return [ItemIn(product="中华(软)", wholesale_price="450", retail_price="65", scarce=True, quotas=BANDS),
            ItemIn(product="中华(硬)", wholesale_price="420", retail_price="45", quotas=BANDS),
            ItemIn(product="玉溪(软)", wholesale_price="200", retail_price="23",
                   quotas=[{"min_grade": 1, "max_grade": 30, "cartons": 5}])]


@pytest.fixture
def notice_of(session, clock, runtime):
    return lambda **extra: make.supply_notice(session, clock, runtime.settings.tz, items(), **extra)


@pytest.mark.parametrize(("grade", "cartons"), [(None, None), (1, 0), (10, 0), (11, 1), (20, 1), (21, 2),
                                                (30, 2), (31, None)])
def test_quota_follows_the_grade_band_including_its_edges(grade, cartons):
    assert supply.quota_for(grade, BANDS) == cartons


def test_overlapping_or_reversed_bands_are_refused():
    with pytest.raises(ValueError, match="重叠"):
        ItemIn(product="中华(软)", quotas=[{"min_grade": 1, "max_grade": 10, "cartons": 0},
                                          {"min_grade": 10, "max_grade": 20, "cartons": 1}])
    with pytest.raises(ValueError, match="起点大于终点"):
        QuotaBand(min_grade=20, max_grade=11, cartons=1)


def test_a_spreadsheet_item_table_is_read_with_its_grade_columns():
    content = ("品规,批发价(元/条),建议零售价(元/包),紧俏,1-10档,11-20档,21-30档\n"
               "中华(软),450,65,是,不供,1条,2\n玉溪(软),200,23,否,5,5,5\n").encode("gb18030")
    table = supply.parse_item_table(content, "items.csv")
    assert table.problems == []
    first = table.items[0]
    assert (first.product, first.scarce, str(first.wholesale_price)) == ("中华(软)", True, "450")
    assert [band.model_dump() for band in first.quotas] == BANDS


def test_every_bad_row_of_a_table_is_reported():
    content = ("品规,紧俏,1-10档,11-20档\n中华(软),也许,1,2\n,否,1,1\n玉溪(软),否,两条,1\n"
               "玉溪(软),否,1,1\n玉溪(软),否,1,1\n").encode()
    table = supply.parse_item_table(content, "items.csv")
    rows = {problem.row for problem in table.problems}
    assert {2, 3, 4, 0} <= rows  # bad flag, no product, words for a number, a duplicate
    assert supply.parse_item_table("名称,备注\n".encode(), "x.csv").problems[0].message.startswith("表头缺少")


def test_publishing_sends_the_notice_to_every_target_group_once(session, clock, runtime, notice_of):
    a = make.group(session, clock, "900001", district="城东")
    b = make.group(session, clock, "900002", district="城西")
    make.group(session, clock, "900003", district="城北")
    notice = notice_of(districts=["城东"], group_ids=[b.id])
    supply.publish(session, notice.id, now=clock.now(), tz=runtime.settings.tz)
    session.commit()
    rows = session.exec(select(OutboxMessage)).all()
    assert sorted(row.target_id for row in rows) == ["900001", "900002"]
    assert "1. 中华(软)（紧俏） 批发价450元/条，建议零售价65元/包，A类" in rows[0].text
    assert "   限量：1-10档 不供；11-20档 1条；21-30档 2条" in rows[0].text
    with pytest.raises(Conflict):
        supply.publish(session, notice.id, now=clock.now(), tz=runtime.settings.tz)
    statuses = broadcast.deliveries(session, subject="supply", subject_id=notice.id)
    assert [(item.chat_group_id, item.status) for item in statuses] == [(a.id, "pending"), (b.id, "pending")]


def test_a_long_notice_is_split_into_numbered_parts_that_each_fit():
    text = "\n".join(f"{number}. 品规{number} 限量：1-10档 1条；11-20档 2条；21-30档 3条" for number in range(120))
    parts = broadcast.split(text)
    assert len(parts) > 1 and all(len(part) <= broadcast.PART_LIMIT for part in parts)
    assert parts[0].endswith(f"（1/{len(parts)}）")
    assert "".join(part.rsplit("\n", 1)[0] for part in parts).replace("\n", "") == text.replace("\n", "")


def test_a_scheduled_notice_goes_out_at_its_time_not_before(session, clock, runtime, notice_of):
    make.group(session, clock)
    tz = runtime.settings.tz
    notice = notice_of()
    with pytest.raises(ServiceError):
        supply.schedule(session, notice.id, clock.now() - timedelta(minutes=1), now=clock.now())
    supply.schedule(session, notice.id, clock.now() + timedelta(hours=2), now=clock.now())
    session.commit()
    clock.advance(hours=1, minutes=59)
    assert supply.publish_due(session, now=clock.now(), tz=tz) == []
    clock.advance(minutes=1)
    assert supply.publish_due(session, now=clock.now(), tz=tz) == [notice.id]
    session.commit()
    assert supply.publish_due(session, now=clock.now(), tz=tz) == []
    assert session.get(type(notice), notice.id).state == NoticeState.PUBLISHED
    assert len(session.exec(select(OutboxMessage)).all()) == 1


def test_a_correction_says_what_changed(session, clock, runtime, notice_of):
    make.group(session, clock)
    tz = runtime.settings.tz
    notice = notice_of()
    supply.publish(session, notice.id, now=clock.now(), tz=tz)
    changed = items()
    changed[0] = ItemIn(product="中华(软)", scarce=True, quotas=[{"min_grade": 1, "max_grade": 30, "cartons": 1}])
    del changed[2]
    supply.correct(session, notice.id, {"order_closes_at": datetime(2026, 11, 25, 17, 0, tzinfo=tz)}, changed,
                   now=clock.now(), tz=tz)
    session.commit()
    text = session.exec(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first().text
    assert text.startswith("【货源信息更正】第48周货源")
    assert "订货时间改为：11月23日 08:30 至 11月25日 17:00" in text
    assert "中华(软) 限量改为：1-30档 1条" in text and "取消 玉溪(软)" in text
    assert "中华(硬)" not in text
    assert session.get(type(notice), notice.id).state == NoticeState.CORRECTED
    with pytest.raises(ServiceError, match="没有任何改动"):
        supply.correct(session, notice.id, {}, changed, now=clock.now(), tz=tz)


def test_withdrawn_before_sending_nothing_goes_out(session, clock, runtime, notice_of):
    make.group(session, clock)
    notice = notice_of()
    supply.schedule(session, notice.id, clock.now() + timedelta(hours=1), now=clock.now())
    supply.withdraw(session, notice.id, None, now=clock.now())
    session.commit()
    clock.advance(hours=2)
    assert supply.publish_due(session, now=clock.now(), tz=runtime.settings.tz) == []
    assert session.exec(select(OutboxMessage)).all() == []


def test_withdrawn_while_sending_stops_the_rest_and_tells_who_had_it(session, clock, runtime, notice_of):
    make.group(session, clock, "900001")
    make.group(session, clock, "900002")
    notice = notice_of()
    supply.publish(session, notice.id, now=clock.now(), tz=runtime.settings.tz)
    first = session.exec(select(OutboxMessage).where(OutboxMessage.target_id == "900001")).one()
    outbox.mark_sent(session, [first.id], now=clock.now(), sent_message_id="77")
    supply.withdraw(session, notice.id, "数量有误", now=clock.now())
    session.commit()
    statuses = {(item.purpose, item.group_id): item.status
                for item in broadcast.deliveries(session, subject="supply", subject_id=notice.id)}
    assert statuses[("notice", "900001")] == "sent"
    assert statuses[("notice", "900002")] == "cancelled"
    assert statuses[("withdrawal", "900001")] == "pending"
    claimed = outbox.claim_due(session, now=clock.now(), platforms=["qq"], worker="w", limit=10)
    assert all("撤回" in message.text for message in claimed)


def test_withdrawn_before_any_group_had_it_sends_no_withdrawal(session, clock, runtime, notice_of):
    make.group(session, clock)
    notice = notice_of()
    supply.publish(session, notice.id, now=clock.now(), tz=runtime.settings.tz)
    supply.withdraw(session, notice.id, None, now=clock.now())
    session.commit()
    assert {row.status for row in session.exec(select(OutboxMessage))} == {OutboxStatus.CANCELLED}


def ask(session, clock, runtime, text, *, user="10001", group=None, policies=None):
    answer = inquiries.answer(session, inquiries.Asker("qq", user, group), text, now=clock.now(),
                              tz=runtime.settings.tz, policies=policies or Policies())
    session.commit()
    return answer


def bound_retailer(session, clock, user="10001", grade=22, **extra):
    shop = make.retailer(session, clock, grade=grade, **extra)
    session.add(ChatBinding(platform="qq", chat_user_id=user, retailer_id=shop.id, bound_at=clock.now()))
    session.commit()
    return shop


def test_a_bound_retailer_gets_their_own_quota_privately(session, clock, runtime, notice_of):
    group = make.group(session, clock, bot_id="20000")
    bound_retailer(session, clock, grade=22)
    notice = notice_of()
    supply.publish(session, notice.id, now=clock.now(), tz=runtime.settings.tz)
    session.commit()
    answer = ask(session, clock, runtime, "我能订多少", group=group)
    assert answer.text == "您的限量已私信发给您，请查看私聊消息。"
    private = session.exec(select(OutboxMessage).where(OutboxMessage.target_kind == "private")).one()
    assert private.target_id == "10001" and private.bot_id == "20000"
    assert "您是 22 档" in private.text
    assert "中华(软)（紧俏）：2 条" in private.text and "玉溪(软)：5 条" in private.text
    low = ask(session, clock, runtime, "中华能订几条", user="10002", group=None)
    assert "限量按您的档位计算" in low.text  # not bound
    bound_retailer(session, clock, user="10003", grade=5)
    answer = ask(session, clock, runtime, "软中华能订几条", user="10003")
    assert answer.text.splitlines()[1:] == ["中华(软)（紧俏）：本期不供"]


def test_a_quota_goes_in_the_group_only_when_asked_there_and_policy_allows(session, clock, runtime, notice_of):
    group = make.group(session, clock)
    bound_retailer(session, clock)
    supply.publish(session, notice_of().id, now=clock.now(), tz=runtime.settings.tz)
    allowed = Policies(quota_in_group=True)
    assert "私信" in ask(session, clock, runtime, "我能订多少", group=group, policies=allowed).text
    assert "22 档" in ask(session, clock, runtime, "我能订多少 群里回就行", group=group, policies=allowed).text
    assert "私信" in ask(session, clock, runtime, "我能订多少 群里回就行", group=group).text


def test_summary_window_and_no_notice(session, clock, runtime, notice_of):
    group = make.group(session, clock)
    assert ask(session, clock, runtime, "本周货源", group=group).text.startswith("本期货源通知还没有发布")
    notice = notice_of()
    supply.publish(session, notice.id, now=clock.now(), tz=runtime.settings.tz)
    summary = ask(session, clock, runtime, "这周有什么货", group=group).text
    assert "中华(软)（紧俏）、中华(硬)、玉溪(软)" in summary
    window = ask(session, clock, runtime, "订货截止是哪天", group=group).text
    assert "11月24日 17:00" in window and "现在可以订货" in window
    assert ask(session, clock, runtime, "扫码枪扫不出来", group=group) is None
    asked = session.exec(select(Interest)).all()
    assert {(row.subject, row.subject_id, row.kind) for row in asked} == {("supply", notice.id, "asked")}
    assert len(asked) == 2


def test_a_notice_for_other_districts_is_not_this_groups(session, clock, runtime, notice_of):
    group = make.group(session, clock, district="城东")
    make.group(session, clock, "900002", district="城西")
    supply.publish(session, notice_of(districts=["城西"]).id, now=clock.now(), tz=runtime.settings.tz)
    assert ask(session, clock, runtime, "本周货源", group=group).text.startswith("本期货源通知还没有发布")


def test_a_quota_question_is_answered_and_logged_as_a_ticket_the_bot_answered(session, clock, runtime, notice_of):
    """Every request is logged: the month's figures count what the bot answered from the data too."""
    make.group(session, clock, bot_id="20000")
    bound_retailer(session, clock)
    supply.publish(session, notice_of().id, now=clock.now(), tz=runtime.settings.tz)
    session.commit()
    outcome = make.post(session, clock, runtime.settings, "请问这周中华我能订几条")
    assert outcome.result == intake.Result.INQUIRY
    assert outcome.reply_text == "您的限量已私信发给您，请查看私聊消息。"
    ticket = session.get(Ticket, outcome.ticket_id)
    assert ticket is not None
    assert (ticket.category, ticket.status, ticket.text) == ("supply", "answered", "请问这周中华我能订几条")
    reply = pledges.one(session, ticket.id, "reply")
    assert reply is not None and reply.state == "met" and reply.met_by_staff_id is None
    trail = [(e.action, e.detail) for e in session.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))]
    assert ("answered_from_data", {"note": "订货限量"}) in trail
    assert pledges.one(session, ticket.id, "callback") is None  # no callback for what the bot answered

    handed = make.post(session, clock, runtime.settings, "转人工")
    assert (handed.result, handed.ticket_id) == (intake.Result.REOPENED, ticket.id)
    question = make.post(session, clock, runtime.settings, "订货平台密码忘了怎么办", knowledge=runtime.knowledge)
    assert question.result == intake.Result.OPENED and question.ticket_id != ticket.id


def test_feedback_on_a_launch_is_interest_not_a_request(session, clock, runtime):
    answer = inquiries.Answer(inquiries.Ask.FEEDBACK, "已记下")
    assert not answer.is_request
    assert all(inquiries.Answer(ask, "").is_request for ask in inquiries.ASK_WORDS)


@pytest.mark.skipif(not ON_POSTGRES, reason="two instances share one PostgreSQL database")
def test_two_instances_publishing_at_once_send_each_notice_once(session, clock, runtime, notice_of):
    for number in range(3):
        make.group(session, clock, str(900_001 + number))
    notices = [notice_of(title=f"第{number}期") for number in range(10)]
    for notice in notices:
        supply.schedule(session, notice.id, clock.now() + timedelta(minutes=1), now=clock.now())
    session.commit()
    clock.advance(minutes=1)
    instances = [make_engine(runtime.settings.database_url) for _ in range(2)]
    start, published = threading.Barrier(2), []

    def instance(engine):
        start.wait()
        with Session(engine) as own:
            published.extend(supply.publish_due(own, now=clock.now(), tz=runtime.settings.tz))
            own.commit()

    threads = [threading.Thread(target=instance, args=(engine,)) for engine in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(published) == sorted(notice.id for notice in notices)
    assert len(session.exec(select(OutboxMessage)).all()) == 10 * 3
    for engine in instances:
        engine.dispose()


@pytest.mark.parametrize(("text", "ask"), [
    ("我能订多少", "quota"), ("老师 软中华我能订几条？", "quota"), ("我的限量", "quota"), ("玉溪可以要几条", "quota"),
    ("本周货源", "summary"), ("这周有什么货", "summary"), ("订货截止是哪天", "window"),
    ("什么时候可以订货", "window"), ("有什么新品", "launches"), ("新品", "launches"),
    ("为什么我的限量这么少", None), ("限量怎么定的", None), ("新品怎么订", None), ("扫码枪扫不出", None),
    ("许可证什么时候到期", None), ("好的谢谢", None), ("我能订多少" * 20, None),
    ("刚开店 每周订几条合适", None), ("这周订多少好", None),  # how much to order: the knowledge base advises
])
def test_supply_and_launch_questions_are_told_apart_from_the_rest(text, ask):
    assert inquiries.classify(text) == ask


def test_a_retailer_without_a_district_gets_the_notices_of_the_groups_they_post_in(session, clock, runtime,
                                                                                   notice_of):
    make.group(session, clock, "900001", district="城东", bot_id="20000")
    west = make.group(session, clock, "900002", district="城西", bot_id="20000")
    bound_retailer(session, clock, user="10001", grade=22)  # imported without a 片区 column
    bound_retailer(session, clock, user="10002", grade=22)
    make.post(session, clock, runtime.settings, "终端坏了怎么办", user_id="10001", group_id="900001")
    make.post(session, clock, runtime.settings, "终端坏了怎么办", user_id="10002", group_id="900002")
    supply.publish(session, notice_of(districts=["城东"]).id, now=clock.now(), tz=runtime.settings.tz)
    supply.publish(session, notice_of(title="城西专供", group_ids=[west.id]).id, now=clock.now(),
                   tz=runtime.settings.tz)
    ask(session, clock, runtime, "订货截止", user="10003", group=west)  # an unbound account asked there

    assert ask(session, clock, runtime, "本周货源", user="10001").text.startswith("第48周货源")
    assert "22 档" in ask(session, clock, runtime, "我能订多少", user="10001").text
    assert "城西专供" in ask(session, clock, runtime, "本周货源", user="10002").text
    assert "城西专供" in ask(session, clock, runtime, "本周货源", user="10003").text
    assert ask(session, clock, runtime, "本周货源", user="10004").text.startswith("本期货源通知还没有发布")
    bound_retailer(session, clock, user="10005", district="城北")  # a district decides, not the groups
    make.post(session, clock, runtime.settings, "终端黑屏了", user_id="10005", group_id="900001")
    assert ask(session, clock, runtime, "本周货源", user="10005").text.startswith("本期货源通知还没有发布")


def test_the_consoles_table_is_read_by_the_uploads_rules_and_refuses_overlapping_bands():
    rows = [["中华(软)", "450", "65", "是", "", "不供", "1"], ["", "", "", "否", "", "", ""],
            ["玉溪(软)", "200", "23", "否", "", "5", "五"]]
    table = supply.grid_item_table(["1-10", "11-20", ""], [[*row, ""] for row in rows])
    assert [(problem.row, problem.message) for problem in table.problems] == [
        (4, "11-20档 的限量应是条数，不是“五”")]  # the blank row (否 by default) is skipped, and counted
    assert "重叠" in supply.grid_item_table(["1-10", "10-20"], rows).problems[0].message
    named = supply.grid_item_table(["1-10", "十一档"], rows).problems[0].message
    assert named == "档位「十一档」应写成 1-10 这样的范围"
    spare = supply.grid_item_table(["1-10", ""], [["中华(软)", "", "", "否", "", "1", "2"]])
    assert "没有档位的列" in spare.problems[0].message
    fine = supply.grid_item_table(["1-10", "11-20"], rows[:1])
    assert fine.problems == [] and [band.cartons for band in fine.items[0].quotas] == [0, 1]


def test_a_bad_row_is_told_in_chinese_and_an_uploaded_header_with_overlapping_bands_is_refused():
    table = supply.parse_item_table("品规,价类,1-10档\n中华(软),E,1\n玉溪(软),A,20000\n".encode(), "x.csv")
    assert [problem.message for problem in table.problems] == ["价类只能是 A、B、C、D", "限量不能大于 10000"]
    overlapping = supply.parse_item_table("品规,1-10档,5-20档\n中华(软),1,2\n".encode(), "x.csv")
    assert [problem.message for problem in overlapping.problems] == ["档位列 1-10档 与 5-20档 重叠"]


def test_the_template_reads_back_as_a_table_in_both_formats():
    for format in ("xlsx", "csv"):
        table = supply.parse_item_table(supply.template(format), f"品规表.{format}")
        assert table.problems == [] and [item.product for item in table.items] == ["中华(软)"]


def test_the_previewed_correction_is_what_goes_out_and_the_preview_writes_nothing(session, clock, runtime,
                                                                                   notice_of):
    make.group(session, clock)
    tz = runtime.settings.tz
    notice = notice_of(notes="客户经理电话 13912345678")
    shown = supply.preview(session, notice.id, tz=tz, public_numbers=())
    assert len(shown.parts) == 1 and "139****5678" in shown.parts[0] and len(shown.groups) == 1
    supply.publish(session, notice.id, now=clock.now(), tz=tz)
    changed = items()[:2]
    preview = supply.correction_preview(session, notice.id, {}, changed, tz=tz, public_numbers=())
    assert preview.parts == [texts.supply_correction("第48周货源", ["取消 玉溪(软)"])]
    assert [product.name for _, product in supply.items_of(session, notice.id)][-1] == "玉溪(软)"  # unchanged
    supply.correct(session, notice.id, {}, changed, now=clock.now(), tz=tz)
    session.commit()
    sent = session.exec(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first().text
    assert [sent] == preview.parts


@pytest.mark.parametrize("typed", ["中华", "zhonghua", "zhr", "huaruan", "中化", "软华"])
def test_the_product_picker_finds_a_product_by_characters_pinyin_initials_or_sound(typed):
    product = Product(name="中华(软)", brand="中华", aliases=["软华"])
    assert products.matches(typed, product)


@pytest.mark.parametrize("typed", ["yuxi", "ua", "玉溪", " "])
def test_the_product_picker_leaves_out_what_does_not_name_it(typed):
    assert not products.matches(typed, Product(name="中华(软)", brand="中华", aliases=[]))


def test_a_correction_of_the_title_or_period_alone_is_named_under_the_title_groups_first_read(
        session, clock, runtime, notice_of):
    make.group(session, clock)
    tz = runtime.settings.tz
    notice = notice_of()
    supply.publish(session, notice.id, now=clock.now(), tz=tz)
    start, end = notice.period_start + timedelta(days=7), notice.period_end + timedelta(days=7)
    text = supply.correction(session, notice.id, {"period_start": start, "period_end": end}, None, tz=tz)
    period = f"供货周期改为：{texts.day(start, tz)} 至 {texts.day(end, tz)}"
    assert text == texts.supply_correction("第48周货源", [period])
    renamed = supply.correct(session, notice.id, {"title": "第49周货源"}, None, now=clock.now(), tz=tz)
    session.commit()
    sent = session.exec(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first().text
    assert renamed.title == "第49周货源" and sent.startswith("【货源信息更正】第48周货源\n标题改为：第49周货源")
    with pytest.raises(ServiceError, match="没有任何改动"):
        supply.correction(session, notice.id, {"title": "第49周货源"}, None, tz=tz)
    with pytest.raises(ServiceError, match="结束日期早于开始日期"):
        supply.correction(session, notice.id, {"period_end": notice.period_start - timedelta(days=1)}, None, tz=tz)


def test_after_a_notice_the_groups_notes_that_quotas_went_privately_go_as_one_message(session, clock, runtime,
                                                                                      notice_of):
    """Hundreds ask 我能订多少 at once after a notice: the group hears once, each retailer mentioned."""
    from bot.sender import combine

    make.group(session, clock, bot_id="20000")
    users = [str(10_001 + n) for n in range(3)]
    for user in users:
        bound_retailer(session, clock, user=user)
    supply.publish(session, notice_of().id, now=clock.now(), tz=runtime.settings.tz)
    session.commit()
    for user in users:
        make.post(session, clock, runtime.settings, "我能订多少", user_id=user)
    rows = session.exec(select(OutboxMessage).where(OutboxMessage.lane == Lane.REPLY)
                        .order_by(OutboxMessage.id)).all()
    told = [row for row in rows if row.target_kind == "group"]
    assert [(row.kind, row.mention_user_id) for row in told] == [(outbox.TOLD_PRIVATELY, user) for user in users]
    sends = combine(rows, lambda row: "20000")
    assert [[row.id for row in send] for _, send in sends if send[0].target_kind == "group"] == [
        [row.id for row in told]]
    assert sum(1 for _, send in sends if send[0].target_kind == "private") == 3  # each quota its own
    group_send = next(send for _, send in sends if send[0].target_kind == "group")
    assert outbox.compose(group_send) == [(None, "以下各位的限量已私信发送，请查看私聊消息：")] + [
        (user, "") for user in users]
    assert outbox.compose(told[:1]) == [(None, "您的限量已私信发给您，请查看私聊消息。")]  # alone: as it is


def test_talk_about_the_notice_is_not_a_supply_question(session, clock, runtime, notice_of):
    """本周货源看过了 没我要的 has the words of a supply question and asks nothing: the model is sure it is chatter, so
    it opens no ticket and the bot says nothing (it was answered with the notice and logged as a ticket)."""
    make.group(session, clock, bot_id="20000")
    supply.publish(session, notice_of().id, now=clock.now(), tz=runtime.settings.tz)
    session.commit()
    talk = "本周货源看过了 没我要的"
    assert inquiries.classify(talk) == inquiries.Ask.SUMMARY
    outcome = make.post(session, clock, runtime.settings, talk)
    assert (outcome.result, outcome.reply_text) == (intake.Result.IGNORED, None)
    assert session.exec(select(Ticket)).all() == []
    asked = make.post(session, clock, runtime.settings, "这周有什么货")
    assert asked.result == intake.Result.INQUIRY and "中华" in (asked.reply_text or "")
    # a closing remark with those words is kept on the ticket it closes
    closing = make.post(session, clock, runtime.settings, "订货截止时间我记下了 谢谢")
    assert (closing.result, closing.ticket_id) == (intake.Result.FOLLOW_UP, asked.ticket_id)
