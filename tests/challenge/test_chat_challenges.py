"""Challenge sets of chat data: user turns perturbed, assistant turns kept; notes name causes."""

import json

import pyarrow.parquet as pq
import yaml

from splitforge.pipeline import build
from tests.conftest import real_data


def _build(tmp_path, source, **challenge):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "chat", "sources": [source],
        "split": {"ratios": {"train": 0.5, "val": 0.1, "test": 0.4}},
        "challenge": {"size": 20, **challenge}, "output": {"dir": str(tmp_path / "out")}}))
    return build(recipe).path


def test_adversarial_items_of_a_chat_perturb_user_turns_only(tmp_path):
    path = real_data("formats/llamafactory/glaive_toolcall_en_demo.json")
    folder = _build(tmp_path, {"path": str(path), "formatting": "sharegpt"},
                    mix={"edge": 0, "ood": 0, "temporal": 0, "adversarial": 1})
    items = pq.read_table(folder / "challenge" / "adversarial.parquet").to_pylist()
    assert len(items) == 20
    originals = {r["sf_id"]: r for s in ("val", "test")
                 for r in pq.read_table(folder / f"{s}.parquet").to_pylist()}
    for item in items:
        before = originals[item["sf_source_id"]]["conversations"]
        after = item["conversations"]
        assert len(before) == len(after) and item["sf_edit_distance"] > 0
        changed = [b["from"] for b, a in zip(before, after, strict=True) if b != a]
        assert changed and set(changed) == {"human"}  # gpt, function_call, observation intact
        assert item["tools"] == originals[item["sf_source_id"]]["tools"]


def test_a_kind_with_nothing_to_pick_says_why(tmp_path):
    path = real_data("formats/llamafactory/alpaca_en_demo.json")
    folder = _build(tmp_path, {"path": str(path), "formatting": "alpaca"})
    manifest = json.loads((folder / "manifest.json").read_text())
    notes = manifest["stages"]["challenge"]["redistributed"]
    assert any(n.startswith("temporal: 0 of") and "set fields.time" in n for n in notes)
    picked = manifest["stages"]["challenge"]["picked"]
    assert picked["adversarial"] > 0  # the instruction is perturbed by default


def test_a_pool_smaller_than_size_gets_the_mix_not_the_first_kinds(tmp_path):
    path = real_data("formats/llamafactory/identity.json")
    folder = _build(tmp_path, {"path": str(path), "formatting": "alpaca"}, size=400)
    manifest = json.loads((folder / "manifest.json").read_text())
    info = manifest["stages"]["challenge"]
    picked, pool = info["picked"], info["candidates"]
    assert pool < 400 and sum(picked.values()) <= pool
    assert picked["adversarial"] > 0 and picked["temporal"] == 0  # no kind takes the pool
    assert any(n.startswith(f"size 400 is more than the {pool}") for n in info["redistributed"])
    assert info["kinds"]["temporal"] == {"skipped": "the recipe maps no time field: set "
                                                    "fields.time"}
