"""Is a group message a request, and what is it about?

A retailer's post becomes a ticket only when it asks, reports or needs
something; greetings, thanks and chatter stay chat. The category comes from
jieba tokens matched against each column's keywords; the domain words are
added to jieba's dictionary so that 扫码枪 stays one token instead of 扫码+枪.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import jieba

from bot.models import Category

# Order matters on a tie: a complaint about delivery is a complaint first.
CATEGORY_KEYWORDS: dict[Category, frozenset[str]] = {
    Category.COMPLAINT: frozenset(
        "投诉 举报 态度差 态度 不满意 差评 反映 欺负 刁难 不公平 乱收费".split()
    ),
    Category.SUPPLY: frozenset(
        "货源 限量 紧俏 本周货源 能订 订几条 几条 断货 缺货 到货 有货 没货 货源信息 可订".split()
    ),
    Category.LAUNCH: frozenset("新品 新烟 新上市 新款 新品规 上新 新品宣传".split()),
    Category.TERMINAL: frozenset(
        """终端 扫码 扫码枪 扫描枪 扫码器 扫不出 收银 收银机 小票 打印机 开机 开不了机 黑屏
        死机 网络 连不上 断网 系统 升级 盘点 入库 库存 报表 收款 二类卡 零售价 商品不存在
        触摸屏 卡顿 闪退""".split()
    ),
    Category.TRAINING: frozenset("培训 陈列 毛利 怎么摆 学习 课程 盈利单 讲座 微课 摆放".split()),
    Category.MARKETING: frozenset(
        """订货 订单 订烟 要货 扣款 余额 档位 档级 价格 品牌 订货平台 登录 订货日 下单
        撤单 退订 改单 积分""".split()
    ),
    Category.MONOPOLY: frozenset(
        """许可证 办证 延续 换证 变更 歇业 停业 专卖 假烟 未成年 价签 明码标价 罚款 处罚
        执法 证件 注销""".split()
    ),
    Category.DELIVERY: frozenset(
        "送货 配送 少送 送错 漏送 破损 受潮 送货员 送货时间 物流 到店 送到".split()
    ),
}

QUESTION_WORDS = frozenset(
    """怎么 怎样 如何 为什么 为啥 什么 啥 谁 哪 哪里 哪天 哪个 能不能 可不可以 可以
    是不是 有没有 多少 几 几时 咋 咋办 请问 问下 问一下 咨询 求助""".split()
)
NEED_WORDS = frozenset("需要 想要 我要 要求 帮忙 帮我 帮看 请 麻烦 求助 希望 申请 安排 处理 解决".split())
PROBLEM_WORDS = frozenset(
    """不了 不能 不行 没有 没收到 没到 坏了 故障 出错 失败 错误 问题 异常 报错 不对 不上 不到
    不出 不显示 丢了 少了 错了 太慢""".split()
)
# Trading: the group is service, not sales (GLOSSARY, rules). A strong word
# alone, or a selling word next to a tobacco word, flags the post.
TRADING_STRONG = frozenset("出烟 收烟 卖烟 代购 甩卖 回收烟 低价烟".split())
TRADING_VERBS = frozenset("出售 转让 收购 回收 批发 低价 便宜 私聊 加微信 微信 加我".split())
TOBACCO_WORDS = frozenset("烟 卷烟 香烟 条 整条 中华 玉溪 芙蓉王 黄鹤楼 利群 云烟".split())
# Dealers' phrasing that jieba splits apart (收各种烟, 高价回收名烟), and terms that need no tobacco word
# (价格好商量, 有需要的私聊).
TRADING_OFFER = re.compile(r"(?:收|出|卖|回收|转让)(?:各种|各类|高档|名|好|整条|一批|点|些){1,2}"
                           r"(?:烟|中华|玉溪|芙蓉王)")
TRADING_TERMS = re.compile(r"价格(?:好商量|可谈|面议|美丽|实惠)|(?:有需要|需要的|要的)(?:私聊|加微信|加我)")

_SMALL_TALK = re.compile(
    r"^(谢谢|多谢|感谢|谢了|收到|好的|好滴|好嘞|好|行|嗯+|哦+|噢+|ok|okay|哈+|呵+|嘿+|早|早安|早上好|"
    r"中午好|下午好|晚上好|晚安|你好|您好|大家好|辛苦|辛苦了|老师|客服|经理|了|啊|呀|哈|的|亲|"
    r"各位|大家|点赞|赞|明白|知道了|懂了|在|在吗|在的|666+|\d{1,3})+$",
    re.IGNORECASE,
)
_CUES = QUESTION_WORDS | NEED_WORDS | PROBLEM_WORDS
_ASKING = QUESTION_WORDS | frozenset("吗 违法 犯法 举报 会怎样 会被查".split())
_NOT_WORDS = re.compile(r"[\s\W_]+", re.UNICODE)

_CLASSIFY_PREFIX = 500  # a 10,000-character post is classified by its opening


@dataclass(frozen=True)
class Analysis:
    is_request: bool
    category: Category
    trading: bool


@cache
def domain_tokenizer() -> jieba.Tokenizer:
    """One jieba tokenizer for the whole service, knowing the domain words (loaded once)."""
    tokenizer = jieba.Tokenizer()
    for words in (*CATEGORY_KEYWORDS.values(), TRADING_STRONG, TRADING_VERBS):
        for word in words:
            tokenizer.add_word(word, freq=2000)
    return tokenizer


def warm_up() -> None:
    """Load jieba's dictionary now rather than on the first retailer's message."""
    domain_tokenizer().lcut("预热")


def tokens(text: str) -> list[str]:
    return domain_tokenizer().lcut(text[:_CLASSIFY_PREFIX])


def is_small_talk(text: str) -> bool:
    """Greetings, thanks, emoji and stickers (nothing but punctuation left)."""
    words = _NOT_WORDS.sub("", text)
    return not words or bool(_SMALL_TALK.match(words))


def analyse(text: str) -> Analysis:
    if is_small_talk(text):
        return Analysis(is_request=False, category=Category.OTHER, trading=False)
    words = set(tokens(text))
    head = text[:_CLASSIFY_PREFIX]
    # 网上卖烟违法吗 asks about a rule; a dealer's post offers, it does not ask.
    asking = any(cue in head for cue in _ASKING)
    offers = (bool(words & TRADING_STRONG) or bool(words & TRADING_VERBS and words & TOBACCO_WORDS)
              or TRADING_OFFER.search(head) is not None)
    trading = (offers and not asking) or TRADING_TERMS.search(head) is not None
    category = Category.OTHER
    best = 0
    for candidate, keywords in CATEGORY_KEYWORDS.items():
        hits = len(words & keywords)
        if hits > best:
            category, best = candidate, hits
    if trading and category is Category.OTHER:
        category = Category.MONOPOLY
    # Particles and a bare "?" make 大家吃饭了吗 a question, not a request:
    # they are not cues; a domain keyword or a real question word is.
    # Cue words are matched as substrings: jieba glues them to verbs (怎么弄).
    asks = any(cue in head for cue in _CUES)
    return Analysis(is_request=asks or best > 0 or trading, category=category, trading=trading)


_FUNCTION_WORDS = QUESTION_WORDS | NEED_WORDS | PROBLEM_WORDS | frozenset(
    """一下 这个 那个 我们 你们 他们 还是 就是 可以 现在 今天 昨天 已经 一直 时候 什么时候 怎么办
    到底 有点 一点 为什么 怎么回事 老师 客服 谢谢 你好 您好""".split())
_CJK_OR_WORD = re.compile(r"^[\u4e00-\u9fffA-Za-z0-9]{2,}$")


def content_words(text: str) -> frozenset[str]:
    """What a message is about (its nouns and verbs of two characters or more, without question
    and request words), to tell a new request from more words on the same one."""
    return frozenset(word for word in tokens(text) if _CJK_OR_WORD.match(word) and word not in _FUNCTION_WORDS)
