"""The intake model on our own dev split (knowledge/intake/, one line in five by a hash of its text), through
the real intake service as bench/heldout_eval.py runs the held-out set, plus the model's speed and weight.

The shipped model is fitted on every line (`python -m bot.services.classify_fit --all`), so for honest dev
figures this script first fits one on the training split only, in memory, and scores the dev split with it;
the shipped file is not touched; then the shipped models on knowledge/eval/dev_intake/ (`unfitted`: lines written
like the training lines, never fitted on) and on knowledge/eval/dev4/ (never fitted: `dev4_intake.yaml`, chatter in
our words and requests shaped like it; `dev4_in_scope.yaml`, questions that read like chatter, a story then 这咋弄,
with the knowledge figures of bench/heldout_eval.py's harder style) and on knowledge/eval/dev5/ (never fitted:
`dev5_intake.yaml`, `dev5_in_scope.yaml` in the harder style and `dev5_other_trades.yaml`, other trades' questions
in our words, with how many the base answered). Reports requests logged, chatter ticketed
(a detail line counts as chatter: alone it must open nothing), category right, complaints right and the confusion
pairs; the trading rule on lines that are no dealer's; then the shipped model's load time, size and a decision's
p50/p99 (wall and CPU) over every line, with the cost of a bare Python call (the floor) measured in the same run;
and the CPU of a whole reading (`intake.read`, the model and the knowledge base) of eval/dev_intake's requests and
chatter.

    .venv/bin/python bench/intake_eval.py [--show 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from unittest import mock

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from heldout_eval import answered_figures, fresh_runtime, intake_figures, post  # noqa: E402

from bot.services import classify, intake  # noqa: E402
from bot.services.classify import MODEL_PATH, NOT_REQUESTS, IntakeModel, LinearTextModel  # noqa: E402
from bot.services.classify_fit import fit, fit_linear, is_dev, labelled_lines, small_talk_lines  # noqa: E402
from bot.services.knowledge import load_entries  # noqa: E402

UNFITTED = ROOT / "knowledge" / "eval" / "dev_intake"
DEV4 = ROOT / "knowledge" / "eval" / "dev4"
DEV5 = ROOT / "knowledge" / "eval" / "dev5"


def as_labelled(lines: list[tuple[str, str]]) -> list[dict]:
    return [{"text": text, "kind": "chatter" if label in NOT_REQUESTS else "request", "category": label}
            for text, label in lines]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def speed(texts: list[str]) -> dict:
    started = time.perf_counter()
    model = IntakeModel.load()
    load_ms = (time.perf_counter() - started) * 1000
    wall, cpu, floor = [], [], []
    for text in texts * 3:
        t0, c0 = time.perf_counter(), time.process_time()
        classify.analyse(text)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        t0 = time.perf_counter()
        len(text)
        floor.append((time.perf_counter() - t0) * 1000)
    return {"load_ms": round(load_ms, 1), "bytes": MODEL_PATH.stat().st_size, "features": len(model.features),
            "decisions": len(wall), "p50_ms": round(percentile(wall, 0.5), 3),
            "p99_ms": round(percentile(wall, 0.99), 3), "p99_cpu_ms": round(percentile(cpu, 0.99), 3),
            "floor_p99_ms": round(percentile(floor, 0.99), 4)}


def read_yaml(path: Path) -> list:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def trading_flagged() -> dict:
    """The trading rule (a dealer's post, told off in the group) on lines that are no dealer's: the entries' own
    wordings, the labelled in-scope questions of knowledge/eval/ (not the sets kept apart), the intake lines other
    than monopoly's of our training, eval/dev_intake, eval/dev4 and eval/dev5; each flagged line is listed."""
    entries = load_entries(ROOT / "knowledge" / "entries")
    wordings = [text for entry in entries for text in (entry.question, *entry.similar)]
    questions = [item["text"] for name in ("held_out_a", "held_out_b", "dev_hard", "dev2_in_scope", "dev3_in_scope")
                 for item in read_yaml(ROOT / "knowledge" / "eval" / f"{name}.yaml")]
    questions += [item["text"] for folder, name in ((DEV4, "dev4_in_scope.yaml"), (DEV5, "dev5_in_scope.yaml"))
                  for item in read_yaml(folder / name)]
    ours = [text for text, label in labelled_lines() if label != "monopoly"] + [text for text, _ in
                                                                               labelled_lines(UNFITTED)]
    ours += [line["text"] for folder, name in ((DEV4, "dev4_intake.yaml"), (DEV5, "dev5_intake.yaml"))
             for line in read_yaml(folder / name) if line["category"] != "monopoly"]
    lines = wordings + questions + ours
    flagged = [text for text in lines if classify.analyse(text).trading]
    return {"lines": len(lines), "flagged": len(flagged), "flagged_lines": flagged[:20]}


def reading_speed(runtime, texts: list[str]) -> dict:
    """CPU a line's reading takes (`intake.read`: the model, and the shipped base unless the model is sure the line
    asks nothing), three times over each line."""
    cpu = []
    for text in texts * 3:
        c0 = time.process_time()
        intake.read(text, runtime.knowledge)
        cpu.append((time.process_time() - c0) * 1000)
    return {"lines": len(texts), "mean_cpu_ms": round(sum(cpu) / len(cpu), 3),
            "p99_cpu_ms": round(percentile(cpu, 0.99), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show", type=int, default=10, help="misses of each kind listed")
    args = parser.parse_args()
    everything = labelled_lines()
    dev = as_labelled([line for line in everything if is_dev(line[0])])
    train = [line for line in everything if not is_dev(line[0])]
    train_only = IntakeModel(fit(train), LinearTextModel(fit_linear(small_talk_lines(train))))
    with mock.patch.object(classify, "model", lambda: train_only), fresh_runtime() as runtime:
        figures = intake_figures(runtime, dev, args.show)
    unfitted = as_labelled(labelled_lines(UNFITTED))
    with fresh_runtime() as runtime:
        unfitted_figures = intake_figures(runtime, unfitted, args.show)
        reading = {kind: reading_speed(runtime, [line["text"] for line in unfitted if line["kind"] == kind])
                   for kind in ("request", "chatter")}
        dev4 = {"intake": intake_figures(runtime, read_yaml(DEV4 / "dev4_intake.yaml"), args.show),
                "in_scope": answered_figures(runtime, read_yaml(DEV4 / "dev4_in_scope.yaml"), args.show)}
        other_trades = [line["text"] for line in read_yaml(DEV5 / "dev5_other_trades.yaml")]
        answered_other = [text for text in other_trades if post(runtime, text)[0].entry_id is not None]
        dev5 = {"intake": intake_figures(runtime, read_yaml(DEV5 / "dev5_intake.yaml"), args.show),
                "in_scope": answered_figures(runtime, read_yaml(DEV5 / "dev5_in_scope.yaml"), args.show),
                "other_trades": {"lines": len(other_trades),
                                 "answered": round(len(answered_other) / len(other_trades), 3),
                                 "answered_lines": answered_other[:args.show]}}
    print(json.dumps({"dev_lines": len(dev), "train_lines": len(everything) - len(dev), "dev": figures,
                      "unfitted": unfitted_figures, "dev4": dev4, "dev5": dev5,
                      "trading_on_no_dealers_lines": trading_flagged(),
                      "speed": speed([text for text, _ in everything]),
                      "reading_unfitted": reading}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
