"""The stage cache: a re-run starts after dedup, and the outputs are the same bytes."""

import shutil

import yaml

from splitforge.pipeline import build
from tests.conftest import REPO, folder_bytes


def _recipe(tmp_path, **output):
    recipe = yaml.safe_load((REPO / "recipes" / "quickstart.yaml").read_text())
    recipe["sources"] = [{"path": str(REPO / "data" / "oss_commits_sample.jsonl")}]
    recipe["challenge"] = {"size": 20}  # the cache is about the stages before; keep this short
    recipe["output"] = {"dir": str(tmp_path / "out"), **output}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_a_rerun_reuses_the_stages_before_the_split_and_writes_the_same_bytes(tmp_path):
    recipe = _recipe(tmp_path)
    cold = build(recipe)
    assert "dedup" in cold.timings
    entries = sorted(p.name for p in (tmp_path / "out" / ".cache" / "stages").iterdir())
    assert sorted(e.startswith("audit-") for e in entries) == [False, True]  # dedup's, audit's
    cold_bytes = folder_bytes(cold.path)
    shutil.rmtree(cold.path)  # the version is gone, the cache stays: a warm rebuild
    warm = build(recipe)
    assert warm.build_id == cold.build_id
    assert "dedup" not in warm.timings and "audit" not in warm.timings
    assert "cached: audit" in warm.timings
    assert folder_bytes(warm.path) == cold_bytes
    # only the gate changed: neither the stages before the split nor the audit run again
    gate = build(recipe, overrides={"audit.fail_on": "never"})
    assert gate.build_id != cold.build_id and not {"dedup", "audit"} & set(gate.timings)
    assert gate.manifest["stages"]["audit"]["fail_on"] == "never"
    # a change after dedup (the seed) starts from the cache too, and audits again
    changed = build(recipe, overrides={"audit.fail_on": "never", "seed": 3})
    assert "dedup" not in changed.timings and "audit" in changed.timings
    # a change of a section it covers does not
    other = build(recipe, overrides={"dedup.minhash.threshold": 0.6})
    assert "dedup" in other.timings
    stages = [p.name for p in (tmp_path / "out" / ".cache" / "stages").iterdir()]
    assert len([p for p in stages if not p.startswith("audit-")]) == 2


def test_a_damaged_entry_is_rebuilt_and_the_cache_can_be_off(tmp_path):
    recipe = _recipe(tmp_path)
    first = build(recipe)
    expected = folder_bytes(first.path)
    [entry] = [p for p in (tmp_path / "out" / ".cache" / "stages").iterdir()
               if not p.name.startswith("audit-")]
    (entry / "table.arrow").write_bytes(b"not arrow")
    shutil.rmtree(first.path)
    again = build(recipe)
    assert "dedup" in again.timings and folder_bytes(again.path) == expected
    assert (entry / "meta.json").is_file()  # written again, whole
    shutil.rmtree(again.path)
    assert "dedup" not in build(recipe).timings
    (tmp_path / "off").mkdir()
    off = build(_recipe(tmp_path / "off", cache=False))
    assert "dedup" in off.timings and not (tmp_path / "off" / "out" / ".cache").exists()
