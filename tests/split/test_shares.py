"""Temporal splits give the shares the recipe asks for, counted on the rows they keep, and warn
(with a fix that works) when they drop more than 5% of the rows."""

import gzip
import json
from datetime import datetime

import numpy as np
import pytest
from typer.testing import CliRunner

from splitforge import build
from splitforge.cli import app
from splitforge.recipe import SplitConfig
from splitforge.split import SplitFrame, make_splitter
from tests.conftest import real_data, write_jsonl, write_recipe
from tests.split.conftest import assert_valid, frame_from_days

COMMITS = "temporal/oss_commit_messages.jsonl.gz"


def _commits() -> list[dict]:
    return [json.loads(line) for line in gzip.open(real_data(COMMITS), "rt")]


def _frame(rows: list[dict], group: str | None) -> SplitFrame:
    ids = np.array([r["sha"] for r in rows], dtype=object)
    times = np.array([int(datetime.fromisoformat(r["commit_date"]).timestamp() * 10**6)
                      for r in rows], dtype=np.int64)
    groups = None if group is None else np.array([r[group] for r in rows], dtype=object)
    return SplitFrame(ids, ids.copy(), groups, None, times)


def _shares(assignment) -> dict[str, float]:
    rows = assignment.info["rows"]
    kept = sum(rows.values())
    return {name: n / kept for name, n in rows.items()}


@pytest.mark.parametrize(("group", "gap"), [("repo", "3d"), ("repo", None), ("author", "3d"),
                                            (None, "3d")])
def test_real_commits_meet_the_ratios_within_one_point(group, gap):
    frame = _frame(_commits(), group)
    config = SplitConfig(method="temporal", gap=gap)
    assignment = make_splitter(config, 0).assign(frame)
    assert_valid(frame, config, assignment)
    for name, want in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        assert abs(_shares(assignment)[name] - want) <= 0.01, (name, assignment.info)


def test_straddling_groups_warn_and_the_suggested_fixes_work():
    rows = _commits()
    by_repo = make_splitter(SplitConfig(method="temporal", gap="3d"), 0).assign(
        _frame(rows, "repo"))
    dropped = sum(by_repo.info["dropped"].values())
    assert dropped > 0.05 * len(rows)  # repositories live for years: most straddle a cutoff
    [warning] = by_repo.info["warnings"]
    assert "group_straddles_cutoff" in warning and f"dropped {dropped} of {len(rows)}" in warning
    assert "map a finer fields.group" in warning and "split.method: group" in warning
    # The first fix: a finer group (the author) drops fewer rows.
    by_author = make_splitter(SplitConfig(method="temporal", gap="3d"), 0).assign(
        _frame(rows, "author"))
    assert sum(by_author.info["dropped"].values()) < dropped
    # The second: a group split drops nothing.
    grouped = make_splitter(SplitConfig(method="group"), 0).assign(_frame(rows, "repo"))
    assert not grouped.info["dropped"] and "warnings" not in grouped.info


def test_a_long_gap_warns_and_a_shorter_one_does_not():
    frame = frame_from_days(np.arange(200) / 4)  # 50 days, 4 rows a day
    long = make_splitter(SplitConfig(method="temporal", gap="2d"), 0).assign(frame)
    [warning] = long.info["warnings"]
    assert "temporal_gap" in warning and "shorten split.gap" in warning
    short = make_splitter(SplitConfig(method="temporal", gap="12h"), 0).assign(frame)
    assert "warnings" not in short.info
    for result in (long, short):
        shares = _shares(result)
        assert abs(shares["val"] - 0.1) <= 0.01 and abs(shares["test"] - 0.1) <= 0.01


def test_explicit_cutoffs_are_kept_as_given():
    frame = frame_from_days(range(100))
    config = SplitConfig(method="temporal", cutoffs={"val": "2024-03-01", "test": "2024-03-21"})
    result = make_splitter(config, 0).assign(frame)
    assert result.info["cutoffs"]["val"].startswith("2024-03-01")
    assert result.info["cutoffs"]["test"].startswith("2024-03-21")


def test_chained_clusters_across_cutoffs_warn_and_turning_minhash_off_fixes_it(tmp_path):
    # Twenty chains of rewordings of real GSM8K questions (each row like the one before), each
    # spread over the whole month, among real commit subjects.
    questions = [json.loads(line)["question"] for line in
                 open(real_data("eval/gsm8k_test.jsonl"), encoding="utf-8")][:20]
    rows = []
    for q, question in enumerate(questions):
        current = question.split()
        for i in range(12):
            current = list(current)
            for j in range(4):  # four words a step: a row is like its neighbours only
                current[(i * 4 + j * 11) % len(current)] = f"w{i}x{j}"
            day, hour = divmod(i * 55 + q * 3, 24)
            rows.append({"id": f"chain{q}-{i:02d}", "text": " ".join(current),
                         "time": f"2024-01-{1 + day:02d}T{hour:02d}:00:00Z"})
    subjects = [r["subject"] for r in _commits()][:100]
    rows += [{"id": f"s{i:03d}", "text": s,
              "time": f"2024-01-{1 + i * 30 // 100:02d}T{i % 8 * 3:02d}:00:00Z"}
             for i, s in enumerate(subjects)]
    write_jsonl(tmp_path / "d.jsonl", rows)
    fields = {"id": "id", "text": "text", "time": "time"}
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}], fields=fields,
                          dedup={"exact": True, "minhash": {"threshold": 0.5},
                                 "max_cluster_share": 1.0},
                          split={"method": "temporal"})
    result = CliRunner().invoke(app, ["build", str(recipe)])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "cluster_straddles_cutoff" in result.output
    assert "turn dedup.minhash off" in result.output
    assert "duplicate clusters grew by chaining" in " ".join(result.output.split())
    report = next((tmp_path / "out").rglob("report.md")).read_text(encoding="utf-8")
    assert "grew by chaining" in report and "weakest link" in report
    off = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}], fields=fields,
                       dedup={"exact": True}, split={"method": "temporal"})
    built = build(off)
    assert "warnings" not in built.manifest["stages"]["split"]
    assert "cluster_straddles_cutoff" not in built.manifest["stages"]["split"]["dropped"]


def test_the_fit_never_empties_a_split_to_meet_the_others():
    # Small clumpy data (found in review): the fit once traded val and test away entirely.
    days = [7, 7, 18, 7, 17, 3, 6, 3, 12, 3, 1, 16, 16, 4, 3]
    groups = ["g4", "g0", "g1", "g0", "g0", "g1", "g3", "g1", "g2", "g4", "g0", "g2", "g0",
              "g2", "g3"]
    frame = frame_from_days(days, groups=groups)
    config = SplitConfig(method="temporal", gap="3d")
    result = make_splitter(config, 0).assign(frame)
    assert_valid(frame, config, result)
    assert all(n > 0 for n in result.info["rows"].values()), result.info["rows"]
