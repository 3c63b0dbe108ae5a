"""Stages report their progress: one task per long step, advanced to its total."""

from collections import defaultdict
from contextlib import contextmanager

from typer.testing import CliRunner

from splitforge import build
from splitforge.cli import app
from tests.conftest import REPO


class RecordingReporter:
    def __init__(self) -> None:
        self.stages: list[str] = []
        self.totals: dict[str, int] = {}
        self.done: dict[str, int] = defaultdict(int)

    @contextmanager
    def stage(self, name):
        self.stages.append(name)
        yield self

    def task(self, description, total):
        self.totals[description] = total

        def advance(rows):
            self.done[description] += rows

        return advance


def test_normalize_and_minhash_report_every_row(tmp_path):
    reporter = RecordingReporter()
    result = build(REPO / "recipes" / "quickstart.yaml", out=tmp_path, reporter=reporter)
    loaded = result.manifest["counts"]["rows_loaded"]
    assert reporter.stages == ["fingerprint", "load", "normalize", "boilerplate", "dedup", "split",
                               "audit", "challenge", "write"]
    train = result.manifest["counts"]["splits"]["train"]
    assert reporter.totals == {"normalize": loaded, "minhash: signatures": loaded,
                               "challenge sets": 100, "audit: training rows": train}
    assert dict(reporter.done) == reporter.totals


def test_cli_shows_each_stage_with_its_time(tmp_path):
    result = CliRunner().invoke(app, ["build", str(REPO / "recipes" / "quickstart.yaml"),
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for stage in ("load", "normalize", "dedup", "split", "challenge", "audit", "write"):
        assert f"✓ {stage}" in result.output
    assert "0 contaminated" in result.output and "passed; evidence in audit/audit.md" in result.output
