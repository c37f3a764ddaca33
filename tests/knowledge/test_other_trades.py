"""Other trades' questions that borrow our words are not answered from our entries; our own, in the retailers'
real style, still are (#16). tests/knowledge/test_heldout.py keeps the figures on the sets kept apart.

The group's path is followed without the intake service: a line reaches the knowledge base unless it is chatter
or a detail the intake model is sure of, a supply or launch question or a trading post, and the base's answer goes
out (as an answer, or as first aid where the category's policy orders a visit), as `intake.handle_group_message`
does.
"""

from pathlib import Path

import pytest
import yaml

from bot.services import classify, inquiries
from bot.services.knowledge import (
    ELSEWHERE_LIMIT,
    Decision,
    KnowledgeIndex,
    Thresholds,
    load_entries,
    load_out_of_scope,
)
from tests.support.scope import UNSCOPED

KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"


@pytest.fixture(scope="module")
def index():
    thresholds = Thresholds.model_validate(yaml.safe_load((KNOWLEDGE / "thresholds.yaml").read_text(encoding="utf-8")))
    return KnowledgeIndex(load_entries(KNOWLEDGE / "entries"), thresholds,
                          load_out_of_scope(KNOWLEDGE / "out_of_scope.yaml"))


def answered_in_the_group(index: KnowledgeIndex, text: str) -> str | None:
    """The entry the bot answers a new retailer's group line from, or None."""
    if inquiries.might_be(text, quoting=False) and inquiries.classify(text):
        return None
    analysis = classify.analyse(text)
    if analysis.trading:
        return None
    result = index.decide(text)
    known = result.decision == Decision.ANSWER and result.best is not None
    if not analysis.is_request and (analysis.sure or not known):  # asks nothing, unless the base knows it (as intake)
        return None
    return result.best.id if known else None


OTHER_TRADES = {
    "food licence": ["食品经营许可证过两个月到期 要提前多久去续", "小店的食品许可证搞丢了 补一个要几天"],
    "business licence": ["个体户营业执照上的名字要换成我老公 去哪办", "营业执照地址变了 要重新办一个不"],
    "lottery": ["彩票代销证明年到期 续签要带啥", "体彩机子开不开机了 找哪个"],
    "liquor": ["酒厂送来的白酒少了一箱 找谁补", "顾客说我卖的五粮液是假的 咋个证明"],
    "tea": ["新茶到了卖不动 能退给茶厂不", "茶叶受潮发霉了 供货商给不给换"],
    "drinks": ["饮料送货今天咋还没来", "可乐的订货单交上去能改不"],
    "bank card limit": ["银行卡一天只能转两万 限额咋调", "信用卡额度太低了 咋提额"],
    "huabei": ["花呗额度突然没了 咋回事", "花呗付不了款 说超限了"],
    "courier and post": ["快递少送了一件 找哪个", "邮政的包裹地址写错了 能改不"],
    "takeaway platform": ["美团外卖商家后台密码忘了", "饿了么的小票打印机不出单"],
    "insurance": ["车险下个月到期 在哪续保", "保险公司的业务员天天打电话推销"],
    "another company's manager": ["移动公司的客户经理电话是多少", "银行的客户经理说要上门办卡"],
}

OUR_OWN = {  # voice-to-text homophones, dialect, two-word posts, story first
    "扫马枪扫不出条码了 咋整": "terminal.scanner-no-read",
    "许可正下个月就到期了 去哪里续": "monopoly.license-renewal",
    "订烟的密码搞忘了 登不进去": "marketing.order-login",
    "今天送货日 等到下午了烟还没来": "delivery.delay",
    "收银机开不了机": "terminal.no-boot",
    "这礼拜有么子烟": "marketing.weekly-supply",
    "我家档位咋个才能升": "marketing.grade-change",
    "证丢了": "monopoly.license-lost",
}


@pytest.mark.parametrize("kind", list(OTHER_TRADES))
def test_another_trades_question_is_not_answered_from_our_entries(index, kind):
    for text in OTHER_TRADES[kind]:
        assert answered_in_the_group(index, text) is None, (kind, text, index.explain(text)[1])


@pytest.mark.parametrize("text", list(OUR_OWN))
def test_our_own_questions_in_the_retailers_style_are_still_answered(index, text):
    assert index.decide(text).decision == Decision.ANSWER, index.explain(text)[1]
    assert index.decide(text).best.id == OUR_OWN[text]


def test_a_food_licence_renewal_is_not_told_the_tobacco_licence_renewal(index):
    asked = index.assess("食品经营许可证快到期了 咋续")
    ours = index.assess("烟草许可证快到期了 咋续")
    assert asked.matches[0].entry.id == ours.matches[0].entry.id == "monopoly.license-renewal"  # the same words
    assert asked.foreign > ours.foreign  # 食品 is a word of other trades the entry never uses
    assert index.decide("食品经营许可证快到期了 咋续").decision != Decision.ANSWER


def test_a_single_character_of_another_trade_lowers_the_confidence(index):
    """蛋 alone is no word jieba cuts out as foreign, but as a character it leans far out of our entries."""
    asked, ours = index.assess("蛋的订单交了能改不"), index.assess("订单交了能改不")
    assert asked.matches[0].entry.id == ours.matches[0].entry.id == "marketing.order-change"
    assert asked.foreign == ours.foreign == 0 and asked.foreign_character > ours.foreign_character
    confidence = index.thresholds.confidence
    assert (confidence(asked.matches[0], asked.foreign, asked.foreign_character)
            < confidence(ours.matches[0], ours.foreign, ours.foreign_character))
    assert index.decide("订单交了能改不").decision == Decision.ANSWER


def test_the_scope_model_hands_over_another_trades_question_that_our_words_alone_would_answer(index):
    """食用油的订单交了能改不 shares every word but one with changing a tobacco order; the scope model, which weighs
    the whole phrasing, hands it over where the entries' words and characters alone answered it."""
    unscoped = KnowledgeIndex(index.entries, index.thresholds, load_out_of_scope(KNOWLEDGE / "out_of_scope.yaml"),
                              scope=UNSCOPED)
    assert unscoped.decide("食用油的订单交了能改不").decision == Decision.ANSWER
    assert unscoped.decide("食用油的订单交了能改不").best.id == "marketing.order-change"
    assert index.decide("食用油的订单交了能改不").decision == Decision.HANDOVER
    assert index.assess("食用油的订单交了能改不").elsewhere >= ELSEWHERE_LIMIT
    assert "其他行业" in index.explain("食用油的订单交了能改不")[1]
    assert index.decide("订单交了能改不").decision == Decision.ANSWER
