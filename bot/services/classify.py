"""Is a group message a request, and what is it about?

A retailer's post becomes a ticket only when it asks, reports or needs something; greetings, thanks,
closing remarks, praise, jokes and stickers stay chat. Both decisions come from one model learnt from
labelled group lines (knowledge/intake/*.yaml, see knowledge/README.md): a character 1-2-gram TF-IDF and a
linear support-vector machine per class, each class's score turned into a probability by a sigmoid calibrated on
held-out folds (scikit-learn's LinearSVC in CalibratedClassifierCV), fitted at commit time
(`python -m bot.services.classify_fit`) and shipped as numbers in bot/data/intake_model.txt, scored here with
plain Python (no scikit-learn import at start). Its classes are the ticket categories plus three that ask
nothing: `chatter`, `closing` (a closing remark, such as 已经弄好了 谢谢, which intake stores on the retailer's
recent ticket) and `detail` (型号是老款的那个: more about an open request, joining it; alone it opens nothing). A
line the model gives complaint a set share (`complaint_bar` in the shipped file) is a complaint whatever else it
gives, the one category that orders a visit, unless the asks model below all but rules out that it asks anything
(praise of the people complaints are about). Whether any other line asks is decided by a small model on top
(`IntakeModel.asks`): a logistic regression fitted on what the intake model and a small-talk model (fitted the
same way on the base's own wordings against the chatter lines) say of our lines when fitted without them. A line
it is not sure of is a request when the knowledge base answers it. To teach them, add lines there and re-fit;
never add keywords here.

Only rules the model should not learn stay rules: dealers' trading posts (the group's rule, GLOSSARY) and
messages that are nothing but a picture or a file (more detail for an open ticket, not chatter). jieba with
the domain words still splits a message into content words, for threading (`content_words`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jieba

from bot.models import Category

MODEL_PATH = Path(__file__).resolve().parents[1] / "data" / "intake_model.txt"
CHATTER_CLASSES = frozenset({"chatter", "closing"})
# Whether a line asks at all is weighed by a second model, fitted on top of two others (stacking): a logistic
# regression of `asks_terms`: what the intake model gives the classes that ask nothing and the likeliest request, and
# what the small-talk model (fitted the same way on the knowledge base's own wordings against the chatter lines, so it
# knows how the base's questions are asked) gives the line and its ending. classify_fit fits it on what the two
# models, fitted without them, say of each of our lines (five folds), so it learns how far to trust each where they
# err, as the hand-set bars it replaced in session 17 could not. Measured through the intake service
# (bench/intake_eval.py), the bars -> the asks model: the dev split logged 97.5 -> 97.2 %, chatter ticketed 13.6 ->
# 12.4 %; eval/dev_intake (never fitted) 93.3 -> 93.8 % and 8.4 -> 8.7 %; eval/dev4 94.0 -> 94.7 % and 14.0 -> 9.3 %,
# its questions that read like chatter answered 73.3 -> 70.7 % (the price: short ones the intake model is sure are
# chatter now stay chatter more often).
SMALL_TALK_MODEL_PATH = MODEL_PATH.with_name("small_talk_model.txt")
# A line is a request when the asks model gives it ASKS_BAR or more (classify_fit, where it is chosen). One it gives
# 1 - SURE or less asks nothing for sure: it is left alone even when the knowledge base would answer it (praise for
# a new till is no question about tills; 更正一下 少的是一条 asks nothing about deliveries); between the two, a line the
# base answers is a request (收完款抽屉没开). 0.8 kept the share of our lines' requests logged of the hand-set bars
# (97.0 % on the five folds, with the base's answers), 0.9 logged 97.2 % for 2.6 points more chatter.
SURE = 0.8
NOT_REQUESTS = CHATTER_CLASSES | {"detail"}  # detail: more about an open request (型号是老款的那个), asks nothing
# Retailers tell the story first and ask last (明天要带孙子去打疫苗 店门得锁半天 正好赶上送货 这咋弄). A message's
# ending is its last ENDING_CLAUSES clauses: the knowledge base reads it once more when it cannot answer the whole,
# the asks model weighs its small talk, and chatter the asks model is sure of is not sure when the ending, read
# alone, asks (the base then decides; nothing opens unless it answers). On knowledge/eval/dev4/ (questions that read
# like chatter, never fitted): the base reading the last three clauses answered 18 more of 300 with 2 more wrong, the
# last two 24 more with 8 more wrong, and neither changed an answer or an other trade's line on the other dev sets.
ENDING_CLAUSES = 3
_CLAUSES = re.compile(r"[\s，,。.!！?？~～；;、]+")  # spaces (how most type on a phone) and punctuation

# jieba's extra words, so that 扫码枪 stays one token for threading and the knowledge base (not a classifier's keyword
# list); the words of selling too (发朋友圈卖烟会被查吗 is answered with 卖烟 one token).
DOMAIN_WORDS = frozenset(
    """投诉 货源 限量 紧俏 断货 缺货 到货 新品 新品规 终端 扫码枪 扫描枪 收银机 小票 打印机 开不了机 黑屏
    死机 二类卡 零售价 培训 陈列 毛利 盈利单 订货 订单 扣款 档位 订货平台 许可证 延续 换证 歇业 专卖 价签
    明码标价 送货 配送 少送 送错 漏送 送货员
    卖烟 收烟 出烟 代购 甩卖 回收烟 低价烟 出售 转让 收购 回收 批发 低价 便宜 私聊 加微信 微信 加我""".split())
# Trading: the group is service, not sales (GLOSSARY, rules). A dealer's post offers a deal to the group; a
# retailer's talk about selling cigarettes (卖烟不容易, 网上卖烟, 别家卖烟便宜, 收烟的时候电话打不通) does not.
# A dealer's own word flags a post alone, and selling off (低价出) with a tobacco word; a word of dealing (卖烟,
# 出售, 回收 ...) only with a tobacco word and the terms of a deal (a way to reach the poster, a buyer's price: 私聊,
# 高价, 量大从优); a bare 出, 卖 or 收 only with a tobacco word and a way to reach the poster (出两条黄鹤楼 私聊).
TRADING_STRONG = frozenset("出烟 代购 甩卖 回收烟 低价烟".split())  # jieba's tokens: 拿出烟来 is no offer
TRADING_SELL_OFF = ("便宜出", "低价出", "出售")
TRADING_VERBS = ("卖烟", "收烟", "转让", "收购", "回收", "批发", "便宜卖", "低价卖")
TRADING_BARE_VERBS = frozenset("出 卖 收".split())
TOBACCO_WORDS = ("烟", "整条", "中华", "玉溪", "芙蓉王", "黄鹤楼", "利群", "云烟")
_CONTACT = ("私聊", "加微信", "加我", "联系我", "微信联系", "电话联系", "微信同号")
_DEAL_TERMS = (*_CONTACT, "有需要", "需要的", "高价", "价高", "从优", "公道", "上门")
# Dealers' phrasing that jieba splits apart (收各种烟, 高价回收名烟), and terms that need no tobacco word
# (价格好商量, 有需要的私聊).
TRADING_OFFER = re.compile(r"(?:收|出|卖|回收|转让)(?:点|些)?(?:各种|各类|高档|名|好|整条|一批){1,2}"
                           r"(?:烟|中华|玉溪|芙蓉王)")  # 出点好烟 offers, 顺带卖点烟 does not
TRADING_TERMS = re.compile(r"价格(?:好商量|可谈|面议|美丽|实惠)|(?:有需要|需要的|要的)(?:私聊|加微信|加我)")
# 网上卖烟违法吗 asks about the rule; a dealer's post offers, it does not ask.
_ASKING = frozenset("怎么 怎样 如何 为什么 为啥 什么 啥 谁 哪 能不能 可不可以 是不是 有没有 多少 几 咋 请问 吗 "
                    "违法 犯法 举报 会怎样 会被查".split())
# Retailers ask in dialect too: 卖不卖, 中不中, 能开店卖烟不 (A-not-A, or a question closed by 不/没/么).
_ASKING_DIALECT = re.compile(r"(.)不\1|[不没么嘛][？?。！!～~\s]*$")
# A picture (kept as `[图片] <address>`), a voice message or a file and nothing else: more detail for an open
# ticket, not chatter.
_MEDIA_ONLY = re.compile(r"^(?:\s*\[(?:图片|视频|语音|文件)\](?:\s*https?://\S+)?\s*)+$")
_SPACES = re.compile(r"\s\s+")
_DIGITS = re.compile(r"\d+")
_RUNS = re.compile(r"(.)\1{2,}")

_CLASSIFY_PREFIX = 500  # a 10,000-character post is classified by its opening


def normalise(text: str) -> str:
    """What the model reads: the opening, lower case, a number as 0, a run of one character (哈哈哈哈, 啊啊啊)
    as two, runs of spaces as one."""
    return _RUNS.sub(r"\1\1", _DIGITS.sub("0", _SPACES.sub(" ", text[:_CLASSIFY_PREFIX].lower())))


@dataclass(frozen=True)
class Decision:
    """The model's answer: the likeliest category, and whether the line is a request at all."""

    is_request: bool
    category: str  # a Category value, or chatter / closing / detail when not a request
    confidence: float


def read_fitted(path: Path) -> dict:
    """A fitted model (`write_fitted`), each distinct number one float object: the weights are rounded to four places,
    so the intake model's 300,000 numbers share 12,500 values (in memory 14 MB -> 7 MB); each feature's row a tuple
    (the three models 29.2 -> 24.9 MB against lists, tracemalloc). Read a line at a time: parsing the whole model as
    one JSON document left the service 8 MB larger for good (memory freed in pieces too small to give back)."""
    values: dict[str, float] = {}

    def number(text: str) -> float:
        value = values.get(text)
        if value is None:
            value = values[text] = float(text)
        return value

    with path.open(encoding="utf-8") as lines:
        fitted = json.loads(next(lines))
        features = fitted["features"] = {}
        for line in lines:
            gram, _, row = line.partition("\t")
            features[json.loads(gram)] = tuple([number(text) for text in row.split()])
    return dict(fitted)


def write_fitted(path: Path, fitted: dict) -> None:
    """The model's header as a line of JSON (classes, n-grams, intercepts, calibration, bars), then a line per
    feature: the gram as a JSON string, a tab, its idf and a weight per class."""
    header = {key: value for key, value in fitted.items() if key != "features"}
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps(header, ensure_ascii=False, separators=(",", ":")) + "\n")
        for gram, row in fitted["features"].items():
            out.write(f"{json.dumps(gram, ensure_ascii=False)}\t{' '.join(map(repr, row))}\n")


class LinearTextModel:
    """A fitted character n-gram TF-IDF + linear SVM with sigmoid calibration (classify_fit), scored as
    scikit-learn would: sublinear tf, l2 norm, one calibrated sigmoid per class normalised to sum to one (a
    binary model has one sigmoid, for its second class)."""

    def __init__(self, fitted: dict) -> None:
        self.classes: list[str] = fitted["classes"]
        self.low, self.high = fitted["ngrams"]
        self.intercept: list[float] = fitted["intercept"]
        self.calibration: list[list[float]] = fitted["calibration"]  # per class (a, b): p = 1 / (1 + e^(a s + b))
        self.features: dict[str, tuple[float, ...]] = fitted["features"]  # gram: (idf, weight per class)

    def probabilities(self, text: str) -> list[float]:
        text = normalise(text)
        counts: dict[str, int] = {}
        for n in range(self.low, min(self.high, len(text)) + 1):
            for i in range(len(text) - n + 1):
                gram = text[i:i + n]
                if gram in self.features:
                    counts[gram] = counts.get(gram, 0) + 1
        scores = list(self.intercept)
        weights = [(1.0 + math.log(tf)) * self.features[gram][0] for gram, tf in counts.items()]
        norm = math.sqrt(sum(w * w for w in weights)) or 1.0
        for (gram, _), weight in zip(counts.items(), weights, strict=True):
            row = self.features[gram]
            for k in range(len(scores)):
                scores[k] += weight / norm * row[k + 1]
        calibrated = [_sigmoid(-(a * score + b)) for score, (a, b) in zip(scores, self.calibration, strict=True)]
        if len(self.classes) == 2:
            return [1.0 - calibrated[0], calibrated[0]]
        total = sum(calibrated)
        return [c / total for c in calibrated] if total else [1.0 / len(scores)] * len(scores)


class IntakeModel(LinearTextModel):
    """The intake model: the ticket categories and the three classes that ask nothing, the asks model on top (with
    the small-talk model it weighs) and the complaint bar."""

    def __init__(self, fitted: dict, small_talk: LinearTextModel) -> None:
        super().__init__(fitted)
        self.small_talk = small_talk
        self.asks_weights: list[float] = fitted["asks"]["weights"]
        self.asks_intercept: float = fitted["asks"]["intercept"]
        self.asks_bar: float = fitted["asks_bar"]
        self.complaint_bar: float = fitted["complaint_bar"]
        self.complaint_floor: float = fitted["complaint_floor"]
        self._complaint = self.classes.index(Category.COMPLAINT.value)
        self._asking_nothing = [i for i, name in enumerate(self.classes) if name in NOT_REQUESTS]

    @classmethod
    def load(cls) -> IntakeModel:
        return cls(read_fitted(MODEL_PATH), small_talk_model())

    def asks(self, text: str, probabilities: list[float]) -> float:
        """The asks model's probability that the line asks something, given the intake model's `probabilities`."""
        terms = asks_terms(self.classes, probabilities, self.small_talk, text)
        z = self.asks_intercept + sum(w * term for w, term in zip(self.asks_weights, terms, strict=True))
        return _sigmoid(z)

    def decide(self, text: str) -> Decision:
        """A complaint when the model gives it `complaint_bar` or more (a missed complaint, the one category that
        orders a visit, costs more than a false one), unless the asks model all but rules out that the line asks
        anything (under `complaint_floor`: praise of the people complaints are about, 客服妹子说话好听 又耐心); else
        a request when the asks model gives it `asks_bar`, of the likeliest request category; else the likeliest
        class that asks nothing, as sure as the asks model is that the line asks nothing."""
        p = self.probabilities(text)
        asks = self.asks(text, p)
        if p[self._complaint] >= self.complaint_bar and asks >= self.complaint_floor:
            return Decision(True, Category.COMPLAINT.value, p[self._complaint])
        if asks < self.asks_bar:
            best = max(self._asking_nothing, key=p.__getitem__)
            return Decision(False, self.classes[best], 1.0 - asks)
        best = max((i for i in range(len(p)) if i not in self._asking_nothing), key=p.__getitem__)
        return Decision(True, self.classes[best], p[best])


def asks_terms(classes: list[str], probabilities: list[float], small_talk: LinearTextModel,
               text: str) -> list[float]:
    """What the asks model weighs (`IntakeModel.asks`; classify_fit fits it on these): the intake model's
    probabilities of asking nothing (the three classes together and each), of complaint and of the likeliest
    request, and the small-talk model's of the line and of its ending (the line's, for a short one)."""
    given = dict(zip(classes, probabilities, strict=True))
    talking = small_talk.classes.index("small_talk")
    talk = small_talk.probabilities(text)[talking]
    end = ending(text)
    talk_at_end = small_talk.probabilities(end)[talking] if end is not None else talk
    return [sum(given[name] for name in NOT_REQUESTS), given["chatter"], given["closing"], given["detail"],
            given[Category.COMPLAINT.value], max(p for name, p in given.items() if name not in NOT_REQUESTS),
            talk, talk_at_end]


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@cache
def model() -> IntakeModel:
    """The shipped model, loaded once."""
    return IntakeModel.load()


@cache
def small_talk_model() -> LinearTextModel:
    """The shipped small-talk model (classify_fit.small_talk_lines), loaded once."""
    return LinearTextModel(read_fitted(SMALL_TALK_MODEL_PATH))


@dataclass(frozen=True)
class Analysis:
    is_request: bool
    category: Category
    trading: bool
    chatter: bool = False  # asks nothing and adds nothing (a request or a picture is not chatter)
    closing: bool = False  # a closing remark (已经弄好了 谢谢): stored on the retailer's recent ticket
    sure: bool = False  # asks nothing, and the model is sure of it (`SURE`)


_WORD_FREQUENCY = 2000  # what jieba is told of each domain word: enough to keep 扫码枪 whole


@cache
def domain_tokenizer() -> jieba.Tokenizer:
    """One jieba tokenizer for the whole service, knowing the domain words (loaded once)."""
    tokenizer = jieba.Tokenizer()
    for word in DOMAIN_WORDS:
        tokenizer.add_word(word, freq=_WORD_FREQUENCY)
    return tokenizer


def add_words(words: Iterable[str]) -> None:
    """Teach the shared tokenizer words (the knowledge entries' keywords), each once: jieba's add_word raises the
    dictionary's total on every call, so adding the same words again at each rebuild of the knowledge index shifted
    every later segmentation a little (the same question could be answered before a rebuild and not after)."""
    tokenizer = domain_tokenizer()
    for word in words:
        if tokenizer.FREQ.get(word) != _WORD_FREQUENCY:
            tokenizer.add_word(word, freq=_WORD_FREQUENCY)


def warm_up() -> None:
    """Load jieba's dictionary and the models now rather than on the first retailer's message."""
    domain_tokenizer().lcut("预热")
    model()
    small_talk_model()


def ending(text: str) -> str | None:
    """The last `ENDING_CLAUSES` clauses of the message's opening (what is classified), when it has more."""
    clauses = [clause for clause in _CLAUSES.split(text[:_CLASSIFY_PREFIX]) if clause]
    return " ".join(clauses[-ENDING_CLAUSES:]) if len(clauses) > ENDING_CLAUSES else None


def tokens(text: str) -> list[str]:
    return domain_tokenizer().lcut(text[:_CLASSIFY_PREFIX])


def _mentions(text: str, *kinds: Iterable[str]) -> bool:
    """Whether the text holds a word of each kind."""
    return all(any(word in text for word in kind) for kind in kinds)


def _trading(text: str) -> bool:
    head = text[:_CLASSIFY_PREFIX]
    if TRADING_TERMS.search(head) is not None:
        return True
    offers = (TRADING_OFFER.search(head) is not None or _mentions(head, TRADING_SELL_OFF, TOBACCO_WORDS)
              or _mentions(head, TRADING_VERBS, TOBACCO_WORDS, _DEAL_TERMS))
    bare = _mentions(head, TRADING_BARE_VERBS, TOBACCO_WORDS, _CONTACT)
    if not offers and (bare or any(word in head for word in TRADING_STRONG)):  # jieba only where it may tell
        words = set(tokens(text))
        offers = bool(words & TRADING_STRONG) or (bare and bool(words & TRADING_BARE_VERBS))
    return offers and not (any(cue in head for cue in _ASKING) or _ASKING_DIALECT.search(head) is not None)


def analyse(text: str) -> Analysis:
    if not text.strip():
        return Analysis(is_request=False, category=Category.OTHER, trading=False, chatter=True, sure=True)
    if _MEDIA_ONLY.match(text):
        return Analysis(is_request=False, category=Category.OTHER, trading=False)
    if _trading(text):
        return Analysis(is_request=True, category=Category.MONOPOLY, trading=True)
    decided = model().decide(text)
    if not decided.is_request:
        return Analysis(is_request=False, category=Category.OTHER, trading=False,
                        chatter=decided.category in CHATTER_CLASSES, closing=decided.category == "closing",
                        sure=decided.confidence >= SURE and not _asks_at_the_end(text))
    return Analysis(is_request=True, category=Category(decided.category), trading=False)


def likeliest_request(text: str) -> Category:
    """The request category the model gives a line most weight, whatever it decided the line is (a person found that
    a line the bot took for chatter asks something: which request is it likeliest to be?)."""
    intake = model()
    given = zip(intake.classes, intake.probabilities(text), strict=True)
    return Category(max((pair for pair in given if pair[0] not in NOT_REQUESTS), key=lambda pair: pair[1])[0])


def _asks_at_the_end(text: str) -> bool:
    """Whether a long message's ending, read alone, asks (a good morning and the customers first, then 扫码枪老扫不出来
    咋整): the story's words must not make the question chatter."""
    end = ending(text)
    return end is not None and model().decide(end).is_request


_FUNCTION_WORDS = frozenset(
    """怎么 怎样 如何 为什么 为啥 什么 啥 谁 哪 哪里 哪天 哪个 能不能 可不可以 可以 是不是 有没有 多少 几 几时
    咋 咋办 请问 问下 问一下 咨询 求助 需要 想要 我要 要求 帮忙 帮我 帮看 请 麻烦 希望 申请 安排 处理 解决
    不了 不能 不会 不行 没有 没收到 没到 坏了 故障 出错 失败 错误 问题 异常 报错 不对 不上 不到 不出 不显示 丢了
    少了 错了 太慢 一下 这个 那个 我们 你们 他们 还是 就是 现在 今天 昨天 已经 一直 时候 什么时候 怎么办
    到底 有点 一点 怎么回事 老师 客服 谢谢 你好 您好""".split())
_CJK_OR_WORD = re.compile(r"^[\u4e00-\u9fffA-Za-z0-9]{2,}$")


def content_words(text: str) -> frozenset[str]:
    """What a message is about (its nouns and verbs of two characters or more, without question
    and request words), to tell a new request from more words on the same one."""
    return frozenset(word for word in tokens(text) if _CJK_OR_WORD.match(word) and word not in _FUNCTION_WORDS)
