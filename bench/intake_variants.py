"""Compare intake-model variants on our own lines only (knowledge/intake/): the dev split (one line in five by a
hash of its text), 5-fold stratified cross-validation over every line, and a harsher grouped 5-fold in which
whole keys of a file (complaint_story in requests_a.yaml, ...) are held out together, so a style never seen in
training is scored, as on the held-out sets; and, fitted on all of them, on knowledge/eval/dev_intake/, lines
never fitted on. Never reads the sets kept apart (knowledge/eval/apart*/).

Figures are the model's alone (no knowledge base): requests logged, chatter ticketed (detail counts as chatter),
category right among logged requests, complaints right among complaints. A decision is the service's rule:
asking nothing when chatter + closing + detail reach THRESHOLD (the service's rule until session 17, when a model
on top, the asks model, took the decision; the variants of the intake model are still compared on it); with a
complaint bar b, a line whose p(complaint) >= b is a complaint whatever else.

    .venv/bin/python bench/intake_variants.py [--only NAME ...] [--bar 0.3] [--bars] [--thresholds]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import yaml
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.services.classify import NOT_REQUESTS, normalise, tokens  # noqa: E402

LINES = ROOT / "knowledge" / "intake"
THRESHOLD = 0.5
# lines written like the training lines and never fitted on: every variant is also scored on them, fitted on all of
# ours, so a choice can be checked without spending the held-out sets of knowledge/eval/apart*/
UNFITTED = ROOT / "knowledge" / "eval" / "dev_intake"


def labelled(folder: Path = LINES) -> list[tuple[str, str, str]]:
    """(text, label, group): group is file:key, for the grouped folds."""
    found: dict[str, tuple[str, str]] = {}
    for path in sorted(folder.glob("*.yaml")):
        for key, texts in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            for text in texts:
                found.setdefault(str(text), (key.split("_")[0], f"{path.stem}:{key}"))
    return [(t, label, group) for t, (label, group) in found.items()]


def is_dev(text: str) -> bool:
    return hashlib.md5(text.encode("utf-8")).digest()[0] % 5 == 0


def char_grams(text: str, low: int, high: int) -> list[str]:
    return [text[i:i + n] for n in range(low, high + 1) for i in range(len(text) - n + 1)]


def words(text: str) -> list[str]:
    return ["w:" + w for w in tokens(text) if w.strip() and len(w) >= 2]


def analyser(low: int, high: int, with_words: bool, wb: bool):
    def analyse(text: str) -> list[str]:
        norm = normalise(text)
        if wb:
            grams = []
            for chunk in norm.split():
                chunk = f" {chunk} "
                grams += char_grams(chunk, low, high)
        else:
            grams = char_grams(norm, low, high)
        return grams + words(norm) if with_words else grams
    return analyse


VARIANTS = {
    "lr_char12_C128": dict(ng=(1, 2), model="lr", C=128),
    "lr_char13_C128": dict(ng=(1, 3), model="lr", C=128),
    "lr_charwb13_C128": dict(ng=(1, 3), model="lr", C=128, wb=True),
    "lr_char12_words_C128": dict(ng=(1, 2), model="lr", C=128, words=True),
    "lr_char13_words_C128": dict(ng=(1, 3), model="lr", C=128, words=True),
    "lr_char12_bal_C128": dict(ng=(1, 2), model="lr", C=128, balanced=True),
    "lr_char12_words_bal_C128": dict(ng=(1, 2), model="lr", C=128, words=True, balanced=True),
    "lr_char12_C32": dict(ng=(1, 2), model="lr", C=32),
    "svc_char12_cal": dict(ng=(1, 2), model="svc", C=1.0),
    "svc_char12_words_cal": dict(ng=(1, 2), model="svc", C=1.0, words=True),
    # a second calibrated SVM decides request or not on its own; the first gives the category
    "svc_char12_cal_binary": dict(ng=(1, 2), model="svc", C=1.0, binary=True),
    "svc_char13_cal_binary": dict(ng=(1, 3), model="svc", C=1.0, binary=True),
    "cnb_char12": dict(ng=(1, 2), model="cnb"),
    "cnb_char12_words": dict(ng=(1, 2), model="cnb", words=True),
}


def make(spec: dict):
    vectoriser = TfidfVectorizer(analyzer=analyser(*spec["ng"], spec.get("words", False), spec.get("wb", False)),
                                 sublinear_tf=True)
    weight = "balanced" if spec.get("balanced") else None
    if spec["model"] == "lr":
        clf = LogisticRegression(C=spec["C"], max_iter=3000, class_weight=weight)
    elif spec["model"] == "svc":
        clf = CalibratedClassifierCV(LinearSVC(C=spec["C"], class_weight=weight), cv=3, ensemble=False)
    else:
        clf = ComplementNB(alpha=0.3)
    return vectoriser, clf


def probabilities(spec: dict, train: list[tuple[str, str, str]], test: list[str]) -> tuple[list[str], np.ndarray]:
    vectoriser, clf = make(spec)
    x = vectoriser.fit_transform([t for t, _, _ in train])
    clf.fit(x, [label for _, label, _ in train])
    p = clf.predict_proba(vectoriser.transform(test))
    classes = list(clf.classes_)
    if spec.get("binary"):  # share p(nothing) of the binary model out over the not-request labels in proportion
        vectoriser, clf = make(spec)
        x = vectoriser.fit_transform([t for t, _, _ in train])
        clf.fit(x, [label in NOT_REQUESTS for _, label, _ in train])
        nothing = clf.predict_proba(vectoriser.transform(test))[:, list(clf.classes_).index(True)]
        mask = np.array([c in NOT_REQUESTS for c in classes])
        for row, want in zip(p, nothing, strict=True):
            for part, total in ((mask, want), (~mask, 1 - want)):
                row[part] = row[part] / (row[part].sum() or 1) * total
    return classes, p


def decide(classes: list[str], p: np.ndarray, bar: float | None, threshold: float = THRESHOLD) -> list[str]:
    """The label decided for each line: a request category, or 'nothing'."""
    nothing_idx = [i for i, c in enumerate(classes) if c in NOT_REQUESTS]
    request_idx = [i for i, c in enumerate(classes) if c not in NOT_REQUESTS]
    complaint = classes.index("complaint")
    out = []
    for row in p:
        if bar is not None and row[complaint] >= bar:
            out.append("complaint")
        elif row[nothing_idx].sum() >= threshold:
            out.append("nothing")
        else:
            out.append(classes[max(request_idx, key=row.__getitem__)])
    return out


def figures(labels: list[str], decided: list[str]) -> dict:
    requests = [(want, got) for want, got in zip(labels, decided, strict=True) if want not in NOT_REQUESTS]
    chatter = [got for want, got in zip(labels, decided, strict=True) if want in NOT_REQUESTS]
    logged = [(w, g) for w, g in requests if g != "nothing"]
    complaints = sum(w == "complaint" for w, _ in requests)
    return {"requests_logged": round(len(logged) / len(requests), 3),
            "chatter_ticketed": round(sum(g != "nothing" for g in chatter) / len(chatter), 3),
            "category_right": round(sum(w == g for w, g in logged) / len(logged), 3),
            "complaints_right": round(sum(w == g == "complaint" for w, g in logged) / complaints, 3)}


def pooled(spec: dict, lines, splitter, groups=None) -> tuple[list[str], list[str], np.ndarray]:
    """Each line's probabilities from the fold that held it out; a label a fold's training part lacks (a grouped
    fold can hold out all of a thin label's keys) gets 0 there."""
    labels = [label for _, label, _ in lines]
    classes = sorted(set(labels))
    order, probs = [], []
    for train_idx, test_idx in splitter.split(lines, labels, groups):
        fold_classes, fold_p = probabilities(spec, [lines[i] for i in train_idx], [lines[i][0] for i in test_idx])
        p = np.zeros((len(test_idx), len(classes)))
        p[:, [classes.index(c) for c in fold_classes]] = fold_p
        order += list(test_idx)
        probs.append(p)
    p = np.vstack(probs)
    back = np.empty_like(p)
    back[order] = p
    return classes, labels, back


def scorer_time(spec: dict, lines) -> tuple[int, float]:
    """Fit on every line, export as a plain-Python linear scorer (weights per feature, softmax) and time a
    decision per line; returns (JSON bytes, microseconds per line)."""
    vectoriser, clf = make(spec)
    x = vectoriser.fit_transform([t for t, _, _ in lines])
    clf.fit(x, [label for _, label, _ in lines])
    if spec["model"] == "lr":
        coef, intercept = clf.coef_, clf.intercept_
    elif spec["model"] == "svc":
        inner = clf.calibrated_classifiers_[0].estimator
        coef, intercept = inner.coef_, inner.intercept_
    else:
        coef, intercept = clf.feature_log_prob_, np.zeros(len(clf.classes_))
    vocabulary = sorted(vectoriser.vocabulary_, key=vectoriser.vocabulary_.__getitem__)
    features = {g: [round(float(vectoriser.idf_[i]), 4), *(round(float(w), 4) for w in coef[:, i])]
                for i, g in enumerate(vocabulary)}
    size = len(json.dumps({"features": features, "intercept": list(map(float, intercept))}, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8"))
    low, high = spec["ng"]
    with_words = spec.get("words", False)

    def score(text: str) -> list[float]:
        norm = normalise(text)
        counts: dict[str, int] = {}
        grams = char_grams(norm, low, high) + (words(norm) if with_words else [])
        for g in grams:
            if g in features:
                counts[g] = counts.get(g, 0) + 1
        scores = list(intercept)
        ws = [(1.0 + math.log(tf)) * features[g][0] for g, tf in counts.items()]
        norm2 = math.sqrt(sum(w * w for w in ws)) or 1.0
        for (g, _), w in zip(counts.items(), ws, strict=True):
            row = features[g]
            for k in range(len(scores)):
                scores[k] += w / norm2 * row[k + 1]
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        return [e / total for e in exps]

    texts = [t for t, _, _ in lines]
    score(texts[0])
    started = time.perf_counter()
    for t in texts:
        score(t)
    return size, (time.perf_counter() - started) / len(texts) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="variants to run (default: all)")
    parser.add_argument("--bars", action="store_true", help="sweep a complaint bar on the CV figures")
    parser.add_argument("--bar", type=float, default=None, help="apply this complaint bar")
    parser.add_argument("--thresholds", action="store_true",
                        help="sweep the threshold: requests logged against chatter ticketed, to compare variants at "
                             "the same share of requests logged")
    args = parser.parse_args()
    lines = labelled()
    dev = [line for line in lines if is_dev(line[0])]
    train = [line for line in lines if not is_dev(line[0])]
    unfitted = labelled(UNFITTED)
    unfitted_labels = [label for _, label, _ in unfitted]
    print(json.dumps({"lines": len(lines), "dev": len(dev), "unfitted": len(unfitted),
                      "labels": Counter(lab for _, lab, _ in lines)}))
    for name in args.only or VARIANTS:
        spec = VARIANTS[name]
        classes, p = probabilities(spec, train, [t for t, _, _ in dev])
        dev_fig = figures([lab for _, lab, _ in dev], decide(classes, p, args.bar))
        classes, labels, cv_p = pooled(spec, lines, StratifiedKFold(5, shuffle=True, random_state=0))
        cv_fig = figures(labels, decide(classes, cv_p, args.bar))
        groups = [g for _, _, g in lines]
        classes, labels, g_p = pooled(spec, lines, GroupKFold(5), groups)
        g_fig = figures(labels, decide(classes, g_p, args.bar))
        u_classes, u_p = probabilities(spec, lines, [t for t, _, _ in unfitted])
        u_p = np.hstack([u_p, np.zeros((len(unfitted), len(classes) - len(u_classes)))])[
            :, [u_classes.index(c) if c in u_classes else len(u_classes) for c in classes]]
        u_fig = figures(unfitted_labels, decide(classes, u_p, args.bar))
        size, micros = scorer_time(spec, lines) if not spec.get("binary") else (0, 0.0)
        print(json.dumps({"variant": name, "dev": dev_fig, "cv5": cv_fig, "group5": g_fig, "unfitted": u_fig,
                          "bytes": size, "us_per_line": round(micros, 1)}))
        if args.thresholds:
            for threshold in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7):
                print(json.dumps({"variant": name, "threshold": threshold, **{
                    fold: {k: v for k, v in figures(want, decide(classes, fold_p, args.bar, threshold)).items()
                           if k in ("requests_logged", "chatter_ticketed")}
                    for fold, want, fold_p in (("cv5", labels, cv_p), ("group5", labels, g_p),
                                               ("unfitted", unfitted_labels, u_p))}}))
        if args.bars:
            for bar in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5):
                print(json.dumps({"variant": name, "bar": bar,
                                  "dev": figures([lab for _, lab, _ in dev], decide(classes, p, bar)),
                                  "cv5": figures(labels, decide(classes, cv_p, bar)),
                                  "group5": figures(labels, decide(classes, g_p, bar))}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
