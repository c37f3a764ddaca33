"""#16's figures on the sets kept apart (knowledge/eval/apart/ to apart17/, never fitted on) may not slip.

Every line goes through the real intake service (`bench/heldout_eval.py`), as a new retailer's group message. `apart2`
(session 8), `apart3` (session 9), `apart4` (session 10), `apart5` and `apart6` (session 12), `apart7` and `apart8`
(session 13), `apart9` (session 16), `apart10` and `apart11` (session 17), `apart12` and `apart13` (session 18),
`apart14` (session 19), `apart15` (session 20), `apart16` (session 21) and `apart17` (session 22) were written by
helpers that saw only the entries' ids and standard questions, the glossary and the seeds, and first measured before
anything was tuned after them (apart16's and apart17's writers wrote their own briefs first, from the categories'
one-line meanings: their BRIEF.md); `apart`
(session 6) has been measured often since, so its figures are partly fitted ones (apart2's and apart3's are partly,
too, since session 10 chose its complaint bar with them in view; apart8's harder-style ones since session 13 chose the
calibration's wrong-answer limit with it in view). In session 19 the intake lines of `apart` to `apart9` became
training lines (knowledge/intake/from_apart_sets.yaml): those sets keep only their harder-style and other trades'
bounds. The bounds are #16's aims where a set reaches them, else about the figure it reached (the aims: requests
logged >= 97 %, chatter ticketed <= 3 %, category right >= 90 %, complaints right >= 95 %, harder style answered >=
85 % with wrong <= 2 %, other trades answered <= 3 %).
Raise a floor (lower a ceiling) when a change reaches more; a failure says a change undid part of #16. Over all the
sets together (apart10 on for intake, every set for knowledge), each figure must meet its aim: a set of 55
complaints or 200 chatter lines is a small sample, and every set's miss of an aim lies within that set's own 95 %
interval (`bench/heldout_eval.py` prints both). The tests print no line of the sets.
"""

import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLOORS = {
    "apart17": {"requests_logged": 0.97, "category_right": 0.96, "complaints_right": 0.95, "hard_answered": 0.91},
    "apart16": {"requests_logged": 0.97, "category_right": 0.92, "complaints_right": 0.91, "hard_answered": 0.87},
    "apart15": {"requests_logged": 0.97, "category_right": 0.94, "complaints_right": 0.96, "hard_answered": 0.83},
    "apart14": {"requests_logged": 0.97, "category_right": 0.87, "complaints_right": 0.92, "hard_answered": 0.87},
    "apart13": {"requests_logged": 0.97, "category_right": 0.95, "complaints_right": 0.98, "hard_answered": 0.86},
    "apart12": {"requests_logged": 0.97, "category_right": 0.93, "complaints_right": 0.96, "hard_answered": 0.86},
    "apart11": {"requests_logged": 0.97, "category_right": 0.94, "complaints_right": 0.96, "hard_answered": 0.88},
    "apart10": {"requests_logged": 0.97, "category_right": 0.95, "complaints_right": 0.95, "hard_answered": 0.84},
    # apart to apart9: their intake lines are training lines since session 19; the knowledge figures stay
    "apart9": {"hard_answered": 0.92},
    "apart8": {"hard_answered": 0.90},
    "apart7": {"hard_answered": 0.92},
    "apart6": {"hard_answered": 0.86},
    "apart5": {"hard_answered": 0.83},
    "apart4": {"hard_answered": 0.93},
    "apart3": {"hard_answered": 0.92},
    "apart2": {"hard_answered": 0.96},
    "apart": {"hard_answered": 0.94},
}
# Session 8's model and base -> session 9's: apart3's chatter ticketed 0.205 -> 0.115 and apart2's 0.06 -> 0.04 (the
# aim is 0.03); apart3's complaints right 0.964 -> 0.945 (52 of 55; the aim is 0.95); other trades answered on
# apart3 0.032 and on apart 0.075 -> 0.085 (session 9's phrasings of the entries; the aim is 0.03).
# Session 9 -> 10 (four writers' lines, request bar 0.55 -> 0.5, complaint bar 0.3 -> 0.2, see classify_fit for how
# each was chosen; a detail the model is sure of no longer opens a ticket because the base knows its words): apart3's
# chatter 0.115 -> 0.09 and complaints right 0.945 -> 0.964, its harder style answered 0.78 -> 0.77 (three lines of
# 300); apart2's chatter stayed at 0.04; apart's rose 0.006 -> 0.013 (one line).
# apart4, first measured at the end of session 10 with that session's model and base: logged 0.99, chatter 0.085,
# category 0.923, complaints 1.0, harder style answered 0.847 (wrong 0.013), other trades answered 0.084.
# Session 10 -> 11 (the knowledge base's scope model, 753 more out-of-scope lines and one naive Bayes class per theme
# of them, two wordings for an entry, the confidence re-fitted with wrong answers held under the limit in each dev
# set): other trades answered apart4 0.084 -> 0.056, apart3 0.032 -> 0.016, apart2 0.02 -> 0.004, apart 0.085 ->
# 0.055; harder style answered apart4 0.847 -> 0.867 (wrong 0.013 -> 0.017), apart3 0.77 -> 0.773, apart2 0.86 ->
# 0.873, apart 0.873 -> 0.873; chatter ticketed apart4 0.085 -> 0.08, apart3 0.09 -> 0.075, apart2 0.04 -> 0.035;
# category right apart4 0.923 -> 0.919 (one line). The class per theme was chosen on the unfitted dev3 set and on
# the sets kept apart, which it improved more than the dev sets showed (see the session's note).
# Session 11 -> 12 (the small-talk model, both ways; 825 intake lines; 871 wordings of the entries in the harder
# style, 395 of them near a neighbouring entry's border; 887 other trades' lines; the confidence re-fitted; each
# chosen on the dev sets): chatter ticketed apart4 0.08 -> 0.085, apart3 0.075 -> 0.05, apart2 0.035 -> 0.02; harder
# style answered apart4 0.867 -> 0.91, apart3 0.773 -> 0.847, apart2 0.873 -> 0.917, apart 0.873 -> 0.916, wrong at
# most 0.017;
# category right apart3 0.932 -> 0.943, apart2 0.92 -> 0.936; other trades answered apart4 0.056 -> 0.016, apart
# 0.055 -> 0.02 (partly fitted: the brief of the helper who wrote the other trades' lines named four of their misses
# as examples). On apart, measured most often, complaints right 0.964 -> 0.945 (one line, under the aim).
# apart5, first measured in session 12 against session 11's model and base -> session 12's: logged 0.98 -> 0.987,
# chatter 0.08 -> 0.05, category 0.895 -> 0.912, complaints 0.981 -> 1.0, harder style answered 0.727 -> 0.783 with
# wrong 0.037 -> 0.02, other trades answered 0.004 -> 0.004.
# apart6, read for the first time after session 12's last change and measured once, session 11's model and base ->
# session 12's: logged 0.973 -> 0.983, chatter 0.08 -> 0.035, category 0.925 -> 0.942, complaints 0.981 -> 0.981,
# harder style answered 0.767 -> 0.83 with wrong 0.0 -> 0.007, other trades answered 0.008 -> 0.0.
# Session 12 -> 13 (720 intake lines: retailers advising each other, reports in our words, closing remarks, details,
# requests that start like chatter, complaints without 投诉; 465 wordings of the entries in the harder style; the
# confidence re-fitted, answer bar 0.80 -> 0.76; talk about a notice the model is sure is chatter no longer answered
# from the notice; each chosen on the dev sets): harder style answered apart6 0.83 -> 0.847, apart5 0.783 -> 0.82,
# apart4 0.91 -> 0.923, apart3 0.847 -> 0.893, apart2 0.917 -> 0.943, apart 0.916 -> 0.932 (wrong at most 0.02);
# chatter ticketed apart4 0.085 -> 0.075, apart3 0.05 -> 0.045, apart6 0.035 -> 0.04 (one line). The price of the
# lower answer bar: other trades answered apart2 0.008 -> 0.024, apart5 0.004 -> 0.012 (all under the aim's 0.03);
# complaints right apart3 0.964 -> 0.945 (one line of 55), so its floor is 0.94.
# apart7, written in session 13 and first measured with session 12's model and base (before this session's lines were
# added), then once after this session's lines: logged 0.99 -> 1.0, chatter 0.10 -> 0.07, category 0.919 -> 0.917,
# complaints 1.0 -> 1.0, harder style answered 0.86 -> 0.903 with wrong 0.0 -> 0.007, other trades answered 0.004.
# apart8, written in session 13 after those lines were chosen, measured with session 12's model and base -> session
# 13's: logged 0.987 -> 0.99, chatter 0.07 -> 0.065, category 0.919 -> 0.923, complaints 0.981, harder style answered
# 0.847 -> 0.887 with wrong 0.013 -> 0.023, other trades answered 0.016 -> 0.012. Its wrong answers over the aim, and
# apart5's at it, led to calibrating with wrong answers under 1 % in each dev set (was 1.5 %; answer bar 0.76 ->
# 0.79): apart8 answered 0.883 with wrong 0.02, apart7 0.897 / 0.003, apart6 0.84 / 0.007, apart5 0.803 / 0.02,
# apart4 0.927 / 0.017, apart3 0.89 / 0.007, apart2 0.937 / 0.003, apart 0.932 / 0.004; other trades answered at
# most 0.016 in every set.
# apart9, written in session 16 and first measured with session 15's model and base: logged 0.993, chatter 0.075,
# category 0.913, complaints 0.981, harder style answered 0.903 with wrong 0.007, other trades answered 0.008.
# Session 15 -> 16's trading rule (a dealer's post needs a deal's terms: 卖烟 alone is the retailers' own trade), the
# model unchanged: chatter ticketed apart9 0.075 -> 0.07, apart8 0.065 -> 0.055, apart5 0.05 -> 0.045; harder style
# answered apart9 0.903 -> 0.913, apart8 0.883 -> 0.887, apart7 0.897 -> 0.903, apart6 0.84 -> 0.843, apart2 0.94 ->
# 0.943; nothing lower.
# Then a long message not answered as a whole is read once more from its last three clauses (the story first, the
# question last; chosen on eval/dev4): harder style answered over the nine sets 2,366 -> 2,385 of 2,651 with wrong
# answers 26 -> 26 (apart6 0.843 -> 0.857, apart5 0.80 -> 0.81, apart3 0.89 -> 0.913, apart2 0.943 -> 0.953, apart7
# 0.903 -> 0.907, apart 0.932 -> 0.936); intake's figures and other trades answered unchanged.
# And chatter the model is sure of left to the base when its ending asks (classify.ENDING_ASKS, chosen on
# eval/dev4): harder style answered 2,385 -> 2,386 (apart5 0.81 -> 0.813), requests logged 2,619 -> 2,620 (apart4
# 0.99 -> 0.993, the line it logged given another category: category right 0.923 -> 0.919), nothing else moved.
# Session 17: whether a line asks is decided by the asks model, a logistic regression fitted on what the intake and
# small-talk models, fitted without them, say of our lines (five folds), in place of the hand-set bars (chosen on the
# dev sets, measured here once): chatter ticketed over the nine sets 86 -> 66 of 1,760 (apart9 0.07 -> 0.055, apart8
# 0.055 -> 0.03, apart7 0.07 -> 0.05, apart6 0.04 -> 0.03, apart4 0.075 -> 0.055, apart3 0.045 -> 0.03; apart5 0.045
# -> 0.05, one line), requests logged 2,620 -> 2,618 of 2,650; the price, questions that read like chatter now left
# alone: harder style answered 2,386 -> 2,367 of 2,651 with wrong answers 26 -> 25 (apart9 0.913 -> 0.907, apart8
# 0.887 -> 0.877, apart6 0.857 -> 0.847, apart5 0.813 -> 0.807, apart4 0.927 -> 0.917, apart3 0.913 -> 0.903); category
# right apart8 0.922 -> 0.919 (one line). Chatter it is sure of read once more from its ending alone (the asks model
# on the last three clauses, as ENDING_ASKS did with the small-talk model): requests logged apart4 0.99 -> 0.993.
# apart10, written in session 17 while the asks model was being chosen and first measured with session 16's model and
# base -> session 17's: logged 0.973 -> 0.977, chatter 0.065 -> 0.025, category 0.935 -> 0.932, complaints 0.981,
# harder style answered 0.833 -> 0.823 with wrong 0.013, other trades answered 0.016.
# apart11, written at the end of session 17 (eight retailers' voices) and measured with session 16's model and base ->
# session 17's: logged 0.987 both, chatter 0.05 -> 0.04, category 0.919 -> 0.912, complaints 0.946 both (53 of 56),
# harder style answered 0.853 -> 0.833 with wrong 0.007, other trades answered 0.008.
# apart12, written at the start of session 18 (eight other voices) and first measured with session 17's model and base:
# logged 0.977, chatter 0.035, category 0.901, complaints 0.945 (52 of 55), harder style answered 0.843 with wrong
# 0.007, other trades answered 0.016.
# Session 18: the complaint bar no longer overrides the asks model where it all but rules out that a line asks
# (praise of the people complaints are about; classify_fit.COMPLAINT_FLOOR, chosen on the dev sets): chatter ticketed
# apart11 0.04 -> 0.035, apart10 0.025 -> 0.02, apart9 0.055 -> 0.05, apart7 0.05 -> 0.04, apart5 0.05 -> 0.04, apart4
# 0.055 -> 0.05, apart2 0.02 -> 0.015 (apart12 unchanged); nothing else moved on any set.
# Then a long message's most foreign word weighs less (knowledge.STORY_WORDS, chosen on eval/dev4 and eval/dev5):
# harder style answered over the twelve sets +18 of 3,600 (apart11 0.833 -> 0.85, apart5 0.807 -> 0.82, apart3 0.903
# -> 0.913, apart10 0.823 -> 0.83, apart7 0.90 -> 0.907, apart8 0.877 -> 0.88, apart6 0.847 -> 0.85), wrong answers
# +1 (apart8 0.017 -> 0.02), other trades answered, chatter and the intake figures unchanged on every set.
# apart13, written at the end of session 18 (eight more voices) after everything was chosen, measured with session
# 17's model and base -> the complaint floor -> STORY_WORDS: logged 0.98 -> 0.977 -> 0.977, chatter 0.07 -> 0.065 ->
# 0.065, category 0.925, complaints 0.873 -> 0.855 -> 0.855 (the floor lost one of 55; the aim is 0.95, far off on this
# set), harder style answered 0.82 -> 0.82 -> 0.837 with wrong 0.02, other trades answered 0.004.
# apart14, written at the start of session 19 (eight new voices) and first measured with session 18's model and base
# -> with apart to apart9's intake lines trained on: logged 0.967 -> 0.977, chatter 0.05 -> 0.04, category 0.848 ->
# 0.863, complaints 0.891 both (49 of 55), harder style answered 0.86 -> 0.88 with wrong 0.023 both, other trades
# answered 0.016 both.
# Session 19: apart to apart9's intake lines (3,758 after those equal to a line still kept apart were left out)
# became training lines (knowledge/intake/from_apart_sets.yaml); on the five sets still kept apart, session 18 -> 19:
# chatter ticketed 41 -> 32 of 1,000 (apart14 0.05 -> 0.04, apart13 0.065 -> 0.05, apart11 0.035 -> 0.025, apart10
# 0.02 -> 0.01), requests logged 1,465 -> 1,471 of 1,500, category right apart14 0.848 -> 0.863, apart13 0.925 ->
# 0.942, apart12 0.901 -> 0.912, apart11 0.912 -> 0.933, apart10 0.932 -> 0.966, complaints right apart13 0.855 ->
# 0.909 and apart11 0.946 -> 0.964 but apart12 0.945 -> 0.927 (one of 55 lost), harder style answered 1,266 -> 1,283
# of 1,500 (wrong 21 both), other trades answered 15 -> 14 of 1,250; on the retired sets' harder-style lines 2,378 ->
# 2,406 of 2,651 with wrong answers 26 -> 27 (apart8 0.02 -> 0.023), other trades answered 21 -> 19 of 2,200.
# apart15, written at the start of session 20 (eight new voices, to a brief rebuilt from what the earlier sets' notes
# say of theirs: knowledge/eval/apart15/BRIEF.md) and first measured with session 19's model and base -> with
# knowledge/intake/apart_style_session20.yaml trained on (ten other writers to the same brief): logged 0.967 ->
# 0.993, chatter 0.02 -> 0.01, category 0.921 -> 0.946, complaints 0.891 -> 0.964 (49 -> 53 of 55), harder style
# answered 0.817 -> 0.833 with wrong 0.013 both, other trades answered 0.008 both. Its writer shares the training
# lines' brief, so its rise may flatter. The five older sets, written to the earlier briefs, session 19 -> 20:
# complaints right 257 -> 265 of 275 (apart14 0.891 -> 0.927, apart13 0.909 -> 0.982, apart12 0.927 -> 0.964),
# requests logged 1,471 -> 1,480 of 1,500, chatter ticketed 32 -> 27 of 1,000 (apart14 0.04 -> 0.035, apart13 0.05
# -> 0.045, apart12 0.035 -> 0.015, but apart11 0.025 -> 0.03, one line), category right apart14 0.863 -> 0.877,
# apart13 0.942 -> 0.95, apart12 0.912 -> 0.939, apart11 0.933 -> 0.94, but apart10 0.966 -> 0.953 (282 -> 281
# right, of 292 -> 295 logged),
# harder style answered 1,283 -> 1,299 of 1,500 (apart14 0.88 -> 0.877, one line), wrong answers unchanged (21),
# other trades answered 14 -> 15 of 1,250 (apart11 0.008 -> 0.012); the retired sets' harder-style lines 2,406 ->
# 2,416 of 2,651 answered, wrong answers and other trades unchanged.
# apart16, written at the start of session 21 by a helper that first wrote its own brief (ten voices of its own; told
# only the product and each category's one-line meaning), first measured with session 20's model and base: logged
# 0.977, chatter 0.025, category 0.928, complaints 0.917 (55 of 60), harder style answered 0.877 with wrong 0.013,
# other trades answered 0.004.
# apart17, written in session 22 by a helper told the product and each category's one-line meaning, who wrote its own
# brief first (eleven voices of its own), first measured with session 20's models and base (nothing fitted since):
# logged 0.997, chatter 0.035 (7 of 200), category 0.967, complaints 0.95 (57 of 60), harder style answered 0.917 with
# wrong 0.013, other trades answered 0.012.
CEILINGS = {
    "apart17": {"chatter_ticketed": 0.035, "hard_wrong": 0.02, "other_trades_answered": 0.015},
    "apart16": {"chatter_ticketed": 0.025, "hard_wrong": 0.02, "other_trades_answered": 0.01},
    "apart15": {"chatter_ticketed": 0.01, "hard_wrong": 0.02, "other_trades_answered": 0.01},
    "apart14": {"chatter_ticketed": 0.035, "hard_wrong": 0.025, "other_trades_answered": 0.02},
    "apart13": {"chatter_ticketed": 0.045, "hard_wrong": 0.02, "other_trades_answered": 0.005},
    "apart12": {"chatter_ticketed": 0.015, "hard_wrong": 0.02, "other_trades_answered": 0.02},
    "apart11": {"chatter_ticketed": 0.03, "hard_wrong": 0.02, "other_trades_answered": 0.015},
    "apart10": {"chatter_ticketed": 0.01, "hard_wrong": 0.02, "other_trades_answered": 0.02},
    "apart9": {"hard_wrong": 0.02, "other_trades_answered": 0.01},
    "apart8": {"hard_wrong": 0.025, "other_trades_answered": 0.015},
    "apart7": {"hard_wrong": 0.02, "other_trades_answered": 0.005},
    "apart6": {"hard_wrong": 0.02, "other_trades_answered": 0.005},
    "apart5": {"hard_wrong": 0.02, "other_trades_answered": 0.005},
    "apart4": {"hard_wrong": 0.02, "other_trades_answered": 0.015},
    "apart3": {"hard_wrong": 0.02, "other_trades_answered": 0.015},
    "apart2": {"hard_wrong": 0.02, "other_trades_answered": 0.015},
    "apart": {"hard_wrong": 0.02, "other_trades_answered": 0.02},
}


def _present() -> list[str]:
    return [kept_apart for kept_apart in FLOORS if (ROOT / "knowledge" / "eval" / kept_apart).is_dir()]


@cache
def _heldout_eval():
    sys.path.insert(0, str(ROOT / "bench"))
    import heldout_eval

    return heldout_eval


@cache
def _measured(kept_apart: str) -> dict:
    """A set's figures, measured once for both tests."""
    return _heldout_eval().figures_of(kept_apart, show=0)


@pytest.mark.parametrize("kept_apart", list(FLOORS))
def test_the_held_out_figures_do_not_slip(kept_apart):
    if kept_apart not in _present():
        pytest.skip(f"knowledge/eval/{kept_apart} is not in this checkout")
    measured = _measured(kept_apart)
    figures = {**{name: measured["intake"][name] for name in
                  ("requests_logged", "chatter_ticketed", "category_right", "complaints_right")
                  if measured["intake"] is not None},
               "hard_answered": measured["knowledge_hard"]["answered"],
               "hard_wrong": measured["knowledge_hard"]["wrong"],
               "other_trades_answered": measured["off_topic_borrowing"]["answered"]}
    low = {name: figures[name] for name, floor in FLOORS[kept_apart].items() if figures[name] < floor}
    high = {name: figures[name] for name, ceiling in CEILINGS[kept_apart].items() if figures[name] > ceiling}
    assert not low and not high, f"{kept_apart}: below the floors {low}; above the ceilings {high}"


def test_over_the_sets_kept_apart_every_figure_meets_its_aim():
    present = _present()
    if not present:
        pytest.skip("no set kept apart in this checkout")
    summary = _heldout_eval().pooled({kept_apart: _measured(kept_apart) for kept_apart in present})
    assert len(summary) == 7, "an aim without a set to measure it"
    missed = {name: (figure["count"], figure["aim"]) for name, figure in summary.items() if not figure["met"]}
    assert not missed, f"pooled over {len(present)} sets, below the aims: {missed}"
