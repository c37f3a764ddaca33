import pytest

from bot.models import Category
from bot.services.classify import analyse


@pytest.mark.parametrize("text", [
    "你好", "大家好！", "谢谢老师", "收到", "好的好的", "👍👍👍", "", "   ", "[图片]", "哈哈哈哈",
    "大家吃饭了吗？", "今天天气不错", "早上好大家", "ok",
])
def test_chatter_is_not_a_request(text):
    assert not analyse(text).is_request


@pytest.mark.parametrize(("text", "category"), [
    ("扫码枪扫不出来怎么办", Category.TERMINAL),
    ("终端黑屏了开不了机", Category.TERMINAL),
    ("这周中华能订几条？", Category.SUPPLY),
    ("新品什么时候到", Category.LAUNCH),
    ("下次培训是哪天", Category.TRAINING),
    ("订货平台登录不上", Category.MARKETING),
    ("许可证快到期了怎么延续", Category.MONOPOLY),
    ("送货少送了两条", Category.DELIVERY),
    ("我要投诉送货员态度差", Category.COMPLAINT),
    ("能帮我看看这个吗", Category.OTHER),
])
def test_requests_are_classified_by_keywords(text, category):
    result = analyse(text)
    assert result.is_request
    assert result.category == category


def test_trading_posts_are_flagged_as_monopoly():
    result = analyse("低价出售中华 有需要私聊")
    assert result.trading and result.is_request and result.category == Category.MONOPOLY
    assert not analyse("终端收款失败怎么办").trading


def test_a_huge_message_is_classified_by_its_opening():
    result = analyse("扫码枪坏了怎么办" + "啊" * 10_000)
    assert result.is_request and result.category == Category.TERMINAL


@pytest.mark.parametrize("text", ["高价回收各种名烟", "出一批中华，价格好商量", "低价转让整条玉溪 有需要的私聊",
                                  "收烟 高价 上门", "卖烟 加微信 便宜", "软中华便宜卖 加我", "出两条黄鹤楼 私聊",
                                  "代购外烟 正品保证", "批发香烟 量大从优", "手上有两条硬中华 低价出了",
                                  "出点好烟 私聊"])
def test_dealers_phrasing_is_trading_too(text):
    assert analyse(text).trading


# A retailer talks about selling cigarettes all day: that is their trade, not a deal offered to the group.
@pytest.mark.parametrize("text", ["卖烟不容易 大家都辛苦", "卖烟卖了二十年了 哈哈", "网上卖烟", "离学校多远才能卖烟",
                                  "收烟要先点些么子", "同样卖烟人家比我赚得多", "便宜烟现在都少了 厂家不爱做",
                                  "我们这条街就我家和老孙家卖烟 抢生意抢了十年 哈哈", "隔壁没证也在卖烟",
                                  "那个卖烟的微信号截图了 在上面", "想在村口开个小卖部 顺带卖点烟",
                                  "卖烟价格太低了 利润薄", "收烟的时候送货员电话打不通", "别家卖烟便宜 我这卖不动"])
def test_talk_about_selling_cigarettes_is_not_trading(text):
    assert not analyse(text).trading


@pytest.mark.parametrize("text", ["收款失败怎么办", "烟的价格怎么定", "收到货了少了一条", "新品价格是多少",
                                  "网上卖烟违法吗", "有人无证卖烟打哪个电话举报",
                                  # asked in dialect: A-not-A, or closed by 不
                                  "学校旁边能开店卖烟不", "在抖音上卖烟中不中", "初中娃来买烟卖不卖",
                                  "有人上门推销便宜烟 能要不"])
def test_service_questions_about_prices_and_receipts_are_not_trading(text):
    assert not analyse(text).trading
