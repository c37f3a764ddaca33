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


@pytest.mark.parametrize("text", ['digest_at = "25:00"', 'digest_at = "8点"', '[appraisal]\nbase = 0',
                                  '[appraisal]\nbreach_points = { reply = 2, meeting = 1 }',
                                  '[appraisal]\nbonus_mean = 6', '[appraisal]\nscore = 100'])
def test_a_bad_digest_time_or_appraisal_rule_is_refused(tmp_path, text):
    wrong = tmp_path / "p.toml"
    wrong.write_text(text + "\n")
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


def test_directory_names_are_checked_when_the_file_is_loaded(tmp_path):
    wrong = tmp_path / "p.toml"
    wrong.write_text('[directory.header_aliases]\nlicence = ["证号"]\n', encoding="utf-8")
    with pytest.raises(ValidationError, match="unknown directory fields"):
        load_policies(str(wrong))
    wrong.write_text('[directory.business_types]\n"住宿" = ["酒店"]\n', encoding="utf-8")
    with pytest.raises(ValidationError, match="同时属于「娱乐服务类」和「住宿」"):
        load_policies(str(wrong))


def test_a_business_type_named_in_the_file_replaces_only_its_own_names(tmp_path):
    partial = tmp_path / "p.toml"
    partial.write_text('[directory.business_types]\n"便利店" = ["便民店"]\n"批发部" = []\n', encoding="utf-8")
    names = load_policies(str(partial)).directory.business_type_names()
    assert (names["便民店"], names["批发部"], names["烟酒店"], names["ktv"]) == ("便利店", "批发部", "烟酒商店",
                                                                            "娱乐服务类")
    assert "便利" not in names
