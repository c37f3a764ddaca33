"""Evaluate (and calibrate) the knowledge answers on the held-out phrasings in knowledge/eval/.

Reports, over in-scope questions: accuracy of answered ones, answer rate, wrong-answer rate (wrong answers
over all in-scope questions), and how often the right entry is among the suggestions; over off-topic lines:
how often one was answered. Aims: wrong < 3 %, answered >= 80 %, off-topic answered < 5 %.
`--calibrate` searches the thresholds on this same set and then reports on it: the figures are the
calibrated fit. `--cross` is the independent check: thresholds fitted on one half, measured on the other.

    .venv/bin/python bench/knowledge_eval.py              # with knowledge/thresholds.yaml
    .venv/bin/python bench/knowledge_eval.py --calibrate  # search thresholds under the aims, write them
    .venv/bin/python bench/knowledge_eval.py --cross      # fit on one half, report on the other
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.services.classify import analyse  # noqa: E402
from bot.services.knowledge import (  # noqa: E402
    OUT_OF_SCOPE_LIMIT,
    Decision,
    KnowledgeIndex,
    Thresholds,
    load_entries,
    load_out_of_scope,
)

KNOWLEDGE = ROOT / "knowledge"
WRONG_LIMIT, OFF_TOPIC_LIMIT = 0.015, 0.04  # well inside the aims (3 %, 5 %): a wrong answer is worse than none


def load_eval(half: str = "*") -> tuple[list[tuple[str, str]], list[str]]:
    held_out, off_topic = [], []
    for path in sorted((KNOWLEDGE / "eval").glob(f"held_out_{half}.yaml")):
        held_out += [(item["text"], item["id"]) for item in yaml.safe_load(path.read_text(encoding="utf-8"))]
    for path in sorted((KNOWLEDGE / "eval").glob(f"off_topic_{half}.yaml")):
        off_topic += list(yaml.safe_load(path.read_text(encoding="utf-8")))
    return held_out, off_topic


def reaches_the_engine(text: str) -> bool:
    analysis = analyse(text)  # intake leaves sure chatter alone without asking the base
    return not analysis.trading and not (analysis.chatter and analysis.sure)


def report(index: KnowledgeIndex, held_out, off_topic, only=lambda text: True) -> dict:
    """Metrics over the lines `only` lets through (the rest count as handed over)."""
    answered = right = wrong = suggested_right = 0
    mistakes = []
    for text, expected in held_out:
        result = index.decide(text) if only(text) else None
        if result is None:
            continue
        if result.decision == Decision.ANSWER:
            answered += 1
            if result.best.id == expected:
                right += 1
            else:
                wrong += 1
                mistakes.append({"text": text, "expected": expected, "answered": result.best.id})
        elif result.decision == Decision.SUGGEST and expected in {m.entry.id for m in result.matches}:
            suggested_right += 1
    off_answered = [text for text in off_topic if only(text) and index.decide(text).decision == Decision.ANSWER]
    total = len(held_out)
    return {
        "answer_rate": round(answered / total, 3),
        "accuracy_of_answered": round(right / answered, 3) if answered else None,
        "wrong_answer_rate": round(wrong / total, 3),
        "right_entry_suggested": round(suggested_right / total, 3),
        "off_topic_answered": round(len(off_answered) / len(off_topic), 3),
        "wrong_answers": mistakes[:10], "off_topic_answered_lines": off_answered[:10],
    }


def calibrate(entries, out_of_scope, held_out, off_topic) -> Thresholds:
    """Thresholds that answer the most in-scope questions within the limits, measured on what reaches
    the engine in a group (intake settles small talk and trading posts before it)."""
    index = KnowledgeIndex(entries, Thresholds(posterior=0, similarity=0, coverage=0, suggest=0), out_of_scope)

    def measure(text):
        matches, out, coverage = index.assess(text, limit=1)
        if not matches or out >= OUT_OF_SCOPE_LIMIT or not reaches_the_engine(text):
            return None, 0.0, 0.0, 0.0
        return matches[0].entry.id, matches[0].score, matches[0].similarity, coverage

    rows = [(measure(text), expected) for text, expected in held_out]
    off_rows = [measure(text) for text in off_topic]

    def answered(row, p, s, c):
        return row[0] is not None and row[1] >= p and row[2] >= s and row[3] >= c

    best = None
    for p, s, c in itertools.product([x / 100 for x in range(5, 100, 5)], [x / 100 for x in range(0, 52)],
                                     [x / 100 for x in range(0, 101, 5)]):
        given = [(row[0], expected) for row, expected in rows if answered(row, p, s, c)]
        wrong = sum(1 for got, expected in given if got != expected) / len(rows)
        off = sum(1 for row in off_rows if answered(row, p, s, c)) / len(off_rows)
        if wrong <= WRONG_LIMIT and off <= OFF_TOPIC_LIMIT and (best is None or len(given) > best[0]):
            best = (len(given), p, s, c)
    if best is None:
        raise SystemExit("no thresholds meet the limits: improve the entries")
    _, posterior, similarity, coverage = best
    # Suggestions: as low as possible while at most a third of off-topic lines would get one.
    suggest = similarity
    for candidate in [x / 100 for x in range(int(similarity * 100), 9, -1)]:
        if sum(1 for row in off_rows if row[3] >= coverage and row[2] >= candidate) / len(off_rows) > 1 / 3:
            break
        suggest = candidate
    return Thresholds(posterior=posterior, similarity=similarity, coverage=coverage, suggest=suggest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calibrate", action="store_true", help="search thresholds and write them")
    parser.add_argument("--cross", action="store_true",
                        help="two-fold check: calibrate on half a, report on half b, and the other way round")
    args = parser.parse_args()
    entries = load_entries(KNOWLEDGE / "entries")
    out_of_scope = load_out_of_scope(KNOWLEDGE / "out_of_scope.yaml")
    held_out, off_topic = load_eval()
    known = {entry.id for entry in entries}
    unknown = sorted({expected for _, expected in held_out} - known)
    if unknown:
        raise SystemExit(f"held-out lines name entries that do not exist: {unknown}")
    similar = {text for entry in entries for text in (entry.question, *entry.similar)}
    leaked = [text for text, _ in held_out if text in similar]
    if leaked:
        raise SystemExit(f"held-out lines copied from the entries: {leaked[:5]}")
    if args.cross:
        folds = {}
        for fit, test in (("a", "b"), ("b", "a")):
            fitted = calibrate(entries, out_of_scope, *load_eval(fit))
            index = KnowledgeIndex(entries, fitted, out_of_scope)
            folds[f"fit_{fit}_report_{test}"] = {"thresholds": fitted.model_dump(),
                                                  **report(index, *load_eval(test), only=reaches_the_engine)}
        print(json.dumps(folds, ensure_ascii=False, indent=2))
        return
    path = KNOWLEDGE / "thresholds.yaml"
    if args.calibrate:
        thresholds = calibrate(entries, out_of_scope, held_out, off_topic)
        path.write_text("# Written by bench/knowledge_eval.py --calibrate; do not edit by hand.\n"
                        + yaml.safe_dump(thresholds.model_dump()), encoding="utf-8")
    thresholds = Thresholds.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    index = KnowledgeIndex(entries, thresholds, out_of_scope)
    result = {"entries": len(entries), "in_scope": len(held_out), "off_topic": len(off_topic),
              "thresholds": thresholds.model_dump(),
              "engine_alone": report(index, held_out, off_topic),
              # in the group, small talk and trading posts are settled by intake before the engine
              "in_the_group": report(index, held_out, off_topic, only=reaches_the_engine)}
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
