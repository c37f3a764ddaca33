from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from bot.models import Approval, ChatBinding, Interest, Launch, OutboxMessage, Product
from bot.policy import Policies
from bot.services import inquiries, interest, launches, outbox, products
from bot.services.errors import Conflict, ServiceError
from bot.services.launches import PostIn
from tests import factories as make


def catalogue(*names: str, aliases: dict | None = None) -> list[Product]:
    aliases = aliases or {}
    return [Product(id=number, name=name, brand=products.brand_of(name), aliases=aliases.get(name, []))
            for number, name in enumerate(names, start=1)]


@pytest.mark.parametrize(("words", "expected"), [
    ("中华能订几条", ["中华(软)", "中华(硬)"]),
    ("软中华能订几条", ["中华(软)"]),
    ("中华软的几条", ["中华(软)"]),
    ("硬华还有吗", ["中华(硬)"]),  # a nickname staff gave it
    ("中化几条", ["中华(软)", "中华(硬)"]),  # a homophone typo
    ("玉西能订多少", ["玉溪(软)"]),
    ("芙蓉王几条", []),
])
def test_products_are_found_in_retailers_words(words, expected):
    found = products.find_products(words, catalogue("中华(软)", "中华(硬)", "玉溪(软)",
                                                    aliases={"中华(硬)": ["硬华"]}))
    assert [product.name for product in found] == expected


@pytest.mark.parametrize(("price", "expected"), [("25", "A"), ("20.01", "A"), ("20", "B"), ("10", "B"),
                                                 ("9.99", "C"), ("5", "C"), ("4.5", "D"), (None, None)])
def test_price_class_follows_the_retail_price_per_pack(price, expected):
    assert products.price_class(Decimal(price) if price else None) == expected


@pytest.fixture
def launch_of(session, clock, runtime):
    def build(source="district", plan=(), **extra):
        launch = launches.create_launch(
            session, {"name": "黄鹤楼(硬峡谷柔情)", "retail_price": Decimal("30"), "wholesale_price": Decimal("2600"),
                      "manufacturer": "湖北中烟"},
            {"launch_date": date(2026, 11, 30), "selling_points": "细腻柔和，包装新颖", "source": source,
             "image_url": "https://example.com/hhl.png"} | extra, None if plan is None else list(plan),
            staff_id=None, now=clock.now(), tz=runtime.settings.tz)
        session.commit()
        return launch

    return build


def test_without_a_plan_posts_go_before_on_and_after_the_launch_day(session, clock, runtime, launch_of):
    launch = launch_of(plan=None)
    plan = launches.plan_of(session, launch.id)
    local = [post.send_at.astimezone(runtime.settings.tz) for post in plan]
    assert [(moment.day, moment.hour, post.kind) for moment, post in zip(local, plan, strict=True)] == [
        (27, 9, "before"), (30, 9, "launch_day"), (7, 9, "after")]
    soon = launch_of(plan=None, launch_date=date(2026, 11, 25))  # three days before is already past
    assert [post.kind for post in launches.plan_of(session, soon.id)] == ["launch_day", "after"]


def test_posts_go_out_at_their_time_to_the_target_groups(session, clock, runtime, launch_of):
    make.group(session, clock, "900001", district="城东")
    make.group(session, clock, "900002", district="城西")
    launch = launch_of(districts=["城东"])
    launches.set_plan(session, launch.id, [PostIn(send_at=clock.now() + timedelta(hours=1), kind="launch_day")],
                      now=clock.now())
    session.commit()
    assert launches.posts_due(session, now=clock.now()) == []
    clock.advance(hours=1)
    assert len(launches.posts_due(session, now=clock.now())) == 1
    session.commit()
    assert launches.posts_due(session, now=clock.now()) == []
    sent = session.exec(select(OutboxMessage)).one()
    assert sent.target_id == "900001" and sent.image_url == "https://example.com/hhl.png"
    assert sent.text.startswith("【新品上市】黄鹤楼(硬峡谷柔情)") and "A类" in sent.text and "湖北中烟" in sent.text


def test_a_manufacturers_publicity_waits_for_approval(session, clock, runtime, launch_of):
    make.group(session, clock)
    staff = make.staff(session, clock)
    launch = launch_of(source="manufacturer")
    assert launch.approval == Approval.PENDING
    launches.set_plan(session, launch.id, [PostIn(send_at=clock.now() + timedelta(minutes=5), kind="before")],
                      now=clock.now())
    clock.advance(minutes=10)
    assert launches.posts_due(session, now=clock.now()) == []
    launches.decide(session, launch.id, approve=True, staff_id=staff.id, now=clock.now())
    assert len(launches.posts_due(session, now=clock.now())) == 1
    with pytest.raises(Conflict):
        launches.decide(session, launch.id, approve=False, staff_id=staff.id, now=clock.now())


def test_a_rejected_launch_never_posts(session, clock, runtime, launch_of):
    make.group(session, clock)
    staff = make.staff(session, clock)
    launch = launch_of(source="manufacturer")
    launches.set_plan(session, launch.id, [PostIn(send_at=clock.now() + timedelta(minutes=5), kind="before")],
                      now=clock.now())
    launches.decide(session, launch.id, approve=False, staff_id=staff.id, now=clock.now())
    clock.advance(days=30)
    assert launches.posts_due(session, now=clock.now()) == []


def test_a_corrected_card_and_targets_go_out_with_the_posts_not_sent_yet(session, clock, runtime, launch_of):
    make.group(session, clock, "900001", district="城东")
    make.group(session, clock, "900002", district="城西")
    launch = launch_of(districts=["城东"])
    soon, later = clock.now() + timedelta(hours=1), clock.now() + timedelta(hours=2)
    launches.set_plan(session, launch.id, [PostIn(send_at=soon, kind="before"), PostIn(send_at=later, kind="after")],
                      now=clock.now())
    clock.advance(hours=1)
    launches.posts_due(session, now=clock.now())
    launches.update_launch(session, launch.id, {"selling_points": "口感升级", "districts": ["城西"]},
                           {"retail_price": Decimal("32")})
    clock.advance(hours=1)
    launches.posts_due(session, now=clock.now())
    session.commit()
    first, second = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert first.target_id == "900001" and "细腻柔和，包装新颖" in first.text  # sent as it was
    assert second.target_id == "900002" and "口感升级" in second.text and "32" in second.text


def test_a_launch_correction_that_changes_nothing_or_what_it_may_not_is_refused(session, clock, runtime, launch_of):
    staff = make.staff(session, clock)
    launch = launch_of(source="manufacturer")
    with pytest.raises(ServiceError, match="没有任何改动"):
        launches.update_launch(session, launch.id, {"selling_points": "细腻柔和，包装新颖"},
                               {"manufacturer": "湖北中烟"})
    with pytest.raises(ServiceError, match="不能修改的项：source"):
        launches.update_launch(session, launch.id, {"source": "district"})
    with pytest.raises(ServiceError, match="不能修改的项：name"):
        launches.update_launch(session, launch.id, {}, {"name": "别的烟"})
    launches.decide(session, launch.id, approve=False, staff_id=staff.id, now=clock.now())
    with pytest.raises(Conflict, match="已驳回"):
        launches.update_launch(session, launch.id, {"selling_points": "再试"})
    session.rollback()
    assert session.get(Launch, launch.id).selling_points == "细腻柔和，包装新颖"


def test_retailers_ask_for_new_products_and_answer_a_post(session, clock, runtime, launch_of):
    group = make.group(session, clock)
    tz = runtime.settings.tz
    launch = launch_of()
    launches.set_plan(session, launch.id, [PostIn(send_at=clock.now() + timedelta(minutes=1), kind="launch_day")],
                      now=clock.now())
    clock.advance(minutes=1)
    launches.posts_due(session, now=clock.now())
    post = session.exec(select(OutboxMessage)).one()
    outbox.mark_sent(session, [post.id], now=clock.now(), sent_message_id="555")
    session.commit()

    def ask(text, user="10001", reply_to=None):
        answer = inquiries.answer(session, inquiries.Asker("qq", user, group, reply_to), text, now=clock.now(),
                                  tz=tz, policies=Policies())
        session.commit()
        return answer

    assert "黄鹤楼(硬峡谷柔情)（11月30日上市）" in ask("有什么新品").text
    assert ask("黄鹤楼硬峡谷柔情怎么样").text.startswith("黄鹤楼(硬峡谷柔情)\n价格：")
    assert "想订" in ask("想订", reply_to="555").text
    ask("不感兴趣", reply_to="555")  # the same retailer changes their mind
    ask("想订黄鹤楼硬峡谷柔情", user="10002")
    assert ask("想订货怎么订") is None  # no launch named: an ordinary question
    counts = Counter()
    for row in interest.interest_counts(session, subject="launch", subject_id=launch.id):
        counts[row["kind"]] += row["count"]
    assert counts == {"asked": 2, "not_interested": 1, "want": 1}
    assert session.exec(select(Interest).where(Interest.chat_user_id == "10001",
                                               Interest.kind == "want")).all() == []


def test_in_private_a_retailer_without_a_district_hears_of_launches_for_their_groups(session, clock, runtime,
                                                                                     launch_of):
    group = make.group(session, clock, district="城东")
    shop = make.retailer(session, clock)  # no district on record
    session.add(ChatBinding(platform="qq", chat_user_id="10001", retailer_id=shop.id, bound_at=clock.now()))
    session.commit()
    launch_of(districts=["城东"])

    def ask(user):
        return inquiries.answer(session, inquiries.Asker("qq", user, None), "有什么新品", now=clock.now(),
                                tz=runtime.settings.tz, policies=Policies()).text

    assert ask("10001").startswith("最近没有新品")
    make.post(session, clock, runtime.settings, "终端坏了怎么办", user_id="10001", group_id=group.group_id)
    assert "黄鹤楼(硬峡谷柔情)" in ask("10001")
    assert ask("10002").startswith("最近没有新品")  # posted nowhere
