"""Knowledge answers: match a retailer's question to an entry, or hand it to a person.

Entries live in `knowledge/entries/<column>/<name>.yaml`, one topic each, which
staff read and edit. A question becomes jieba words (retailers' synonyms folded
to one word), character bigrams and single characters (which survive typos and
odd segmentation). A naive Bayes model trained on each entry's standard and
similar questions ranks the entries (87 % top-1 on the held-out set, against
57 % for nearest-neighbour cosine). Its posterior is overconfident on questions
from outside the domain, so an answer also needs the TF-IDF cosine to the
chosen entry and the share of the question's words the knowledge base knows
(身份证 or 驾照 never occur in it) to clear their thresholds. The model also
has an "out of scope" class, trained on `knowledge/out_of_scope.yaml` (chat,
daily life, other public services): when it wins, or takes enough of the
probability, the question goes to a person. Three bands: a
confident answer, up to three suggestions (你是不是想问…), or a hand-over to an
agent. Thresholds are calibrated on `knowledge/eval/` by `bench/knowledge_eval.py`,
never guessed, and stored in `knowledge/thresholds.yaml`.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from bot.models import AuthorKind
from bot.services import tickets
from bot.services.classify import domain_tokenizer
from bot.services.errors import Conflict, NotFound, ServiceError

Column = Literal["terminal", "training", "marketing", "delivery", "monopoly", "general"]

# Retailers' words for the same thing, folded to one so they meet in the index.
SYNONYMS = {
    "扫描枪": "扫码枪", "扫码器": "扫码枪", "扫描器": "扫码枪", "扫码机": "扫码枪", "扫枪": "扫码枪",
    "订烟": "订货", "要货": "订货", "要烟": "订货", "下单": "订货", "报货": "订货",
    "烟草证": "许可证", "专卖证": "许可证", "零售证": "许可证", "烟证": "许可证", "证件": "许可证",
    "小票机": "打印机", "票据机": "打印机", "收银机": "终端", "机器": "终端", "一体机": "终端",
    "送烟": "送货", "配送": "送货", "送来": "送货", "送到": "送货",
    "咋": "怎么", "咋办": "怎么办", "咋整": "怎么办", "怎么弄": "怎么办", "怎么搞": "怎么办",
    "木有": "没有", "没得": "没有", "莫得": "没有",
    "假货": "假烟", "仿冒": "假烟", "未成年": "未成年人", "小孩": "未成年人", "学生": "未成年人",
}
_PUNCTUATION = re.compile(r"[\s\W_]+", re.UNICODE)
_SENTENCE_NOISE = frozenset(
    "的 了 吗 呢 啊 吧 呀 嘛 哦 哈 么 下 一下 请问 问下 问一下 你好 您好 老师 客服 在吗".split())
WORD_WEIGHT, BIGRAM_WEIGHT = 1.0, 0.6


# column.name, which is also what makes it a safe file name
ENTRY_ID = re.compile(r"^(terminal|training|marketing|delivery|monopoly|general)\.[a-z0-9-]{1,60}$")


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^(terminal|training|marketing|delivery|monopoly|general)\.[a-z0-9-]+$")
    column: Column
    question: str = Field(min_length=2)
    similar: tuple[str, ...] = Field(min_length=1)  # the shipped base keeps at least 4 (content test)
    keywords: tuple[str, ...] = ()
    answer: str = Field(min_length=2, max_length=600)
    personal_answer: str | None = None
    links: tuple[dict, ...] = ()
    reviewed: date
    retired: bool = False

    def render(self, card: dict[str, str | int | None] | None) -> str:
        """The answer, in the asking retailer's own terms when the directory knows them."""
        if self.personal_answer and card:
            try:
                filled = self.personal_answer.format(**card)
            except (KeyError, IndexError):
                return self.answer
            if "None" not in filled:
                return filled
        return self.answer


def load_entries(directory: Path) -> list[Entry]:
    """Every entry under `directory`; a broken file is an error naming the file."""
    entries: list[Entry] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*/*.yaml")):
        try:
            entry = Entry.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except Exception as error:
            raise ValueError(f"{path}: {error}") from error
        if entry.id in seen:
            raise ValueError(f"{path}: id {entry.id} already used by {seen[entry.id]}")
        seen[entry.id] = path
        entries.append(entry)
    return entries


def features(text: str) -> Counter[str]:
    """Words (synonyms folded) and character bigrams of a question."""
    words = [SYNONYMS.get(word, word) for word in domain_tokenizer().lcut(text[:200])]
    words = [word for word in words if word not in _SENTENCE_NOISE and not _PUNCTUATION.fullmatch(word)]
    compact = "".join(words)
    found: Counter[str] = Counter({f"w:{word}": 1 for word in words})
    found.update(f"c:{compact[i:i + 2]}" for i in range(len(compact) - 1))
    return found


def _weigh(counts: Counter[str], idf: dict[str, float]) -> dict[str, float]:
    vector = {}
    for feature, count in counts.items():
        if feature in idf:
            weight = WORD_WEIGHT if feature.startswith("w:") else BIGRAM_WEIGHT
            vector[feature] = weight * (1 + math.log(count)) * idf[feature]
    norm = math.sqrt(sum(value * value for value in vector.values())) or 1.0
    return {feature: value / norm for feature, value in vector.items()}


class Decision(StrEnum):
    ANSWER = "answer"
    SUGGEST = "suggest"
    HANDOVER = "handover"


class Thresholds(BaseModel):
    posterior: float = Field(ge=0, le=1, description="naive Bayes probability of the best entry")
    similarity: float = Field(ge=0, le=1, description="cosine to the best entry's questions")
    coverage: float = Field(ge=0, le=1, description="share of the question's words the base knows")
    suggest: float = Field(ge=0, le=1, description="cosine needed to suggest an entry")


@dataclass(frozen=True)
class Match:
    entry: Entry
    score: float  # naive Bayes posterior
    similarity: float = 0.0


class Assessment(NamedTuple):
    matches: list[Match]
    out_of_scope: float
    coverage: float


@dataclass(frozen=True)
class Result:
    decision: Decision
    matches: list[Match] = field(default_factory=list)

    @property
    def best(self) -> Entry | None:
        return self.matches[0].entry if self.matches else None


SMOOTHING = 0.3
OUT_OF_SCOPE = "~out-of-scope"  # a class of the model, never an entry
OUT_OF_SCOPE_LIMIT = 0.5  # more likely out of scope than not: a person takes it, no suggestions


def load_out_of_scope(path: Path) -> list[str]:
    """Lines the base must not answer, by theme; the model sees them as one class."""
    if not path.is_file():
        return []
    themes = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(themes, dict) or not all(isinstance(lines, list) for lines in themes.values()):
        raise ValueError(f"{path}: write a mapping from theme to a list of lines")
    return [str(line) for lines in themes.values() for line in lines]


def _with_characters(text: str) -> Counter[str]:
    found = features(text)
    found.update(f"u:{char}" for char in text[:200] if char.isalnum())
    return found


def _coverage(found: Counter[str], idf: dict[str, float]) -> float:
    """Share of the question's words that occur anywhere in the base."""
    words = [feature for feature in found if feature.startswith("w:")]
    return sum(1 for word in words if word in idf) / len(words) if words else 0.0


class KnowledgeIndex:
    """The active entries, as a naive Bayes model and a TF-IDF inverted index."""

    def __init__(self, entries: list[Entry], thresholds: Thresholds, out_of_scope: Sequence[str] = ()) -> None:
        self.entries = [entry for entry in entries if not entry.retired]
        self.thresholds = thresholds
        tokenizer = domain_tokenizer()
        for word in {*SYNONYMS, *(keyword for entry in self.entries for keyword in entry.keywords)}:
            tokenizer.add_word(word, freq=2000)
        texts = [(entry, text) for entry in self.entries
                 for text in (entry.question, *entry.similar, " ".join(entry.keywords)) if text]

        counted = [(entry, features(text)) for entry, text in texts]
        frequency = Counter(feature for _, counts in counted for feature in counts)
        self.idf = {feature: math.log((len(counted) + 1) / (df + 1)) + 1 for feature, df in frequency.items()}
        # Each entry's questions as unit TF-IDF vectors, inverted per entry (feature -> question,
        # weight): the cosine is needed only for the few entries the model ranks first.
        self._vectors: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
        for number, (entry, counts) in enumerate(counted):
            for feature, weight in _weigh(counts, self.idf).items():
                self._vectors[entry.id][feature].append((number, weight))

        per_entry: dict[str, Counter[str]] = defaultdict(Counter)
        for entry, text in texts:
            per_entry[entry.id].update(_with_characters(text))
        for text in out_of_scope:
            per_entry[OUT_OF_SCOPE].update(_with_characters(text))
        vocabulary = {feature for counts in per_entry.values() for feature in counts}
        size = len(vocabulary)
        # log P(feature | entry) with additive smoothing, stored per feature for sparse scoring
        self._unseen = {entry_id: math.log(SMOOTHING / (sum(counts.values()) + SMOOTHING * size))
                        for entry_id, counts in per_entry.items()}
        self._likelihood: dict[str, dict[str, float]] = defaultdict(dict)
        for entry_id, counts in per_entry.items():
            total = sum(counts.values()) + SMOOTHING * size
            for feature, count in counts.items():
                self._likelihood[feature][entry_id] = math.log((count + SMOOTHING) / total) \
                    - self._unseen[entry_id]
        self._by_id = {entry.id: entry for entry in self.entries}

    def similarity(self, query: dict[str, float], entry_id: str) -> float:
        """Cosine of a weighted question to the entry's closest question."""
        postings = self._vectors[entry_id]
        dots: defaultdict[int, float] = defaultdict(float)
        for feature, weight in query.items():
            for number, doc_weight in postings.get(feature, ()):
                dots[number] += weight * doc_weight
        return max(dots.values(), default=0.0)

    def coverage(self, question: str) -> float:
        return _coverage(features(question), self.idf)

    def rank(self, question: str, limit: int = 3) -> list[Match]:
        return self._rank(features(question), question, limit)[0]

    def _rank(self, found: Counter[str], question: str, limit: int) -> tuple[list[Match], float]:
        """The best entries, and the probability the question is out of scope."""
        if not self.entries:
            return [], 1.0
        with_characters = found + Counter(f"u:{char}" for char in question[:200] if char.isalnum())
        known = [feature for feature in with_characters if feature in self._likelihood]
        if not known:
            return [], 1.0
        logs = {entry_id: unseen * len(known) for entry_id, unseen in self._unseen.items()}
        for feature in known:
            for entry_id, gain in self._likelihood[feature].items():
                logs[entry_id] += gain
        top = max(logs.values())
        total = sum(math.exp(value - top) for value in logs.values())
        query = _weigh(found, self.idf)
        ranked = [entry_id for entry_id in sorted(logs, key=logs.__getitem__, reverse=True)
                  if entry_id != OUT_OF_SCOPE][:limit]
        out_of_scope = math.exp(logs[OUT_OF_SCOPE] - top) / total if OUT_OF_SCOPE in logs else 0.0
        return [Match(self._by_id[entry_id], round(math.exp(logs[entry_id] - top) / total, 4),
                      round(self.similarity(query, entry_id), 4)) for entry_id in ranked], out_of_scope

    def assess(self, question: str, limit: int = 3) -> Assessment:
        """Everything a decision rests on (the calibration reads it too)."""
        found = features(question)
        matches, out_of_scope = self._rank(found, question, limit)
        return Assessment(matches, out_of_scope, _coverage(found, self.idf))

    def decide(self, question: str) -> Result:
        matches, out_of_scope, coverage = self.assess(question)
        limits = self.thresholds
        if not matches or out_of_scope >= OUT_OF_SCOPE_LIMIT or coverage < limits.coverage:
            return Result(Decision.HANDOVER, matches)
        best = matches[0]
        if best.score >= limits.posterior and best.similarity >= limits.similarity:
            return Result(Decision.ANSWER, matches)
        suggestions = [match for match in matches if match.similarity >= limits.suggest]
        return Result(Decision.SUGGEST, suggestions) if suggestions else Result(Decision.HANDOVER, matches)


class KnowledgeBase:
    """The live index, rebuilt from the files on `reload()` without a restart."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.index = self._build()

    def _build(self) -> KnowledgeIndex:
        thresholds = Thresholds.model_validate(
            yaml.safe_load((self.directory / "thresholds.yaml").read_text(encoding="utf-8")))
        return KnowledgeIndex(load_entries(self.directory / "entries"), thresholds,
                              load_out_of_scope(self.directory / "out_of_scope.yaml"))

    def reload(self) -> int:
        """Swap in a fresh index; a broken file raises and the old index stays."""
        try:
            fresh = self._build()
        except (OSError, ValueError) as error:
            raise ServiceError(f"知识库文件有误，未重新加载：{error}") from error
        self.index = fresh
        return len(fresh.entries)

    # -- curation: the files stay the source of truth, each change is followed by a reload --

    def _path(self, entry_id: str) -> Path:
        column, name = entry_id.split(".", 1)
        return self.directory / "entries" / column / f"{name}.yaml"

    def _write(self, entry: Entry) -> None:
        data = entry.model_dump(mode="json", exclude_defaults=False)
        if not data["retired"]:
            del data["retired"]
        if data["personal_answer"] is None:
            del data["personal_answer"]
        path = self._path(entry.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")

    def exists(self, entry_id: str) -> bool:
        return ENTRY_ID.match(entry_id) is not None and self._path(entry_id).is_file()

    def get(self, entry_id: str) -> Entry:
        """Only an id of the entries' form names a file (anything else, however long or odd, is unknown)."""
        path = self._path(entry_id) if ENTRY_ID.match(entry_id) else None
        if path is None or not path.is_file():
            raise NotFound(f"知识条目 {entry_id} 不存在")
        return Entry.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))

    def create(self, entry: Entry) -> Entry:
        if self._path(entry.id).exists():
            raise Conflict(f"知识条目 {entry.id} 已存在")
        self._write(entry)
        self.reload()
        return entry

    def update(self, entry_id: str, changes: dict) -> Entry:
        entry = Entry.model_validate({**self.get(entry_id).model_dump(), **changes})
        self._write(entry)
        self.reload()
        return entry

    def learn(self, entry_id: str, question: str, reply: str | None, *, ticket_id: int, today: date) -> Entry:
        """A ticket's question joins an entry; a new entry takes the agent's reply as its answer."""
        if not ENTRY_ID.match(entry_id):
            raise ServiceError(f"条目编号「{entry_id}」格式不对：应为 栏目.名称，如 terminal.printer-jam（栏目为 "
                               "terminal、training、marketing、delivery、monopoly、general；名称用小写字母、数字和 -）")
        question = question.strip()
        if not 2 <= len(question) <= 200:
            raise ServiceError("问题需 2 到 200 字")
        if self.exists(entry_id):
            return self.add_similar(entry_id, question)
        if reply is None or not reply.strip():
            raise ServiceError(f"工单 #{ticket_id} 还没有客服回复，无法生成新的知识条目")
        if not 2 <= len(reply.strip()) <= 600:
            raise ServiceError("答案需 2 到 600 字")
        return self.create(Entry(id=entry_id, column=entry_id.split(".")[0], question=question, similar=(question,),
                                 answer=reply.strip(), reviewed=today))

    def add_similar(self, entry_id: str, wording: str) -> Entry:
        """A retailer's own wording becomes another similar question of an entry."""
        entry = self.get(entry_id)
        if wording in (entry.question, *entry.similar):
            return entry
        return self.update(entry_id, {"similar": (*entry.similar, wording)})


def learn_from_ticket(session: Session, base: KnowledgeBase, ticket_id: int, entry_id: str, *,
                      question: str | None = None, answer: str | None = None, staff_id: int | None,
                      now: datetime, today: date) -> Entry:
    """A ticket teaches the base: its question (or the staff member's edit of it) joins the entry, or a
    new entry is made with the agent's reply (or its edit) as the answer; the ticket's trail says so."""
    asked, replied = tickets.knowledge_source(session, ticket_id)
    existed = base.exists(entry_id)
    entry = base.learn(entry_id, question if question is not None else asked,
                       answer if answer is not None else replied, ticket_id=ticket_id, today=today)
    tickets.event(session, ticket_id, now, AuthorKind.STAFF if staff_id else AuthorKind.SYSTEM,
                  str(staff_id) if staff_id else None, "wording_added" if existed else "knowledge_entry_created",
                  entry=entry_id)
    return entry
