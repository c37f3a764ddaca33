"""The real groups' lines become training lines (`classify_fit --add`): what staff corrected, exported by the
service, added to knowledge/intake/ without a line of an evaluation set and without overruling a trained label."""

import yaml

from bot.policy import Policies
from bot.services import classify_fit, intake, tickets
from tests import factories as make

TRAINED = {"terminal_story": ["终端开不了机"], "chatter_thanks": ["谢谢客服"]}
EVALUATED = [{"text": "客户经理半年没来过", "kind": "request", "category": "complaint"}]


def _folders(tmp_path):
    lines, evaluation = tmp_path / "intake", tmp_path / "eval" / "apart99"
    lines.mkdir()
    evaluation.mkdir(parents=True)
    (lines / "requests.yaml").write_text(yaml.safe_dump(TRAINED, allow_unicode=True), encoding="utf-8")
    (evaluation / "intake.yaml").write_text(yaml.safe_dump(EVALUATED, allow_unicode=True), encoding="utf-8")
    return lines, tmp_path / "eval"


def test_the_corrections_export_becomes_training_lines(session, clock, settings, group, tmp_path):
    lines, evaluation = _folders(tmp_path)
    agent = make.staff(session, clock)
    training = make.post(session, clock, settings, "下次培训是哪天", user_id="10001").ticket_id
    terminal = make.post(session, clock, settings, "终端开不了机", user_id="10002").ticket_id
    since = clock.now()
    clock.advance(minutes=1)
    rules = {"now": clock.now(), "policies": Policies(), "tz": settings.tz}
    intake.recategorise_ticket(session, training, "marketing", agent, **rules)
    intake.mark_not_a_request(session, terminal, agent, None, **rules)
    session.commit()
    export = tmp_path / "corrections.yaml"
    export.write_text(tickets.corrections_file(session, since), encoding="utf-8")

    report = classify_fit.add_lines(export, lines, evaluation)

    assert report == {"added": {"marketing": 1}, "known": 0, "evaluation_lines": 0,
                      "conflicts": [{"text": "终端开不了机", "trained_as": "terminal", "corrected_as": "chatter"}]}
    assert yaml.safe_load((lines / classify_fit.FROM_GROUPS).read_text(encoding="utf-8")) == {
        "marketing_from_groups": ["下次培训是哪天"]}
    assert dict(classify_fit.labelled_lines(lines))["下次培训是哪天"] == "marketing"


def test_a_line_of_an_evaluation_set_is_left_out_and_a_second_add_adds_nothing(tmp_path):
    lines, evaluation = _folders(tmp_path)
    source = tmp_path / "reviewed.yaml"
    source.write_text(yaml.safe_dump({"complaint_corrected": ["打你们电话十几遍没人接", "客户经理半年没来过", " "],
                                      "chatter_corrected": ["谢谢客服"]}, allow_unicode=True), encoding="utf-8")

    report = classify_fit.add_lines(source, lines, evaluation)

    assert report == {"added": {"complaint": 1}, "known": 1, "evaluation_lines": 1, "conflicts": []}
    added = (lines / classify_fit.FROM_GROUPS).read_text(encoding="utf-8")
    assert yaml.safe_load(added) == {"complaint_from_groups": ["打你们电话十几遍没人接"]}
    again = classify_fit.add_lines(source, lines, evaluation)
    assert (again["added"], again["known"], again["evaluation_lines"]) == ({}, 2, 1)
    assert (lines / classify_fit.FROM_GROUPS).read_text(encoding="utf-8") == added


def test_a_file_that_is_not_labelled_lines_changes_nothing(tmp_path):
    lines, evaluation = _folders(tmp_path)
    for content, error in (({"praise_corrected": ["服务真好"]}, "no such label praise"),
                           (["服务真好"], "expected labels"),
                           ({"chatter_corrected": "服务真好"}, "expected labels"),
                           ({"chatter_corrected": [{"text": "服务真好"}]}, "expected labels")):
        source = tmp_path / "corrections.yaml"
        source.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
        try:
            classify_fit.add_lines(source, lines, evaluation)
        except ValueError as refused:
            assert error in str(refused)
        else:
            raise AssertionError(f"{content} was taken")
        assert not (lines / classify_fit.FROM_GROUPS).exists()
    assert dict(classify_fit.labelled_lines(lines)) == {"终端开不了机": "terminal", "谢谢客服": "chatter"}


def test_every_line_of_the_sets_kept_apart_counts_as_an_evaluation_line():
    found = classify_fit.evaluation_lines()
    kept_apart = sorted(classify_fit.EVALUATION.glob("apart*/intake.yaml"))
    assert kept_apart, "no set kept apart with intake lines"
    for path in kept_apart:
        assert {item["text"] for item in yaml.safe_load(path.read_text(encoding="utf-8"))} <= found
