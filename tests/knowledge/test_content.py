"""The knowledge base as staff edit it: every file loads, the required topics exist, the evaluation is honest."""

from pathlib import Path

import pytest
import yaml

from bot.services.knowledge import load_entries

KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"
REQUIRED = """
terminal.scanner-no-read terminal.no-boot terminal.network-error terminal.printer terminal.product-not-found
terminal.stock-in terminal.stock-mismatch terminal.password terminal.sales-report terminal.payment-failed
terminal.class2-limit terminal.upgrade terminal.set-price
marketing.order-day marketing.order-login marketing.order-change marketing.payment-failed marketing.quota-why
marketing.grade-change marketing.weekly-supply marketing.scarce-allocation marketing.new-product-order
marketing.order-advice
delivery.time delivery.missing-wrong delivery.damaged delivery.absent delivery.address-change
monopoly.license-renewal monopoly.license-change monopoly.suspend monopoly.new-license monopoly.online-sales
monopoly.minors monopoly.other-channels monopoly.price-tag monopoly.counterfeit
training.display training.margin training.schedule training.profit-statement training.consumer-class
general.my-manager general.complaint general.what-group-does
""".split()


@pytest.fixture(scope="module")
def entries():
    return load_entries(KNOWLEDGE / "entries")


def eval_lines(pattern):
    lines = []
    for path in sorted((KNOWLEDGE / "eval").glob(pattern)):
        lines += yaml.safe_load(path.read_text(encoding="utf-8"))
    return lines


def test_every_required_topic_is_there_and_files_match_their_ids(entries):
    ids = {entry.id for entry in entries}
    assert set(REQUIRED) <= ids, sorted(set(REQUIRED) - ids)
    assert len(entries) >= 60
    for path in (KNOWLEDGE / "entries").glob("*/*.yaml"):
        assert yaml.safe_load(path.read_text(encoding="utf-8"))["id"] == f"{path.parent.name}.{path.stem}"


def test_entries_read_as_retailers_write(entries):
    for entry in entries:
        assert len(entry.similar) >= 4 and len(set(entry.similar)) == len(entry.similar), entry.id
        assert len(entry.answer) <= 300, entry.id


def test_personal_answers_use_only_the_directory_fields(entries):
    card = dict.fromkeys(["store_name", "grade", "ordering_day", "delivery_day", "manager_name",
                          "manager_work_no"], "x")
    for entry in entries:
        if entry.personal_answer:
            entry.personal_answer.format(**card)  # an unknown placeholder raises KeyError


def test_the_evaluation_is_held_out_and_large_enough(entries):
    held_out, off_topic = eval_lines("held_out_*.yaml"), eval_lines("off_topic_*.yaml")
    assert len(held_out) >= 200 and len(off_topic) >= 60
    ids = {entry.id for entry in entries}
    assert {line["id"] for line in held_out} <= ids
    written = {text for entry in entries for text in (entry.question, *entry.similar)}
    assert not [line["text"] for line in held_out if line["text"] in written]
