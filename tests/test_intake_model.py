"""The intake model shipped in bot/data/intake_model.json is the fit of every labelled line in knowledge/intake/,
and the knowledge base's scope model in bot/data/scope_model.json the fit of its lines (the entries' wordings, the
request lines, out_of_scope.yaml): a line added without re-fitting (or a fit of the training split alone committed)
is caught here."""

import json

from bot.services import classify_fit
from bot.services.classify import MODEL_PATH
from bot.services.knowledge import SCOPE_MODEL_PATH


def test_the_shipped_model_is_the_fit_of_every_labelled_line():
    fitted = classify_fit.fit(classify_fit.labelled_lines())
    shipped = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert fitted.keys() == shipped.keys() and fitted["classes"] == shipped["classes"]
    assert fitted == shipped, "re-fit: .venv/bin/python -m bot.services.classify_fit --all"


def test_the_shipped_scope_model_is_the_fit_of_its_lines():
    fitted = classify_fit.fit_linear(classify_fit.scope_lines())
    shipped = json.loads(SCOPE_MODEL_PATH.read_text(encoding="utf-8"))
    assert fitted["classes"] == shipped["classes"] == ["elsewhere", "ours"]
    assert fitted == shipped, "re-fit: .venv/bin/python -m bot.services.classify_fit --all"
