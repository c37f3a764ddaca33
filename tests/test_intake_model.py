"""The intake model shipped in bot/data/intake_model.txt is the fit of every labelled line in knowledge/intake/,
the knowledge base's scope model in bot/data/scope_model.txt the fit of its lines (the entries' wordings, the
request lines, out_of_scope.yaml) and the small-talk model in bot/data/small_talk_model.txt the fit of its (the
entries' wordings, the request, chatter and closing lines): a line added without re-fitting (or a fit of the
training split alone committed) is caught here."""

import json

from bot.services import classify, classify_fit
from bot.services.classify import MODEL_PATH, SMALL_TALK_MODEL_PATH
from bot.services.knowledge import SCOPE_MODEL_PATH


def test_the_shipped_model_is_the_fit_of_every_labelled_line():
    fitted = classify_fit.fit(classify_fit.labelled_lines())
    shipped = classify.read_fitted(MODEL_PATH)
    assert fitted.keys() == shipped.keys() and fitted["classes"] == shipped["classes"]
    assert fitted == shipped, "re-fit: .venv/bin/python -m bot.services.classify_fit --all"


def test_the_shipped_scope_model_is_the_fit_of_its_lines():
    fitted = classify_fit.fit_linear(classify_fit.scope_lines())
    shipped = classify.read_fitted(SCOPE_MODEL_PATH)
    assert fitted["classes"] == shipped["classes"] == ["elsewhere", "ours"]
    assert fitted == shipped, "re-fit: .venv/bin/python -m bot.services.classify_fit --all"


def test_the_shipped_small_talk_model_is_the_fit_of_its_lines():
    fitted = classify_fit.fit_linear(classify_fit.small_talk_lines(classify_fit.labelled_lines()))
    shipped = classify.read_fitted(SMALL_TALK_MODEL_PATH)
    assert fitted["classes"] == shipped["classes"] == ["asks", "small_talk"]
    assert fitted == shipped, "re-fit: .venv/bin/python -m bot.services.classify_fit --all"


def test_a_loaded_model_shares_one_float_per_distinct_weight_and_scores_as_the_file_says():
    """read_fitted keeps each distinct number once (the intake model's weights are rounded to four places): half
    the memory, and the same probabilities as the file parsed plainly."""
    loaded = classify.IntakeModel.load()
    numbers = [weight for row in loaded.features.values() for weight in row]
    assert len({id(weight) for weight in numbers}) < len(numbers) / 10
    header, *rows = MODEL_PATH.read_text(encoding="utf-8").splitlines()
    features = {json.loads(gram): [float(text) for text in row.split()] for gram, row in (r.split("\t") for r in rows)}
    plain = classify.IntakeModel({**json.loads(header), "features": features}, classify.small_talk_model())
    for text in ("扫码枪扫不出来怎么办", "已经弄好了 谢谢", "客户经理电话一直打不通"):
        assert loaded.probabilities(text) == plain.probabilities(text)
