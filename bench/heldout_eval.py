"""How the group's path does on the sets kept apart for #16 (knowledge/eval/apart/ to apart17/), written by helper
sessions that never saw the entries' wordings, the other evaluation sets or any training line; nothing is fitted on
them. `apart2` was written in session 8, `apart3` in session 9, `apart4` in session 10, `apart5` and `apart6` in
session 12, `apart7` and `apart8` in session 13, `apart9` in session 16, `apart10` and `apart11` in session 17,
`apart12` and `apart13` in session 18, `apart14` in session 19, `apart15` in session 20, `apart16` in session 21 and
`apart17` in session 22 (each to a brief its writer wrote first, from the categories' one-line meanings), each first
measured before anything was tuned after it.

Every line goes through the real intake service (`intake.handle_group_message`) on a fresh SQLite store, as a
new unbound retailer in one registered group, with the knowledge base as shipped. Reports:
- intake (`apart/intake.yaml`; apart to apart9's became training lines in session 19, so only apart10 on have
  them): requests logged (a ticket opened or an answer logged), chatter that opened a
  ticket (and why: the model said request, or it said chatter and the knowledge base answered), category right
  among logged requests, complaints logged as complaints, and the confusion pairs of #16
  (delivery vs supply, training vs other, launch vs terminal: lines of either category given the other);
- knowledge, harder style (`apart/knowledge_hard.yaml`): answered with the right entry, answered with a wrong
  one (over all lines), answered at all, and of those the share that went out as first aid under the
  acknowledgement of a ticket a person still deals with (a complaint, a fault that orders a visit); and why the
  others were not (what intake did, what the knowledge base decided, what the intake model said), counted; the
  wrong answers listed, each with the entry meant and the one answered from;
- other trades (`apart/off_topic_borrowing.yaml`): answered from our entries (they should not be), first aid
  included.
#16's aims: requests logged >= 97 %, chatter ticketed <= 3 %, category >= 90 %, complaints >= 95 %;
wrong <= 2 %, answered >= 85 %; off-topic answered <= 3 %.

Last, `pooled`: each aim's figure summed over the sets run (apart10 on for intake, every set for knowledge), with a
95 % Wilson interval, and each set's figure that misses its aim, with its own interval. A set of 55 complaints or
200 chatter lines is a small sample: a miss whose interval still holds the aim is as likely the set's draw as the
model's (55 of 60 complaints is 82-96 %), one whose interval lies wholly on the wrong side is not.

`--show N` lists up to N missed lines of each kind; `--show 0` prints aggregate figures only (no line).

    .venv/bin/python bench/heldout_eval.py [--show 10]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from scipy.stats import binomtest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import start_runtime  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.models import Ticket  # noqa: E402
from bot.runtime import Runtime, current_runtime, set_runtime  # noqa: E402
from bot.services import classify, directory, intake  # noqa: E402

EVAL = ROOT / "knowledge" / "eval"
# apart17: written in session 22; apart16 in session 21; apart15 in session 20; apart14 in session 19; apart13 and
# apart12 in session 18; apart11 and apart10 in session 17; apart9 in session 16, apart8 and apart7 in session 13,
# apart6 and apart5 in session 12, apart4 in session 10, apart3 in session 9, apart2 in session 8, each measured first
# before anything was tuned after it
SETS = ("apart17", "apart16", "apart15", "apart14", "apart13", "apart12", "apart11", "apart10", "apart9", "apart8",
        "apart7", "apart6", "apart5", "apart4", "apart3", "apart2", "apart")
GROUP = "700001"
PAIRS = (("delivery", "supply"), ("training", "other"), ("launch", "terminal"))
# #16's aims: (part of figures_of's answer, figure, at least or at most, bar)
AIMS = (("intake", "requests_logged", ">=", 0.97), ("intake", "chatter_ticketed", "<=", 0.03),
        ("intake", "category_right", ">=", 0.90), ("intake", "complaints_right", ">=", 0.95),
        ("knowledge_hard", "answered", ">=", 0.85), ("knowledge_hard", "wrong", "<=", 0.02),
        ("off_topic_borrowing", "answered", "<=", 0.03))
_users = itertools.count(3_000_000)


def lines(name: str, kept_apart: str = "apart") -> list[dict]:
    return yaml.safe_load((EVAL / kept_apart / name).read_text(encoding="utf-8"))


@contextmanager
def fresh_runtime() -> Iterator[Runtime]:
    """The service on a scratch SQLite store with one registered group; the runtime set before (a test
    session's) is set again afterwards."""
    previous = current_runtime()
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(_env_file=None, database_url=f"sqlite:///{scratch}/eval.db", log_level="ERROR")
        runtime = start_runtime(settings)
        try:
            runtime.unit_of_work(directory.create_group, {"group_id": GROUP}, now=runtime.clock.now())
            yield runtime
        finally:
            runtime.close()
            set_runtime(previous)


def post(runtime: Runtime, text: str) -> tuple[intake.Outcome, str | None]:
    """The line as a new retailer's group message: what intake decided, and the category of its ticket."""
    message = intake.GroupMessage(platform="qq", group_id=GROUP, user_id=str(next(_users)), text=text,
                                  message_id=str(next(_users)), self_id="20000")

    def handle(session):
        outcome = intake.handle_group_message(session, message, now=runtime.clock.now(), settings=runtime.settings,
                                              policies=runtime.policies, knowledge=runtime.knowledge)
        ticket = session.get(Ticket, outcome.ticket_id) if outcome.ticket_id else None
        return outcome, ticket.category if ticket else None

    return runtime.unit_of_work(handle)


def share(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 0.0


def intake_figures(runtime: Runtime, labelled: list[dict], show: int = 0) -> dict:
    """The intake figures over lines labelled `{text, kind: request|chatter, category}`."""
    requests = chatter = logged = ticketed_chatter = right_category = complaints = complaints_right = 0
    confusions: Counter = Counter()
    pairs = {f"{a}/{b}": Counter() for a, b in PAIRS}
    chatter_why: Counter = Counter()
    missed, chatty = [], []
    for line in labelled:
        outcome, category = post(runtime, line["text"])
        opened = outcome.ticket_id is not None
        if line["kind"] == "chatter":
            chatter += 1
            ticketed_chatter += opened
            if opened:
                chatty.append(line["text"])
                said = "the model said request" if classify.analyse(line["text"]).is_request \
                    else "the model said chatter, the base answered"
                chatter_why[f"{said}: {outcome.result.value} {outcome.reason or ''}".strip()] += 1
            continue
        requests += 1
        complaints += line["category"] == "complaint"
        if not opened:
            missed.append(line["text"])
            continue
        logged += 1
        right_category += category == line["category"]
        complaints_right += line["category"] == "complaint" and category == "complaint"
        if category != line["category"]:
            confusions[f"{line['category']} -> {category}"] += 1
        for a, b in PAIRS:
            if line["category"] in (a, b):
                pair = pairs[f"{a}/{b}"]
                pair["lines"] += 1
                pair["right"] += category == line["category"]
                pair["swapped"] += category == ({a, b} - {line["category"]}).pop()
    return {"requests": requests, "chatter": chatter, "requests_logged": share(logged, requests),
            "chatter_ticketed": share(ticketed_chatter, chatter), "chatter_ticketed_why": dict(chatter_why),
            "category_right": share(right_category, logged),
            "complaints_right": share(complaints_right, complaints),
            "pairs": {name: dict(counts) for name, counts in pairs.items()},
            "confusions": dict(confusions.most_common(8)), "requests_missed": missed[:show],
            "chatter_ticketed_lines": chatty[:show],
            "counts": {"requests_logged": [logged, requests], "chatter_ticketed": [ticketed_chatter, chatter],
                       "category_right": [right_category, logged], "complaints_right": [complaints_right, complaints]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show", type=int, default=10, help="misses of each kind listed (0: figures only)")
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS), help="the sets kept apart to run")
    args = parser.parse_args()
    results = {kept_apart: figures_of(kept_apart, args.show) for kept_apart in args.sets}
    print(json.dumps({**results, "pooled": pooled(results)}, ensure_ascii=False, indent=2))


def interval(part: int, whole: int) -> list[float]:
    """The 95 % Wilson interval of part / whole."""
    found = binomtest(part, whole).proportion_ci(method="wilson")
    return [round(float(found.low), 3), round(float(found.high), 3)]


def meets(value: float, way: str, bar: float) -> bool:
    return value >= bar if way == ">=" else value <= bar


def pooled(results: dict[str, dict]) -> dict:
    """Each aim's figure over every set that has it, with its interval and whether it meets the aim, and the sets
    that miss it, each with its own interval: `within_interval` says whether the aim lies inside it."""
    summary = {}
    for part, figure, way, bar in AIMS:
        counts = {name: result[part]["counts"][figure] for name, result in results.items() if result[part]}
        if not counts:
            continue
        hit, whole = (sum(pair[i] for pair in counts.values()) for i in (0, 1))
        misses = {}
        for name, (k, n) in counts.items():
            if n and not meets(k / n, way, bar):
                low, high = interval(k, n)
                misses[name] = {"count": [k, n], "share": share(k, n), "interval": [low, high],
                                "within_interval": low <= bar <= high}
        summary[f"{part}.{figure}"] = {"aim": f"{way} {bar}", "sets": len(counts), "count": [hit, whole],
                                        "share": share(hit, whole), "interval": interval(hit, whole),
                                        "met": meets(hit / whole, way, bar), "sets_missing": misses}
    return summary


def unanswered_because(runtime: Runtime, text: str, outcome: intake.Outcome) -> str:
    """Why an in-scope question got no answer: what intake did, what the base decided, what the model said."""
    analysis = classify.analyse(text)
    said = "request" if analysis.is_request else "chatter" if analysis.chatter else "detail"
    model = "trading" if analysis.trading else f"{said}, sure" if analysis.sure else said
    decided = runtime.knowledge.index.decide(text).decision.value if runtime.knowledge else "no base"
    return f"{outcome.result.value} {outcome.reason or ''}; base: {decided}; model: {model}"


def answered_figures(runtime: Runtime, hard: list[dict], show: int = 0) -> dict:
    """The knowledge figures over in-scope questions labelled `{id, text}`: answered with the right entry, with a
    wrong one, at all, as first aid; why the others were not; the wrong answers."""
    right = wrong = first_aid = 0
    unanswered: Counter = Counter()
    wrong_lines: list[str] = []
    for line in hard:
        outcome, _ = post(runtime, line["text"])
        if outcome.entry_id is not None:
            right += outcome.entry_id == line["id"]
            wrong += outcome.entry_id != line["id"]
            if outcome.entry_id != line["id"]:
                wrong_lines.append(f"{line['text']} ({line['id']}, answered from {outcome.entry_id})")
            first_aid += outcome.reason == "first aid"
        else:
            unanswered[unanswered_because(runtime, line["text"], outcome)] += 1
    return {"lines": len(hard), "right": share(right, len(hard)), "wrong": share(wrong, len(hard)),
            "answered": share(right + wrong, len(hard)), "of_which_first_aid": share(first_aid, len(hard)),
            "unanswered_why": dict(unanswered.most_common()), "wrong_lines": wrong_lines[:show],
            "counts": {"answered": [right + wrong, len(hard)], "wrong": [wrong, len(hard)]}}


def figures_of(kept_apart: str, show: int) -> dict:
    """Every figure of one set kept apart (`apart` to `apart17`)."""
    # apart to apart9's intake lines became training lines in session 19 (knowledge/intake/from_apart_sets.yaml)
    trained_on = not (EVAL / kept_apart / "intake.yaml").exists()
    with fresh_runtime() as runtime:
        figures = None if trained_on else intake_figures(runtime, lines("intake.yaml", kept_apart), show)
        hard = answered_figures(runtime, lines("knowledge_hard.yaml", kept_apart), show)
        borrowing = lines("off_topic_borrowing.yaml", kept_apart)
        answered_off = [line["text"] for line in borrowing if post(runtime, line["text"])[0].entry_id is not None]
    return {
        "intake": figures,
        "knowledge_hard": hard,
        "off_topic_borrowing": {"lines": len(borrowing), "answered": share(len(answered_off), len(borrowing)),
                                "answered_lines": answered_off[:show],
                                "counts": {"answered": [len(answered_off), len(borrowing)]}},
    }


if __name__ == "__main__":
    main()
