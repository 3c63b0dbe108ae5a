"""The challenge stage end to end: held-out rows only, the mix, redistribution, determinism."""

import json
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from splitforge import build
from splitforge.challenge import regenerate, targets
from splitforge.cli import app
from splitforge.errors import RecipeError
from tests.conftest import folder_bytes, real_data, write_jsonl, write_recipe

KINDS = ("edge", "ood", "temporal", "adversarial")


def tickets(n=400):
    base = datetime(2024, 1, 1, tzinfo=UTC)
    topics = ["billing", "setup", "bug"]
    rows = []
    for i in range(n):
        question = f"How do I reset device {i} after the firmware update number {i % 17}?"
        if i % 50 == 7:
            question = "退款申请怎么提交？我的订单号是 " + str(10_000_000_000 + i)
        if i % 40 == 3:
            question = "refund please " * 30
        rows.append({"ticket_id": f"t{i:05d}", "question": question,
                     "answer": f"Hold button {i % 7} for {i % 11} seconds.",
                     "created_at": (base + timedelta(hours=5 * i)).isoformat(),
                     "category": topics[i % 3] if i % 25 else "rare"})
    return rows


def recipe_for(tmp_path, challenge, split=None, rows=None):
    data = write_jsonl(tmp_path / "tickets.jsonl", rows or tickets())
    return write_recipe(
        tmp_path, sources=[{"path": str(data)}],
        fields={"id": "ticket_id", "text": "{question}\n{answer}", "time": "created_at",
                "label": "category"},
        split=split or {"method": "random", "ratios": {"train": 0.6, "val": 0.1, "test": 0.3}},
        challenge=challenge,
    )


def read(path):
    return pq.read_table(path).to_pylist()


def test_targets_add_up_and_follow_the_mix():
    mix = {"edge": 0.3, "ood": 0.3, "temporal": 0.2, "adversarial": 0.2}
    for size in (1, 7, 10, 33, 400):
        got = targets(size, mix)
        assert sum(got.values()) == size
        assert all(abs(got[k] - size * mix[k]) < 1 for k in mix)
    assert targets(3, mix) == {"edge": 1, "ood": 1, "temporal": 1, "adversarial": 0}


def test_challenge_sets_come_from_held_out_rows_only_and_never_twice(tmp_path):
    result = build(recipe_for(tmp_path, {"size": 60}), out=tmp_path / "out")
    folder = result.path
    train_ids = {r["sf_id"] for r in read(folder / "train.parquet")}
    test_ids = {r["sf_id"] for r in read(folder / "test.parquet")}
    everything = read(folder / "challenge" / "all.parquet")
    assert len(everything) == 60
    sources = [r["sf_source_id"] for r in everything]
    assert len(set(sources)) == len(sources)  # no held-out row in two sets
    assert set(sources) <= test_ids and not set(sources) & train_ids
    counts = {k: sum(r["sf_challenge"] == k for r in everything) for k in KINDS}
    assert counts == {"edge": 18, "ood": 18, "temporal": 12, "adversarial": 12}
    for kind in KINDS:
        rows = read(folder / "challenge" / f"{kind}.parquet")
        assert [r["sf_challenge"] for r in rows] == [kind] * counts[kind]
        assert all(r["sf_reason"] for r in rows)
    assert result.manifest["stages"]["challenge"]["picked"] == counts
    report = (folder / "report.md").read_text(encoding="utf-8")
    assert "## Challenge sets" in report and "| adversarial | 12 | 12 |" in report


def test_adversarial_items_perturb_only_the_question_and_regenerate_alone(tmp_path):
    folder = build(recipe_for(tmp_path, {"size": 50}), out=tmp_path / "out").path
    test = {r["sf_id"]: r for r in read(folder / "test.parquet")}
    items = read(folder / "challenge" / "adversarial.parquet")
    assert items
    for item in items:
        source = test[item["sf_source_id"]]
        assert item["sf_id"] == f"{item['sf_source_id']}#{item['sf_perturbation']}"
        assert item["question"] != source["question"]
        assert item["answer"] == source["answer"] and item["category"] == source["category"]
        assert item["sf_edit_distance"] > 0
        assert item["sf_original_text"] == f"{source['question']}\n{source['answer']}"
        again = regenerate(source["question"], item["sf_perturbation"], item["sf_seed"],
                           field="question")
        assert again == item["question"]


def test_same_build_twice_gives_identical_challenge_files(tmp_path):
    recipe = recipe_for(tmp_path, {"size": 40})
    first = folder_bytes(build(recipe, out=tmp_path / "a").path / "challenge")
    second = folder_bytes(build(recipe, out=tmp_path / "b").path / "challenge")
    assert first == second and set(first) == {f"{k}.parquet" for k in (*KINDS, "all")}


def test_a_kind_short_of_candidates_leaves_its_share_to_the_others(tmp_path):
    # No time field: the temporal kind has nothing, so its 20% goes to the other kinds.
    data = write_jsonl(tmp_path / "tickets.jsonl", tickets())
    recipe = write_recipe(tmp_path, sources=[{"path": str(data)}],
                          fields={"id": "ticket_id", "text": "{question}\n{answer}"},
                          split={"method": "random",
                                 "ratios": {"train": 0.6, "val": 0.1, "test": 0.3}},
                          challenge={"size": 50})
    result = build(recipe, out=tmp_path / "out")
    info = result.manifest["stages"]["challenge"]
    assert info["picked"]["temporal"] == 0
    assert sum(info["picked"].values()) == 50
    assert info["picked"]["edge"] > info["targets"]["edge"]
    assert any(note.startswith("temporal: 0 of 10") for note in info["redistributed"])
    assert "temporal: 0 of 10" in (result.path / "report.md").read_text(encoding="utf-8")


def test_unknown_adversarial_field_is_a_recipe_error(tmp_path):
    recipe = recipe_for(tmp_path, {"size": 20, "adversarial": {"fields": ["prompt"]}})
    with pytest.raises(RecipeError, match="challenge.adversarial.fields: prompt"):
        build(recipe, out=tmp_path / "out")


def test_challenge_command_over_an_existing_build(tmp_path):
    folder = build(recipe_for(tmp_path, None), out=tmp_path / "out").path
    before = folder_bytes(folder)
    runner = CliRunner()
    result = runner.invoke(app, ["challenge", str(folder), "--out", str(tmp_path / "sets"),
                                 "--challenge.size", "30", "--challenge.from", "[val, test]"])
    assert result.exit_code == 0, result.output
    assert folder_bytes(folder) == before  # the build is never changed
    rows = read(tmp_path / "sets" / "all.parquet")
    assert len(rows) == 30
    held_out = {r["sf_id"] for s in ("val", "test") for r in read(folder / f"{s}.parquet")}
    assert {r["sf_source_id"] for r in rows} <= held_out
    manifest = json.loads((tmp_path / "sets" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["build_id"] == folder.name
    again = runner.invoke(app, ["challenge", str(folder), "--out", str(tmp_path / "sets")])
    assert again.exit_code == 2 and "already exists" in again.output
    missing = runner.invoke(app, ["challenge", str(tmp_path), "--out", str(tmp_path / "x")])
    assert missing.exit_code == 2 and "no manifest.json" in missing.output
    for inside in (folder, folder / "challenge", folder.parent):  # --force would destroy it
        refused = runner.invoke(app, ["challenge", str(folder), "--out", str(inside), "--force"])
        assert refused.exit_code == 2 and "that it reads" in refused.output
    assert folder_bytes(folder) == before


def test_chinese_adversarial_items_on_belle_are_really_perturbed(tmp_path):
    rows = [json.loads(line) for line in
            real_data("eval/belle_eval_set_zh.jsonl").read_text(encoding="utf-8").splitlines()]
    data = write_jsonl(tmp_path / "belle.jsonl", rows[:300])
    recipe = write_recipe(
        tmp_path, sources=[{"path": str(data)}],
        fields={"id": "idx", "text": "{question}\n{std_answer}", "label": "class"},
        split={"method": "random", "ratios": {"train": 0.5, "val": 0.1, "test": 0.4}},
        challenge={"size": 40, "mix": {"edge": 0, "ood": 0, "temporal": 0, "adversarial": 1},
                   "adversarial": {"fields": ["question"],
                                   "perturbations": ["zh_traditional", "zh_fullwidth_punct",
                                                     "zh_char_drop", "zh_char_swap"]}},
    )
    folder = build(recipe, out=tmp_path / "out").path
    items = read(folder / "challenge" / "adversarial.parquet")
    assert len(items) == 40
    test = {r["sf_id"]: r for r in read(folder / "test.parquet")}
    kinds = {item["sf_perturbation"] for item in items}
    assert kinds == {"zh_traditional", "zh_fullwidth_punct", "zh_char_drop", "zh_char_swap"}
    for item in items:
        assert item["question"] != test[item["sf_source_id"]]["question"]
        assert item["std_answer"] == test[item["sf_source_id"]]["std_answer"]
        assert item["sf_edit_distance"] > 0


def test_ood_top_100_are_the_planted_foreign_items_on_real_commits(tmp_path):
    # A new domain arrives: 5% of the rows (300 of 6,000) become GSM8K questions, all of them in
    # the newest fifth, which a temporal split holds out. OOD is relative to train, so the
    # questions must not be in train (half of them in train would make maths in-distribution).
    import gzip

    with gzip.open(real_data("temporal/oss_commit_messages.jsonl.gz"), "rt", encoding="utf-8") as f:
        commits = [json.loads(line) for _, line in zip(range(6000), f, strict=False)]
    commits.sort(key=lambda r: datetime.fromisoformat(r["author_date"]))
    questions = [json.loads(line)["question"] for line in
                 real_data("eval/gsm8k_test.jsonl").read_text(encoding="utf-8").splitlines()]
    for k, i in enumerate(range(4810, 6000, 4)[:300]):
        commits[i] = {**commits[i], "subject": questions[k], "body": "", "repo": "gsm8k",
                      "sha": f"gsm8k-{k:04d}"}
    data = write_jsonl(tmp_path / "commits.jsonl", commits)
    recipe = write_recipe(
        tmp_path, sources=[{"path": str(data), "on_error": "skip"}],  # one empty commit message
        fields={"id": "sha", "text": "{subject}\n{body}", "time": "author_date"},
        dedup={"exact": True},
        split={"method": "temporal", "ratios": {"train": 0.8, "val": 0.0, "test": 0.2}},
        challenge={"size": 100, "mix": {"edge": 0, "ood": 1, "temporal": 0, "adversarial": 0}},
    )
    folder = build(recipe, out=tmp_path / "out").path
    assert not any(r["repo"] == "gsm8k" for r in read(folder / "train.parquet"))
    test_rows = read(folder / "test.parquet")
    assert sum(r["repo"] == "gsm8k" for r in test_rows) >= 250
    ood = read(folder / "challenge" / "ood.parquet")
    assert len(ood) == 100
    assert sum(r["repo"] == "gsm8k" for r in ood) >= 90


def test_bad_adversarial_fields_are_errors_even_when_the_kind_picks_nothing(tmp_path):
    mix = {"edge": 0.5, "ood": 0.3, "temporal": 0.2, "adversarial": 0.0}
    recipe = recipe_for(tmp_path, {"size": 20, "mix": mix, "adversarial": {"fields": ["prompt"]}})
    with pytest.raises(RecipeError, match="challenge.adversarial.fields: prompt"):
        build(recipe, out=tmp_path / "out")
    for fields, said in ((["sf_text"], "own columns"), (["question", "question"], "twice")):
        recipe = recipe_for(tmp_path, {"size": 20, "adversarial": {"fields": fields}})
        with pytest.raises(RecipeError, match=said):
            build(recipe, out=tmp_path / "out2")
