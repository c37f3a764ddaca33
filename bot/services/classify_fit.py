"""Fit the intake model on knowledge/intake/*.yaml and write bot/data/intake_model.json (run at commit time).

scikit-learn fits a character 1-2-gram TF-IDF and a multinomial logistic regression; the fitted numbers are
written out so that the service scores with plain Python (`classify.IntakeModel`): importing scikit-learn
costs over a second at start, the scoring needs none of it. One line in five (by a hash of its text) is the
dev split, kept out of the fit and used to tune the threshold and report figures.

    .venv/bin/python -m bot.services.classify_fit [--all]   # --all: fit on every line, the model to ship

Without --all the file holds the training split's fit, for figures only: re-run with --all before committing
(tests/test_intake_model.py checks that the shipped file is the fit of every line).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from collections import Counter
from pathlib import Path

import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.services.classify import MODEL_PATH, NOT_REQUESTS, IntakeModel, normalise

ROOT = Path(__file__).resolve().parents[2]
LINES = ROOT / "knowledge" / "intake"
NGRAMS = (1, 2)  # 1-3 and words from jieba measured no better on the dev split, and weigh more
C = 128.0
# A line is left alone only when the model gives 70 % or more to chatter, closing and detail together: a missed
# request costs more than a false ticket (every request logged), and on the dev split 0.7 logs 98 % of requests.
THRESHOLD = 0.7


def labelled_lines() -> list[tuple[str, str]]:
    """(text, label) for every line; a key's part before `_` is the label (complaint_story -> complaint)."""
    found: dict[str, str] = {}
    for path in sorted(LINES.glob("*.yaml")):
        for key, texts in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            label = key.split("_")[0]
            for text in texts:
                text = str(text)
                if found.setdefault(text, label) != label:
                    raise ValueError(f"{path.name}: {text!r} is labelled both {found[text]} and {label}")
    return list(found.items())


def is_dev(text: str) -> bool:
    return hashlib.md5(text.encode("utf-8")).digest()[0] % 5 == 0


def fit(lines: list[tuple[str, str]]) -> dict:
    vectoriser = TfidfVectorizer(analyzer="char", ngram_range=NGRAMS, preprocessor=normalise, sublinear_tf=True,
                                 min_df=1)
    matrix = vectoriser.fit_transform([text for text, _ in lines])
    model = LogisticRegression(C=C, max_iter=3000)
    model.fit(matrix, [label for _, label in lines])
    vocabulary = sorted(vectoriser.vocabulary_, key=vectoriser.vocabulary_.__getitem__)
    weights = model.coef_.T  # features x classes
    return {
        "classes": list(model.classes_),
        "ngrams": list(NGRAMS),
        "intercept": [round(float(b), 4) for b in model.intercept_],
        "features": {gram: [round(float(vectoriser.idf_[i]), 4), *(round(float(w), 4) for w in weights[i])]
                     for i, gram in enumerate(vocabulary)},
        "request_threshold": THRESHOLD,
    }


def figures(model: IntakeModel, lines: list[tuple[str, str]]) -> dict:
    """The intake figures of #16 on labelled lines, and the confusions among requests (a detail line counts as
    chatter: alone it must open nothing)."""
    requests = [(t, label) for t, label in lines if label not in NOT_REQUESTS]
    chatter = [t for t, label in lines if label in NOT_REQUESTS]
    logged = [(model.decide(t), label) for t, label in requests]
    logged = [(d, label) for d, label in logged if d.is_request]
    complaints = sum(label == "complaint" for _, label in requests)
    confusions = Counter(f"{label} -> {d.category}" for d, label in logged if d.category != label)
    return {"requests": len(requests), "chatter": len(chatter),
            "requests_logged": round(len(logged) / len(requests), 3),
            "chatter_ticketed": round(sum(model.decide(t).is_request for t in chatter) / len(chatter), 3),
            "category_right": round(sum(d.category == label for d, label in logged) / len(logged), 3),
            "complaints_right": round(sum(d.category == label == "complaint" for d, label in logged) / complaints, 3),
            "confusions": dict(confusions.most_common(10))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--all", action="store_true", help="fit on the dev split too")
    parser.add_argument("--show", action="store_true", help="list the dev split's misses")
    args = parser.parse_args()
    lines = labelled_lines()
    dev = [line for line in lines if is_dev(line[0])]
    train = lines if args.all else [line for line in lines if not is_dev(line[0])]
    fitted = fit(train)
    MODEL_PATH.write_text(json.dumps(fitted, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    model = IntakeModel.load()
    print(json.dumps({"lines": len(lines), "train": len(train), "dev": len(dev),
                      "labels": dict(Counter(label for _, label in lines)), "features": len(fitted["features"]),
                      "bytes": MODEL_PATH.stat().st_size, "dev_figures": figures(model, dev)},
                     ensure_ascii=False, indent=2))
    if args.show:
        for text, label in dev:
            d = model.decide(text)
            got = d.category if d.is_request else "chatter"
            want = label if label not in NOT_REQUESTS else "chatter"
            if got != want:
                print(f"{want:>10} -> {got:<10} {text}")
    assert not math.isnan(fitted["intercept"][0])


if __name__ == "__main__":
    main()
