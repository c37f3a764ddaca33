"""Evaluate (and calibrate) the knowledge answers on the phrasings in knowledge/eval/ (never eval/apart/).

Sets, each reported on its own: `held_out_*` (in-scope, labelled with their entry) and `off_topic_*` (lines the
bot must not answer), the first calibration sets; `dev_hard.yaml` (in-scope questions in the harder style:
homophones, dialect, two-word posts, story first) and `dev_borrowing.yaml` (other trades' questions borrowing
our words), written for #16; `dev2_in_scope.yaml` and `dev2_other_trades.yaml`, written later for #16 before
tuning the character foreignness, and `dev3_*` (session 11, after the scope model) are reported and never
fitted (`dev2`, `dev3`). Over in-scope questions: answered,
wrong answers (over all in-scope questions), accuracy of the answered ones, how often the right entry is among
the suggestions; over off-topic lines: how often one was answered. Figures are for the group's path (intake
settles small talk and trading posts before the engine); `engine_alone` is the index on every line.
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

import yaml
from sklearn.linear_model import LogisticRegression

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
    log_odds,
)

KNOWLEDGE = ROOT / "knowledge"
# Well inside #16's aims (wrong <= 2 %, off-topic answered <= 3 %): a wrong answer is worse than none. Wrong answers
# run higher on the sets kept apart than on these (session 12: apart5 at 2.0 % with 1.5 % here), so since session 13
# the limit is 1 %: session 13's base answered 1.1 points fewer of held_out and dev2, held_out's wrong 1.4 -> 0.8 %
# (apart8, measured both ways before this was chosen: answered 88.7 -> 88.3 %, wrong 2.3 -> 2.0 %).
WRONG_LIMIT, OFF_TOPIC_LIMIT, BORROWING_LIMIT = 0.01, 0.03, 0.02

PROBE = Thresholds(posterior=0, similarity=0, foreign=0, bias=0, answer=1, hint=1, suggest=1)  # for measuring only
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


def load_unfitted() -> dict[str, tuple[InScope, list[str]]]:
    """Sets only ever reported: what tuning on the others does to lines it never saw."""
    return {name: ([(item["text"], item["id"]) for item in _read(f"{name}_in_scope.yaml")],
                   _read(f"{name}_other_trades.yaml")) for name in ("dev2", "dev3")}


def reaches_the_engine(text: str) -> bool:
    analysis = analyse(text)  # intake leaves sure chatter alone without asking the base
    return not analysis.trading and not (analysis.chatter and analysis.sure)


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
    """The confidence model and its bar: a logistic regression, on what reaches the engine in a group, of
    "answering the best entry is right" (an in-scope line whose best entry is its own) against everything
    else, over the best entry's naive Bayes log-odds (capped), its cosine and the question's foreignness; then the
    lowest bar at which wrong answers stay under WRONG_LIMIT and each off-topic set under its limit."""
    index = KnowledgeIndex(entries, PROBE, out_of_scope)

    def measure(text: str) -> tuple[float, float, float, str] | None:
        # The scope model's hand-overs are not left out: the confidence and its bar are fitted to meet the limits
        # on their own (session 11: fitted on what the scope model lets through, the bar fell from 0.84 to 0.75 and
        # the unfitted dev2 set's other trades answered rose from 1.8 to 5.4 %).
        matches, foreign, out_of_scope, foreign_character, _, _ = index.assess(text, limit=1)
        if not matches or out_of_scope >= OUT_OF_SCOPE_LIMIT or not reaches_the_engine(text):
            return None  # handed over whatever the bar
        return log_odds(matches[0].score), matches[0].similarity, foreign, foreign_character, matches[0].entry.id

    in_by_set = {name: [(measure(text), expected) for text, expected in lines] for name, (lines, _) in sets.items()}
    in_rows = [pair for pairs in in_by_set.values() for pair in pairs]
    off_rows = {name: [measure(text) for text in off_topic] for name, (_, off_topic) in sets.items()}
    seen = [(row, row[4] == expected) for row, expected in in_rows if row is not None]
    seen += [(row, False) for rows in off_rows.values() for row in rows if row is not None]
    model = LogisticRegression(C=100.0).fit([row[:4] for row, _ in seen], [right for _, right in seen])
    (w_posterior, w_similarity, w_foreign, w_character), bias = model.coef_[0], model.intercept_[0]

    confidence = {id(row): model.predict_proba([row[:4]])[0, 1] for row, _ in seen}

    def share(rows: list, bar: float, expected: list | None = None) -> float:
        """Of `rows`, the share answered at `bar` (only the wrong answers, given the `expected` entries)."""
        picked = [n for n, row in enumerate(rows) if row is not None and confidence[id(row)] >= bar]
        if expected is not None:
            picked = [n for n in picked if rows[n][4] != expected[n]]
        return len(picked) / len(rows)

    limits = {"held_out": OFF_TOPIC_LIMIT, "dev": BORROWING_LIMIT}
    # Wrong answers are held under the limit in each set, not only over both together (session 11: pooled, the bar
    # fell to 0.77 with the held-out set at 1.9 % wrong)
    bar = next((bar for bar in (x / 100 for x in range(5, 100))
                if all(share([row for row, _ in pairs], bar, expected=[entry for _, entry in pairs]) <= WRONG_LIMIT
                       for pairs in in_by_set.values())
                and all(share(off_rows[name], bar) <= limit for name, limit in limits.items())), None)
    if bar is None:
        raise SystemExit("no bar meets the limits: improve the entries")
    # Suggestions: entries as close as cosine `suggest`, chosen as low as possible while at most a third of the
    # off-topic lines would get one; and only from confidence `hint` on, the lowest at which off-topic lines get
    # suggestions no more often than OFF_TOPIC_LIMIT (a suggestion to a weather remark looks as silly as an answer).
    off_similarity = [row[1] for row in off_rows["held_out"] if row is not None]
    suggest = 0.5
    for candidate in [x / 100 for x in range(50, 9, -1)]:
        if sum(1 for value in off_similarity if value >= candidate) / len(off_rows["held_out"]) > 1 / 3:
            break
        suggest = candidate
    off_all = [row for rows in off_rows.values() for row in rows]
    hint = next(hint for hint in (x / 100 for x in range(5, int(bar * 100) + 1, 5))
                if sum(1 for row in off_all if row is not None and hint <= confidence[id(row)] < bar
                       and row[1] >= suggest) / len(off_all) <= OFF_TOPIC_LIMIT) if bar >= 0.05 else bar
    return Thresholds(posterior=round(float(w_posterior), 4), similarity=round(float(w_similarity), 4),
                      foreign=round(float(w_foreign), 4),
                      foreign_character=round(float(w_character), 4), bias=round(float(bias), 4), answer=bar,
                      hint=min(hint, bar), suggest=suggest)


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
    every = {**sets, **load_unfitted()}
    known = {entry.id for entry in entries}
    unknown = sorted({expected for lines, _ in every.values() for _, expected in lines} - known)
    if unknown:
        raise SystemExit(f"evaluation lines name entries that do not exist: {unknown}")
    written = {text for entry in entries for text in (entry.question, *entry.similar)}
    leaked = [text for lines, _ in every.values() for text, _ in lines if text in written]
    outside = {text for lines in out_of_scope.values() for text in lines}
    leaked += [text for _, lines in every.values() for text in lines if text in outside]
    if leaked:
        raise SystemExit(f"evaluation lines copied into the training lines: {leaked[:5]}")
    if args.cross:
        folds = {}
        for fit, test in (("a", "b"), ("b", "a")):
            fitted = calibrate(entries, out_of_scope, load_sets(fit))
            index = KnowledgeIndex(entries, fitted, out_of_scope)
            folds[f"fit_{fit}_report_{test}"] = {"thresholds": fitted.model_dump(),
                                                  **figures(index, {**load_sets(test), **load_unfitted()})}
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
    print(json.dumps({"entries": len(entries), "out_of_scope_lines": len(outside),
                      "index_build_s": round(build, 2), "thresholds": thresholds.model_dump(),
                      **figures(index, every)}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
