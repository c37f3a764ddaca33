"""A scope model that gives every text to `ours`: the knowledge index as it decides without its scope model, for
tests of the rules under it (naive Bayes' out-of-scope class, the foreignness)."""

from bot.services.classify import LinearTextModel

UNSCOPED = LinearTextModel({"classes": ["elsewhere", "ours"], "ngrams": [1, 1], "intercept": [0.0],
                            "calibration": [[0.0, -50.0]], "features": {}})
