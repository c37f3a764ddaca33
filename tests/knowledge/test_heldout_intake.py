"""The intake figures on the held-out set of #16 (knowledge/eval/apart/intake.yaml, never fitted on) may not slip.

Floors are #16's aims where the model reached them (requests logged >= 97 %, chatter ticketed <= 3 %), else about
the figure it reached: category right 84 % (83.1 % before the lines of intake/requests_asked.yaml and
requests_polite.yaml; bench/heldout_eval.py measured 84.1 % with 14 further lines, dropped because complaints right
fell to 87.3 % with them; the shipped model passes 84 %, 2026-12-04), complaints right 89.1 %
(the aims are 90 % and 95 %). Raise a floor when a change reaches more; a failure says a change undid part of #16.
The test prints no line of the set.
"""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APART = ROOT / "knowledge" / "eval" / "apart" / "intake.yaml"
FLOORS = {"requests_logged": 0.97, "category_right": 0.84, "complaints_right": 0.89}
CEILINGS = {"chatter_ticketed": 0.03}


@pytest.mark.skipif(not APART.exists(), reason="the held-out intake set is not in this checkout")
def test_the_held_out_intake_figures_do_not_slip():
    sys.path.insert(0, str(ROOT / "bench"))
    from heldout_eval import fresh_runtime, intake_figures, lines

    with fresh_runtime() as runtime:
        figures = intake_figures(runtime, lines("intake.yaml"), show=0)
    low = {name: figures[name] for name, floor in FLOORS.items() if figures[name] < floor}
    high = {name: figures[name] for name, ceiling in CEILINGS.items() if figures[name] > ceiling}
    assert not low and not high, f"below the floors: {low}; above the ceilings: {high}"
