from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.policy import Duration, Policies, load_policies

ROOT = Path(__file__).resolve().parents[1]


def test_the_documented_file_states_the_defaults():
    assert load_policies(str(ROOT / "policies.example.toml")) == Policies()


def test_durations_go_down_to_seconds():
    assert Duration.parse("45s").span.total_seconds() == 45
    assert Duration.parse("1h30m").span.total_seconds() == 5400
    assert Duration.parse("2d").days == 2


@pytest.mark.parametrize("text", ["", "30", "half an hour", "5x"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        Duration.parse(text)


def test_a_file_with_an_unknown_key_or_target_is_refused(tmp_path):
    wrong = tmp_path / "p.toml"
    wrong.write_text('[pledges.reply]\ndue = "5m"\nladder = [{ after = "0m", notify = "mayor" }]\n')
    with pytest.raises(ValidationError):
        load_policies(str(wrong))
    wrong.write_text('sweep_secs = 5\n')
    with pytest.raises(ValidationError):
        load_policies(str(wrong))


def test_a_file_overrides_only_what_it_names(tmp_path):
    partial = tmp_path / "p.toml"
    partial.write_text('[pledges.reply]\ndue = "20s"\n[categories.delivery]\nvisit = "always"\n')
    policies = load_policies(str(partial))
    assert policies.pledges["reply"].due == Duration.parse("20s")
    assert policies.pledges["reply"].ladder == Policies().pledges["reply"].ladder
    assert policies.pledges["visit"] == Policies().pledges["visit"]
    assert policies.needs_visit("delivery", "x") and policies.needs_visit("complaint", "x")
