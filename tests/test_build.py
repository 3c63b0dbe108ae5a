"""End-to-end builds through the library API, on real and hand-made data."""

import gzip
import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from splitforge import build
from splitforge.errors import InputError, LeakageError
from splitforge.fingerprint import sha256_file
from tests.conftest import REPO, folder_bytes, real_data, write_jsonl, write_recipe


def tickets(n=200, start=0):
    base = datetime(2024, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(start, start + n):
        rows.append({"ticket_id": f"t{i:05d}", "question": f"How do I reset device {i}?",
                     "answer": f"Hold button {i % 7} for {i % 11} seconds.",
                     "created_at": (base + timedelta(hours=5 * i)).isoformat(),
                     "customer": f"c{i % 37}", "category": ["billing", "setup", "bug"][i % 3]})
    return rows


FIELDS = {"id": "ticket_id", "text": "{question}\n{answer}", "time": "created_at"}


def test_quickstart_recipe_builds_and_checks_out(tmp_path):
    result = build(REPO / "recipes" / "quickstart.yaml", out=tmp_path)
    assert result.status == "built"
    folder = result.path
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["build_id"] == folder.name
    for rel, entry in manifest["outputs"].items():
        assert sha256_file(folder / rel) == entry["sha256"]
    splits = {n: pq.read_table(folder / f"{n}.parquet") for n in ("train", "val", "test")}
    assert sum(t.num_rows for t in splits.values()) == sum(manifest["counts"]["splits"].values())
    gap = timedelta(days=7)
    assert pc.max(splits["train"]["sf_time"]).as_py() + gap < pc.min(splits["val"]["sf_time"]).as_py()
    assert pc.max(splits["val"]["sf_time"]).as_py() + gap < pc.min(splits["test"]["sf_time"]).as_py()
    removed = pq.read_table(folder / "removed.parquet")
    reasons = set(removed["sf_reason"].to_pylist())
    assert {"exact_duplicate", "temporal_gap"} <= reasons
    # original fields travel unchanged
    original = {json.loads(line)["sha"]: json.loads(line)
                for line in (REPO / "data" / "oss_commits_sample.jsonl").open()}
    row = splits["test"].slice(0, 1).to_pylist()[0]
    assert {k: row[k] for k in original[row["sha"]]} == original[row["sha"]]
    assert (folder / "train.jsonl").exists() and (folder / "report.md").exists()
    clusters = pq.read_table(folder / "dedup_clusters.parquet")
    assert set(clusters["sf_method"].drop_null().to_pylist()) == {"exact", "minhash"}
    removed_dups = removed.filter(pc.field("sf_stage") == "dedup")
    assert set(removed_dups["sf_id"].to_pylist()) == set(
        clusters.filter(pc.invert(clusters["sf_kept"]))["sf_id"].to_pylist())
    assert "largest duplicate clusters" in (folder / "report.md").read_text()
    assert (folder.parent / "latest").resolve() == folder.resolve()


def test_duplicates_removed_keep_earliest_and_never_straddle(tmp_path):
    rows = tickets(300)
    late_copy = dict(rows[0], ticket_id="t99999", created_at="2024-11-01T00:00:00Z",
                     question=rows[0]["question"].upper())
    write_jsonl(tmp_path / "d.jsonl", rows + [late_copy])
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}], fields=FIELDS,
                          split={"method": "temporal", "gap": "1d"})
    result = build(recipe)
    removed = pq.read_table(result.path / "removed.parquet").to_pylist()
    dup = [r for r in removed if r["sf_reason"] == "exact_duplicate"]
    assert [(r["sf_id"], r["sf_kept_id"]) for r in dup] == [("t99999", "t00000")]
    train_ids = pq.read_table(result.path / "train.parquet")["sf_id"].to_pylist()
    assert "t00000" in train_ids


def test_same_build_twice_is_unchanged_then_forced(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", tickets(50))
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}], fields=FIELDS)
    first = build(recipe)
    before = folder_bytes(first.path)
    second = build(recipe)
    assert second.status == "unchanged" and second.build_id == first.build_id
    third = build(recipe, force=True)
    assert third.status == "built" and folder_bytes(third.path) == before
    assert build(recipe, overrides={"seed": 1}).build_id != first.build_id


def test_dry_run_writes_nothing(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", tickets(20))
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}], fields=FIELDS)
    result = build(recipe, dry_run=True)
    assert result.status == "dry-run" and not (tmp_path / "out").exists()


def _build_in_subprocess(recipe: Path, out: Path, hashseed: str) -> Path:
    code = ("import sys; from splitforge import build; "
            "print(build(sys.argv[1], out=sys.argv[2]).path)")
    proc = subprocess.run([sys.executable, "-c", code, str(recipe), str(out)], check=True,
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONHASHSEED": hashseed})
    return Path(proc.stdout.strip())


def test_determinism_across_hashseeds_and_row_order(tmp_path):
    rows = tickets(400)
    rows += [dict(r, ticket_id=r["ticket_id"] + "-copy") for r in rows[:40]]
    write_jsonl(tmp_path / "a.jsonl", rows)
    shuffled = rows[:]
    random.Random(3).shuffle(shuffled)
    (tmp_path / "b").mkdir()
    write_jsonl(tmp_path / "b" / "a.jsonl", shuffled)
    for folder in (tmp_path, tmp_path / "b"):
        write_recipe(folder, name="det", sources=[{"path": "a.jsonl"}],
                     fields={**FIELDS, "group": "customer"},
                     split={"method": "temporal", "gap": "2d"}, output={"formats": ["parquet", "jsonl"]})
    one = _build_in_subprocess(tmp_path / "recipe.yaml", tmp_path / "o1", "1")
    two = _build_in_subprocess(tmp_path / "recipe.yaml", tmp_path / "o2", "99")
    assert one.name == two.name
    assert folder_bytes(one) == folder_bytes(two)
    three = _build_in_subprocess(tmp_path / "b" / "recipe.yaml", tmp_path / "o3", "7")
    data_files = [f for f in folder_bytes(one) if f.endswith((".parquet", ".jsonl"))]
    assert len(data_files) == 10  # 4 tables x 2 formats + dedup_clusters + audit/audit.parquet
    a, b = folder_bytes(one), folder_bytes(three)
    assert all(a[f] == b[f] for f in data_files)  # the build id hashes the input bytes, so it differs


@pytest.mark.parametrize("method", ["random", "group", "stratified"])
def test_adding_rows_moves_no_existing_row(tmp_path, method):
    old = tickets(2000)
    new = tickets(200, start=5000)
    write_jsonl(tmp_path / "old.jsonl", old)
    write_jsonl(tmp_path / "new.jsonl", old + new)
    fields = {"id": "ticket_id", "text": "{question}\n{answer}", "group": "customer",
              "label": "category"}
    if method != "group":
        fields.pop("group")
    placed = {}
    for name in ("old", "new"):
        recipe = write_recipe(tmp_path, name=name, sources=[{"path": f"{name}.jsonl"}],
                              fields=fields, split={"method": method})
        folder = build(recipe).path
        placed[name] = {i: s for n in ("train", "val", "test")
                        for i, s in zip(pq.read_table(folder / f"{n}.parquet")["sf_id"].to_pylist(),
                                        [n] * 10**6, strict=False)}
    moved = [i for i, s in placed["old"].items() if placed["new"][i] != s]
    if method == "stratified":
        assert len(moved) <= 2 * len(new)
    else:
        assert moved == []


def test_bad_input_leaves_no_output(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"ticket_id": "a", "question": "q", "answer": "x", '
                                      '"created_at": "2024-01-01"}\n{"ticket_id": "b", broken\n')
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}], fields=FIELDS)
    with pytest.raises(InputError) as info:
        build(recipe)
    assert info.value.line == 2 and "d.jsonl" in str(info.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.parquet"))


def test_failure_while_writing_leaves_no_partial_version(tmp_path, monkeypatch):
    write_jsonl(tmp_path / "d.jsonl", tickets(30))
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}], fields=FIELDS)

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("splitforge.pipeline.write_report", explode)
    with pytest.raises(OSError):
        build(recipe)
    leftovers = [p.name for p in (tmp_path / "out" / "t").iterdir()]
    assert leftovers == [".lock"]  # the lock concurrent builds wait on, and nothing else


def test_broken_guarantee_fails_the_build(tmp_path, monkeypatch):
    write_jsonl(tmp_path / "d.jsonl", tickets(60))
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}],
                          fields={**FIELDS, "group": "customer"}, split={"method": "group"})
    from splitforge.split import GroupSplitter

    original = GroupSplitter._assign

    def leaky(self, frame):
        assignment = original(self, frame)
        assignment.split[0] = (assignment.split[0] + 1) % 3  # move one row away from its group
        return assignment

    monkeypatch.setattr(GroupSplitter, "_assign", leaky)
    with pytest.raises(LeakageError):
        build(recipe)
    assert not any((tmp_path / "out").rglob("manifest.json"))


def test_skip_mode_on_real_malformed_file(tmp_path):
    src = real_data("instruct/instructionwild_v2_user_1-3.raw.jsonl")
    recipe = write_recipe(tmp_path, sources=[{"path": str(src), "on_error": "skip"}],
                          fields={"text": "instruction"})
    result = build(recipe)
    manifest = result.manifest
    assert manifest["counts"]["rows_rejected"] == 5
    assert manifest["inputs"][0]["rows_rejected"] == 5
    rejected = [json.loads(line) for line in (result.path / "rejected.jsonl").open()]
    assert len(rejected) == 5 and all(r["line"] > 0 and r["raw"] for r in rejected)


def test_commits_temporal_split_grouped_by_repo(tmp_path):
    src = real_data("temporal/oss_commit_messages.jsonl.gz")
    with gzip.open(src, "rt") as handle:
        total = sum(1 for _ in handle)
    recipe = write_recipe(tmp_path, name="commits", sources=[{"path": str(src), "on_error": "skip"}],
                          fields={"id": "sha", "text": "{subject}\n{body}", "time": "author_date",
                                  "group": "repo"},
                          split={"method": "temporal", "ratios": {"train": 0.8, "val": 0.1,
                                                                  "test": 0.1}, "gap": "7d"})
    result = build(recipe)
    folder, counts = result.path, result.manifest["counts"]
    splits = {n: pq.read_table(folder / f"{n}.parquet") for n in ("train", "val", "test")}
    removed = pq.read_table(folder / "removed.parquet")
    assert counts["rows_rejected"] == 1  # an empty commit message
    assert sum(t.num_rows for t in splits.values()) + removed.num_rows == total - 1
    repos = [set(t["repo"].to_pylist()) for t in splits.values()]
    assert not (repos[0] & repos[1]) and not (repos[0] & repos[2]) and not (repos[1] & repos[2])
    gap = timedelta(days=7)
    times = {n: t["sf_time"] for n, t in splits.items() if t.num_rows}
    if "val" in times:
        assert pc.max(times["train"]).as_py() + gap < pc.min(times["val"]).as_py()
    if "test" in times:
        assert pc.max(times["train"]).as_py() + gap < pc.min(times["test"]).as_py()
    assert counts["removed_by_reason"]["dedup:exact_duplicate"] > 50  # 89 in the 6,810-row slice
    assert counts["removed_by_reason"]["split:group_straddles_cutoff"] > 0
    # timestamps with offsets are converted to UTC
    first = splits["train"].filter(pc.equal(splits["train"]["sha"],
                                            "e83c5163316f89bfbde7d9ab23ca2e25604af290"))
    assert first["sf_time"][0].as_py() == datetime(2005, 4, 7, 22, 13, 13, tzinfo=UTC)
