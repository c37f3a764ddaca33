"""The intake model shipped in bot/data/intake_model.json is the fit of every labelled line in knowledge/intake/:
a line added without re-fitting (or a fit of the training split alone committed) is caught here."""

import json

from bot.services import classify_fit
from bot.services.classify import MODEL_PATH


def test_the_shipped_model_is_the_fit_of_every_labelled_line():
    fitted = classify_fit.fit(classify_fit.labelled_lines())
    shipped = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert fitted.keys() == shipped.keys() and fitted["classes"] == shipped["classes"]
    assert fitted == shipped, "re-fit: .venv/bin/python -m bot.services.classify_fit --all"
