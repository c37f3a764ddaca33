"""Evaluate (and calibrate) the knowledge answers on the phrasings in knowledge/eval/ (never eval/apart/).

Sets, each reported on its own: `held_out_*` (in-scope, labelled with their entry) and `off_topic_*` (lines the
bot must not answer), the first calibration sets; `dev_hard.yaml` (in-scope questions in the harder style:
homophones, dialect, two-word posts, story first) and `dev_borrowing.yaml` (other trades' questions borrowing
our words), written for #16. Over in-scope questions: answered, wrong answers (over all in-scope questions),
accuracy of the answered ones, how often the right entry is among the suggestions; over off-topic lines: how
often one was answered. Figures are for the group's path (intake settles small talk and trading posts before
the engine); `engine_alone` is the index on every line.
`--calibrate` fits the thresholds on all four sets (so their figures are the fit; the independent figures are
`bench/heldout_eval.py`'s on eval/apart/) and writes knowledge/thresholds.yaml. `--cross` fits on one half
(held_out_a + off_topic_a + the even lines of the dev sets) and reports on the other.

    .venv/bin/python bench/knowledge_eval.py              # with knowledge/thresholds.yaml
    .venv/bin/python bench/knowledge_eval.py --calibrate  # search thresholds under the limits, write them
    .venv/bin/python bench/knowledge_eval.py --cross      # fit on one half, report on the other
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.services.classify import analyse, is_small_talk  # noqa: E402
from bot.services.knowledge import (  # noqa: E402
    OUT_OF_SCOPE_LIMIT,
    Decision,
    KnowledgeIndex,
    Thresholds,
    load_entries,
    load_out_of_scope,
)

KNOWLEDGE = ROOT / "knowledge"
# Well inside #16's aims (wrong <= 2 %, off-topic answered <= 3 %): a wrong answer is worse than none.
WRONG_LIMIT, OFF_TOPIC_LIMIT, BORROWING_LIMIT = 0.015, 0.03, 0.02

InScope = list[tuple[str, str]]


def _read(name: str) -> list:
    return yaml.safe_load((KNOWLEDGE / "eval" / name).read_text(encoding="utf-8"))


def load_sets(half: str | None = None) -> dict[str, tuple[InScope, list[str]]]:
    """{name: (in-scope lines with their entry, off-topic lines)}; `half` 'a' or 'b' takes one half of each."""
    held_out = [(item["text"], item["id"]) for name in ("held_out_a.yaml", "held_out_b.yaml") for item in _read(name)
                if half is None or name.endswith(f"_{half}.yaml")]
    off_topic = [text for name in ("off_topic_a.yaml", "off_topic_b.yaml") for text in _read(name)
                 if half is None or name.endswith(f"_{half}.yaml")]
    parity = {None: None, "a": 0, "b": 1}[half]
    hard = [(item["text"], item["id"]) for n, item in enumerate(_read("dev_hard.yaml"))
            if parity is None or n % 2 == parity]
    borrowing = [text for n, text in enumerate(_read("dev_borrowing.yaml")) if parity is None or n % 2 == parity]
    return {"held_out": (held_out, off_topic), "dev": (hard, borrowing)}


def reaches_the_engine(text: str) -> bool:
    return not is_small_talk(text) and not analyse(text).trading


def report(index: KnowledgeIndex, in_scope: InScope, off_topic: list[str], only=lambda text: True) -> dict:
    """Figures over the lines `only` lets through (the rest count as handed over)."""
    answered = right = wrong = suggested_right = 0
    mistakes = []
    for text, expected in in_scope:
        result = index.decide(text) if only(text) else None
        if result is None:
            continue
        if result.decision == Decision.ANSWER:
            answered += 1
            if result.best is not None and result.best.id == expected:
                right += 1
            else:
                wrong += 1
                mistakes.append({"text": text, "expected": expected, "answered": result.best and result.best.id})
        elif result.decision == Decision.SUGGEST and expected in {m.entry.id for m in result.matches}:
            suggested_right += 1
    off_answered = [text for text in off_topic if only(text) and index.decide(text).decision == Decision.ANSWER]
    total = len(in_scope)
    return {
        "in_scope": total, "off_topic": len(off_topic),
        "answered": round(answered / total, 3),
        "wrong": round(wrong / total, 3),
        "accuracy_of_answered": round(right / answered, 3) if answered else None,
        "right_entry_suggested": round(suggested_right / total, 3),
        "off_topic_answered": round(len(off_answered) / len(off_topic), 3),
        "wrong_answers": mistakes[:10], "off_topic_answered_lines": off_answered[:10],
    }


def calibrate(entries, out_of_scope, sets: dict[str, tuple[InScope, list[str]]]) -> Thresholds:
    """Thresholds that answer the most in-scope questions while wrong answers stay under WRONG_LIMIT and each
    off-topic set under its limit, measured on what reaches the engine in a group."""
    index = KnowledgeIndex(entries, Thresholds(posterior=0, similarity=0, in_scope=0.5, suggest=0), out_of_scope)

    def measure(text: str) -> tuple[bool, str, float, float, float]:
        matches, in_scope = index.assess(text, limit=1)
        if not matches or in_scope < OUT_OF_SCOPE_LIMIT or not reaches_the_engine(text):
            return False, "", 0.0, 0.0, 0.0
        return True, matches[0].entry.id, matches[0].score, matches[0].similarity, in_scope

    def columns(rows: list) -> tuple[np.ndarray, ...]:
        return tuple(np.array([row[n] for row in rows]) for n in (0, 2, 3, 4))

    in_rows = [(measure(text), expected) for in_scope, _ in sets.values() for text, expected in in_scope]
    reached, posterior, similarity, scope = columns([row for row, _ in in_rows])
    right = np.array([row[1] == expected for row, expected in in_rows])
    off_sets = {"off_topic": (OFF_TOPIC_LIMIT, columns([measure(text) for text in sets["held_out"][1]])),
                "borrowing": (BORROWING_LIMIT, columns([measure(text) for text in sets["dev"][1]]))}

    best = None
    for p in [x / 100 for x in range(5, 100, 5)]:
        for s in [x / 100 for x in range(0, 52)]:
            for c in [x / 100 for x in range(50, 100, 2)]:
                given = reached & (posterior >= p) & (similarity >= s) & (scope >= c)
                if (given & ~right).sum() / len(given) > WRONG_LIMIT:
                    continue
                if any(((r & (q >= p) & (m >= s) & (g >= c)).sum() / len(r)) > limit
                       for limit, (r, q, m, g) in off_sets.values()):
                    continue
                if best is None or given.sum() > best[0]:
                    best = (int(given.sum()), p, s, c)
    if best is None:
        raise SystemExit("no thresholds meet the limits: improve the entries")
    _, p, s, c = best
    # Suggestions: as low as possible while at most a third of the off-topic lines the scope model lets
    # through would get one.
    off_reached, _, off_similarity, _ = off_sets["off_topic"][1]
    suggest = s
    for candidate in [x / 100 for x in range(int(s * 100), 9, -1)]:
        if (off_reached & (off_similarity >= candidate)).sum() / len(off_reached) > 1 / 3:
            break
        suggest = candidate
    return Thresholds(posterior=p, similarity=s, in_scope=c, suggest=suggest)


def figures(index: KnowledgeIndex, sets: dict[str, tuple[InScope, list[str]]]) -> dict:
    return {name: {"in_the_group": report(index, *lines, only=reaches_the_engine),
                   "engine_alone": {key: value for key, value in report(index, *lines).items()
                                    if not isinstance(value, list)}}
            for name, lines in sets.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calibrate", action="store_true", help="search thresholds and write them")
    parser.add_argument("--cross", action="store_true",
                        help="two-fold check: calibrate on half a, report on half b, and the other way round")
    args = parser.parse_args()
    entries = load_entries(KNOWLEDGE / "entries")
    out_of_scope = load_out_of_scope(KNOWLEDGE / "out_of_scope.yaml")
    sets = load_sets()
    known = {entry.id for entry in entries}
    unknown = sorted({expected for lines, _ in sets.values() for _, expected in lines} - known)
    if unknown:
        raise SystemExit(f"evaluation lines name entries that do not exist: {unknown}")
    written = {text for entry in entries for text in (entry.question, *entry.similar)}
    leaked = [text for lines, _ in sets.values() for text, _ in lines if text in written]
    leaked += [text for _, lines in sets.values() for text in lines if text in set(out_of_scope)]
    if leaked:
        raise SystemExit(f"evaluation lines copied into the training lines: {leaked[:5]}")
    if args.cross:
        folds = {}
        for fit, test in (("a", "b"), ("b", "a")):
            fitted = calibrate(entries, out_of_scope, load_sets(fit))
            index = KnowledgeIndex(entries, fitted, out_of_scope)
            folds[f"fit_{fit}_report_{test}"] = {"thresholds": fitted.model_dump(),
                                                  **figures(index, load_sets(test))}
        print(json.dumps(folds, ensure_ascii=False, indent=2))
        return
    path = KNOWLEDGE / "thresholds.yaml"
    if args.calibrate:
        thresholds = calibrate(entries, out_of_scope, sets)
        path.write_text("# Written by bench/knowledge_eval.py --calibrate; do not edit by hand.\n"
                        + yaml.safe_dump(thresholds.model_dump()), encoding="utf-8")
    thresholds = Thresholds.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    start = time.perf_counter()
    index = KnowledgeIndex(entries, thresholds, out_of_scope)
    build = time.perf_counter() - start
    print(json.dumps({"entries": len(entries), "out_of_scope_lines": len(out_of_scope),
                      "index_build_s": round(build, 2), "thresholds": thresholds.model_dump(),
                      **figures(index, sets)}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
