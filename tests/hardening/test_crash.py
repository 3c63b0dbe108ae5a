"""Crash consistency (#16, #24 item 5): builds killed with SIGKILL in every stage leave no visible
partial version and a good ``latest``; SIGTERM and Ctrl-C stop every worker, remove the staging
folder, print one line and exit 143 or 130; a stale staging folder is cleaned by the next run;
a second build of the same recipe waits for the first instead of redoing it."""

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
from typer.testing import CliRunner

from splitforge.cli import app
from tests.conftest import REPO, real_data, write_jsonl, write_recipe

STAGES = ("fingerprint", "load", "normalize", "boilerplate", "dedup", "split", "audit",
          "challenge", "write")
# Small data, but the stages that can use worker processes do: the thresholds are lowered.
LAUNCH = ("import sys; import splitforge.normalize.text as t; t.PARALLEL_ABOVE = 500; "
          "from splitforge.dedup.minhash import MinHashDeduper as M; M.parallel_above = 500; "
          "from splitforge.cli import main; sys.argv = ['splitforge'] + sys.argv[1:]; main()")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crash")
    rows = [r for r in map(json.loads, gzip.open(real_data("temporal/oss_commit_messages"
                                                           ".jsonl.gz"), "rt"))
            if r["subject"].strip()][:1200]
    write_jsonl(folder / "d.jsonl", [{"id": r["sha"], "text": r["subject"] + "\n" + r["body"],
                                      "time": r["commit_date"]} for r in rows])
    return write_recipe(folder, name="c", sources=[{"path": "d.jsonl"}],
                        fields={"id": "id", "text": "text", "time": "time"},
                        dedup={"exact": True, "minhash": {"num_proc": 2}},
                        split={"method": "temporal", "gap": "1d"},
                        challenge={"size": 40}, output={"dir": str(folder / "out"),
                                                        "formats": ["parquet", "jsonl"],
                                                        "cache": False})  # kill every stage


def _start(recipe, *args):
    return subprocess.Popen([sys.executable, "-c", LAUNCH, "build", str(recipe), *args],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def _wait_for(proc, line_start: str, timeout: float = 60) -> bool:
    """Read the build's output until a line starts with ``line_start`` (True) or it ends."""
    found = threading.Event()

    def read():
        for line in proc.stdout:
            if line.strip().startswith(line_start):
                found.set()
                return
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return found.is_set()


def _group_gone(pgid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def _visible_versions(root):
    return sorted(p for p in root.iterdir() if not p.name.startswith(".") and p.name != "latest"
                  ) if root.exists() else []


def _check_consistent(root, verified=None):
    """Every visible version verifies (each folder once: ``verified`` holds name and inode)."""
    runner = CliRunner()
    verified = set() if verified is None else verified
    for version in _visible_versions(root):
        key = (version.name, version.stat().st_ino)
        if key in verified:
            continue
        result = runner.invoke(app, ["verify", str(version)])
        assert result.exit_code == 0, (version, result.output)
        verified.add(key)
    latest = root / "latest"
    if latest.exists() or latest.is_symlink():
        assert latest.resolve().is_dir() and (latest.resolve() / "manifest.json").is_file()


def test_sigkill_in_every_stage_leaves_no_partial_version(recipe):
    root = recipe.parent / "out" / "c"
    rng = random.Random(11)
    kills = [(stage, None) for stage in STAGES] + [(None, rng.uniform(0.2, 1.5))
                                                   for _ in range(11)]  # 20 kills
    killed_in, verified = set(), set()
    for stage, delay in kills:
        proc = _start(recipe, "--force", "--seed", str(rng.randrange(3)))
        if stage is not None:
            before = STAGES[STAGES.index(stage) - 1] if stage != "fingerprint" else None
            if before is None or _wait_for(proc, f"✓ {before}"):
                killed_in.add(stage)
        else:
            time.sleep(delay)
        proc.kill()  # the main process only, as the OOM killer or a crash would
        proc.wait()
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # orphaned workers of a SIGKILL are not ours
        except ProcessLookupError:
            pass
        _check_consistent(root, verified)
    assert killed_in == set(STAGES)
    done = _start(recipe)
    output, _ = done.communicate(timeout=120)
    assert done.returncode == 0, output
    _check_consistent(root)
    assert not [p for p in root.iterdir() if p.name.startswith(".tmp-")], "stale staging left"


@pytest.mark.parametrize(("sig", "code", "name", "stage"), [
    (signal.SIGTERM, 143, "SIGTERM", "load"),  # workers normalizing
    (signal.SIGINT, 130, "Ctrl-C", "audit"),  # workers scanning the training side
])
def test_sigterm_and_ctrl_c_stop_every_worker_and_clean_up(recipe, sig, code, name, stage):
    root = recipe.parent / "out" / "c"
    proc = _start(recipe, "--force", "--seed", "5")
    assert _wait_for(proc, f"✓ {stage}")
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # Ctrl-C reaches the whole foreground group
    else:
        proc.send_signal(sig)  # docker stop and CI timeouts signal the main process
    rest = proc.stdout.read()
    assert proc.wait(timeout=60) == code, rest
    assert f"interrupted ({name})" in rest and "Traceback" not in rest
    assert _group_gone(proc.pid), "a worker or resource tracker outlived the build"
    assert not [p for p in root.iterdir() if p.name.startswith(".tmp-")]
    _check_consistent(root)


def test_a_second_build_waits_and_says_nothing_changed(tmp_path):
    rows = [{"id": f"r{i}", "text": f"ticket {i} about the export page failing on {i % 7}"}
            for i in range(400)]
    write_jsonl(tmp_path / "d.jsonl", rows)
    recipe = write_recipe(tmp_path, name="w", sources=[{"path": "d.jsonl"}],
                          fields={"id": "id", "text": "text"})
    first, second = _start(recipe), _start(recipe)
    outputs = [p.communicate(timeout=120)[0] for p in (first, second)]
    assert first.returncode == second.returncode == 0, outputs
    assert sum("nothing changed" in o for o in outputs) == 1, outputs
    assert len(_visible_versions(tmp_path / "out" / "w")) == 1


def test_stale_cleanup_spares_a_live_folder_and_restores_a_half_replaced_version(tmp_path):
    from splitforge.write.version import MARKER, remove_stale, staging_folder

    root = tmp_path / "out" / "n"
    with staging_folder(root, "abc") as live:
        # Another container: a pid this namespace does not know, but the folder is locked.
        alien = live.with_name(live.name.replace(f"-{os.getpid()}-", "-999999-"))
        live.rename(alien)
        assert remove_stale(root) == [] and alien.is_dir()
        alien.rename(live)
    # A run killed between the two renames of a --force replace: the old version is put back.
    old = root / ".old-v1-999999-deadbeef"
    old.mkdir(parents=True)
    (old / MARKER).write_text("splitforge build\n", encoding="utf-8")
    dead = root / ".tmp-v2-999999-deadbeef"
    dead.mkdir()
    (dead / MARKER).write_text("splitforge build\n", encoding="utf-8")
    assert sorted(p.name for p in remove_stale(root)) == [old.name, dead.name]
    assert (root / "v1" / MARKER).is_file() and not dead.exists()
