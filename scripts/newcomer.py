"""Replay issue #18's newcomer tries on ../shared/data and print what each one checked.

Each check runs in its own temporary folder, as a new user would: the CLI as subprocesses, the
Python API where the issue used Python. One line per check:

    PASS  <what was checked>: <the figure that shows it>
    FAIL  <what was checked>: <the figure that shows it>

(indented lines below a check give its details: the build's warnings, the `diff` lines), then a
summary; the exit code is 1 when any check failed, else 0.

    .venv/bin/python scripts/newcomer.py [--clone] [--only 2,5] [--keep]

`--clone` adds check 1 (a fresh `git clone` of HEAD, without ../shared beside it, and its test
suite: about 5 minutes); without it the run takes about 2-3 minutes on 2 cores. `--only` runs the
checks with these numbers; `--keep` leaves the temporary folder in place (its path is printed).
scripts/newcomer.sh is the wrapper that checks ../shared/data is there first.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
QUICKSTART = ROOT / "recipes" / "quickstart.yaml"
SAMPLE = ROOT / "data" / "oss_commits_sample.jsonl"
LLAMAFACTORY = DATA / "formats" / "llamafactory"
PY = Path(sys.executable).absolute()  # the venv's python, not resolved out of the venv
ENV = {**os.environ, "COLUMNS": "400", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


@dataclass
class Outcome:
    """What one check found: passed (None: skipped), the figure, and detail lines."""

    ok: bool | None
    figure: str
    details: list[str] = field(default_factory=list)


@dataclass
class Check:
    """One check: its number, a short name, what it checks, and the function that runs it."""

    number: int
    name: str
    what: str
    run: Callable[[Path, argparse.Namespace], Outcome]


# ---------------------------------------------------------------------------------------------
# helpers


def splitforge_cmd() -> list[str]:
    """The `splitforge` executable beside this Python (the repo's .venv), else `-m splitforge`."""
    beside = PY.with_name("splitforge")
    return [str(beside)] if beside.exists() else [str(PY), "-m", "splitforge"]


def sf(*args: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run `splitforge ARGS` in `cwd`, capturing its output."""
    return subprocess.run([*splitforge_cmd(), *map(str, args)], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def output_dir(proc: subprocess.CompletedProcess[str], cwd: Path) -> Path | None:
    """The build folder of a `splitforge build` run: its last `output: PATH` line."""
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("output: "):
            path = Path(line[len("output: "):].strip())
            path = path if path.is_absolute() else cwd / path
            return path if (path / "manifest.json").is_file() else None
    return None


def build(recipe: Path, out: Path, *extra: str, cwd: Path) -> tuple[int, Path | None, str]:
    """`splitforge build RECIPE --out OUT EXTRA`: exit code, build folder, stdout + stderr."""
    proc = sf("build", recipe, "--out", out, *extra, cwd=cwd)
    return proc.returncode, output_dir(proc, cwd), proc.stdout + proc.stderr


def manifest(folder: Path) -> dict[str, Any]:
    """A build folder's manifest.json."""
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def tail(text: str, n: int = 300) -> str:
    """The last `n` characters of a command's output on one line; a traceback's last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if "Traceback (most recent call last)" in text and lines:
        return f"TRACEBACK ending in {lines[-1][:n]}"
    return " ".join(text.split())[-n:]


def quickstart_copy(tmp: Path, source: Path, **changes: Any) -> Path:
    """recipes/quickstart.yaml with an absolute source path (and top-level keys changed).

    A key set to None is dropped.
    """
    recipe = yaml.safe_load(QUICKSTART.read_text(encoding="utf-8"))
    recipe["sources"][0]["path"] = str(source)
    recipe["output"]["dir"] = str(tmp / "out")
    for key, value in changes.items():
        if value is None:
            recipe.pop(key, None)
        else:
            recipe[key] = value
    path = tmp / "quickstart.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows as JSON Lines."""
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def gz_head(path: Path, n: int) -> list[dict[str, Any]]:
    """The first `n` rows of a gzipped JSONL file."""
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
            if len(rows) == n:
                break
    return rows


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    return struct.unpack(">II", head[16:24])


def splits(m: dict[str, Any]) -> str:
    """`train/val/test` row counts of a manifest."""
    s = m["counts"]["splits"]
    return "/".join(f"{s.get(k, 0):,}" for k in ("train", "val", "test"))


# ---------------------------------------------------------------------------------------------
# the checks


def pytest_summary(stdout: str) -> tuple[str, list[str]]:
    """Pytest's count line ("3 passed in 1s"), or under -qq -x the passes before the failure."""
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    counted = [ln for ln in lines
               if re.match(r"^=*\s*\d+ (passed|failed|errors?|skipped|deselected)\b", ln)]
    if counted:
        return counted[-1].strip("= "), lines
    progress = "".join(m.group(1) for ln in lines
                       if (m := re.match(r"^([.sFExX]+)(\s+\[\s*\d+%\])?$", ln)))
    failed = [ln.split(" - ")[0] for ln in lines if ln.startswith(("FAILED", "ERROR"))]
    if failed:  # -x under -qq prints no count line
        return f"stopped after {progress.count('.')} passed at {failed[0]}", lines
    return "", lines


def check_clone(tmp: Path, args: argparse.Namespace) -> Outcome:
    """1. A fresh clone of HEAD, with no ../shared beside it, passes its own test suite."""
    if not args.clone:
        return Outcome(None, "skipped (takes ~5 min; run with --clone)")
    clone = tmp / "clone" / "splitforge"  # tmp/clone holds no `shared` folder
    proc = subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)],
                          capture_output=True, text=True, env=ENV)
    if proc.returncode != 0:
        return Outcome(False, f"git clone exit {proc.returncode}: {tail(proc.stderr)}")
    head = subprocess.run(["git", "-C", str(clone), "log", "-1", "--format=%h"],
                          capture_output=True, text=True).stdout.strip()
    env = {**ENV, "PYTHONPATH": str(clone), "COLUMNS": "120"}
    proc = subprocess.run([str(PY), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=1800)
    summary, lines = pytest_summary(proc.stdout)
    summary = summary or tail(proc.stdout + proc.stderr)
    bad = re.search(r"\b(failed|errors?)\b", summary)
    details = [] if proc.returncode == 0 else [ln for ln in lines
                                               if ln.startswith(("FAILED", "ERROR", "E  "))][:12]
    return Outcome(proc.returncode == 0 and not bad,
                   f"clone of {head}, pytest exit {proc.returncode}: {summary}", details)


def check_report(tmp: Path, args: argparse.Namespace) -> Outcome:
    """2. The quickstart's report.html: verdict, shares, removals, the skew warning; chromium."""
    rc, folder, log = build(QUICKSTART, tmp / "out", cwd=tmp)
    if rc != 0 or folder is None:
        return Outcome(False, f"build exit {rc}: {tail(log)}")
    html = (folder / "report.html").read_text(encoding="utf-8")
    m = manifest(folder)
    verdicts = m["stages"]["audit"].get("verdicts") or {}
    found = {
        "verdict with counts": bool(re.search(r"class=verdict>Audit of [\d,]+ val/test items "
                                              r"against [\d,]+ training rows: \d+ contaminated, "
                                              r"\d+ suspect, [\d,]+ clean", html)),
        "requested column": "<th>requested</th>" in html,
        "removals by reason": all(f"<td>{reason.split(':')[1]}</td>" in html
                                  for reason in m["counts"]["removed_by_reason"]),
        "repo warning": bool(re.search(r"<strong>Warning:</strong> test is \d+% one value of "
                                       r"field &#x27;repo&#x27;", html)),
    }
    verdict = re.search(r"class=verdict>([^<]*)</p>", html)
    details = [f"verdict: {verdict.group(1) if verdict else '(none)'}"]
    details += [f"warning: {w}" for w in m["stages"]["split"]["warnings"]]
    chromium = shutil.which(os.environ.get("CHROMIUM", "chromium"))
    if chromium is None:
        shot = "chromium not found: DOM and screenshot skipped"
        dom_ok = True
    else:
        flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 f"--user-data-dir={tmp / 'chromium-profile'}", "--window-size=1280,2000"]
        url = (folder / "report.html").resolve().as_uri()
        dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True,
                             timeout=120)
        dom_ok = "data-summary" in dom.stdout and "<strong>Warning:</strong>" in dom.stdout
        png = tmp / "report.png"
        subprocess.run([*flags, "--force-device-scale-factor=1", f"--screenshot={png}", url],
                       capture_output=True, text=True, timeout=120)
        if png.is_file() and png.stat().st_size > 0:
            width, height = png_size(png)
            shot_ok = width == 1280
            shot = (f"DOM {'has' if dom_ok else 'LACKS'} data-summary ({len(dom.stdout):,} chars),"
                    f" screenshot {width}x{height} px ({png.stat().st_size:,} bytes)")
            dom_ok = dom_ok and shot_ok
            details.append(f"screenshot: {png}")
        else:
            dom_ok, shot = False, f"no screenshot written (DOM has data-summary: {dom_ok})"
    missing = [k for k, v in found.items() if not v]
    figure = (f"{'all of ' if not missing else 'MISSING ' + ', '.join(missing) + '; of '}"
              f"{', '.join(found)} in {len(html):,} bytes (audit {verdicts.get('contaminated')} "
              f"contaminated, {verdicts.get('suspect')} suspect); {shot}")
    return Outcome(not missing and dom_ok, figure, details)


def check_datasets_cache(tmp: Path, args: argparse.Namespace) -> Outcome:
    """3. Two builds loaded through `latest` with one datasets cache each give their own rows."""
    import pandas as pd

    out = tmp / "out"
    runs = {"quickstart": [], "other": ["--split.ratios", "{train: 0.6, val: 0.2, test: 0.2}",
                                        "--name", "other"]}
    for name, extra in runs.items():
        rc, folder, log = build(QUICKSTART, out, *extra, cwd=tmp)
        if rc != 0 or folder is None:
            return Outcome(False, f"build {name} exit {rc}: {tail(log)}")
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    cache = tmp / "hf-cache"
    parts, ok = [], True
    for name in runs:
        latest = out / name / "latest"
        loaded = datasets.load_dataset(str(latest), cache_dir=str(cache))
        got = list(loaded["train"]["sf_id"])
        want = pd.read_parquet(latest / "train.parquet")["sf_id"].tolist()
        same = got == want
        ok = ok and same
        parts.append(f"{name} train {len(got):,} ids {'==' if same else '!='} train.parquet "
                     f"{len(want):,}")
    return Outcome(ok, "; ".join(parts) + f" (one cache: {cache.name})")


def check_commit_subjects(tmp: Path, args: argparse.Namespace) -> Outcome:
    """4. Commit subjects (HN-like titles) by author, group split: its warnings."""
    source = DATA / "temporal" / "oss_commit_messages.jsonl.gz"
    rows = gz_head(source, 20_000)
    fields = list(rows[0])
    author = "author" if "author" in fields else next(
        k for k in fields if "author" in k and "date" not in k)
    date = "author_date" if "author_date" in fields else next(k for k in fields if "date" in k)
    data = write_jsonl(tmp / "subjects.jsonl",
                       [{"id": r["sha"], "subject": r["subject"], "author": r[author],
                         "date": r[date]} for r in rows])
    # on_error: skip, as the error on the first empty subject advises (rejected.jsonl)
    recipe = {"name": "commit-subjects", "seed": 7,
              "sources": [{"path": str(data), "on_error": "skip"}],
              "fields": {"id": "id", "text": "subject", "group": "author"},
              "split": {"method": "group", "ratios": {"train": 0.8, "val": 0.1, "test": 0.1}},
              "output": {"dir": "out"}}
    path = tmp / "subjects.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    rc, folder, log = build(path, tmp / "out", cwd=tmp)
    details = [f"fields of {source.name}: {', '.join(fields)} (group: {author!r})"]
    if rc != 0 or folder is None:
        return Outcome(False, f"build exit {rc}: {tail(log)}", details)
    m = manifest(folder)
    warnings = m["stages"]["split"].get("warnings", [])
    details += [f"warning: {w}" for w in warnings] or ["no warnings"]
    details.append(one_row_groups(folder))
    authors = len({r[author] for r in rows})
    one_time = any("one-time" in w for w in warnings)
    rejected = m["counts"].get("rows_rejected", 0)
    return Outcome(True, f"exit 0, {len(rows):,} subjects ({rejected} rejected: empty) of "
                         f"{authors:,} authors, train/val/test "
                         f"{splits(m)}, {len(warnings)} warning(s), one-time-poster warning: "
                         f"{'yes' if one_time else 'no'}", details)


def one_row_groups(folder: Path) -> str:
    """Per split, the share of rows whose group has one row in the splits (one-time posters)."""
    import pandas as pd

    frames = {k: pd.read_parquet(folder / f"{k}.parquet", columns=["sf_group"])
              for k in ("train", "val", "test")}
    sizes = pd.concat(frames.values())["sf_group"].value_counts()
    shares = [f"{k} {(f['sf_group'].map(sizes) == 1).mean():.0%}" for k, f in frames.items()
              if len(f)]
    return "rows whose author has one row: " + ", ".join(shares)


def check_diff_refresh(tmp: Path, args: argparse.Namespace) -> Outcome:
    """5. `splitforge diff` after a 5% refresh of the quickstart data explains the new rows."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    cut = int(len(lines) * 0.95)
    data = tmp / "commits.jsonl"
    data.write_text("".join(lines[:cut]), encoding="utf-8")
    recipe = quickstart_copy(tmp, data)
    rc, old, log = build(recipe, tmp / "out", cwd=tmp)
    if rc != 0 or old is None:
        return Outcome(False, f"old build exit {rc}: {tail(log)}")
    data.write_text("".join(lines), encoding="utf-8")  # the refresh: all lines
    rc, new, log = build(recipe, tmp / "out", cwd=tmp)
    if rc != 0 or new is None:
        return Outcome(False, f"new build exit {rc}: {tail(log)}")
    human = sf("diff", old, new, cwd=tmp)
    proc = sf("diff", old, new, "--json", cwd=tmp)
    if proc.returncode != 0 or human.returncode != 0:
        return Outcome(False, f"diff exit {human.returncode}, --json exit {proc.returncode}: "
                              f"{tail(proc.stderr + human.stderr)}")
    d = json.loads(proc.stdout)
    new_rows, added = d.get("new_rows", {}), d.get("items", {}).get("added", {})
    changed = d.get("split", {}).get("changed", {})
    has = {
        "new_rows count/kept/removed": all(k in new_rows for k in ("count", "kept", "removed")),
        "transitions": "transitions" in d,
        "split.changed cutoffs": any(k.startswith("cutoffs.") for k in changed),
    }
    total = added.get("new_in_data", 0) + added.get("was_removed", 0)
    adds_up = added.get("count") == total
    details = [ln for ln in human.stdout.splitlines()
               if ln.startswith(("added", "new rows", "split", "moved"))]
    missing = [k for k, v in has.items() if not v]
    figure = (f"{cut:,} -> {len(lines):,} lines; added {added.get('count')} = "
              f"{added.get('new_in_data')} new in the data + {added.get('was_removed')} "
              f"removed before ({'adds up' if adds_up else 'DOES NOT add up'}); "
              f"new rows {new_rows.get('count')} (kept {new_rows.get('kept', {}).get('count')}, "
              f"removed {new_rows.get('removed', {}).get('count')}); changed: "
              f"{', '.join(changed) or 'none'}"
              + (f"; MISSING {', '.join(missing)}" if missing else ""))
    return Outcome(adds_up and not missing, figure, details)


def check_python_api(tmp: Path, args: argparse.Namespace) -> Outcome:
    """6. build / audit / dedup from Python on a DataFrame (alpaca_en_demo.json)."""
    import pandas as pd

    import splitforge

    df = pd.read_json(LLAMAFACTORY / "alpaca_en_demo.json")
    recipe = {"name": "alpaca-api", "seed": 7,
              "sources": [{"data": df, "formatting": "alpaca", "name": "alpaca"}],
              "split": {"method": "random", "ratios": {"train": 0.8, "val": 0.1, "test": 0.1}}}
    first = splitforge.build(recipe, out=tmp / "out")
    again = splitforge.build(recipe, out=tmp / "out")
    built = first.status == "built" and first.manifest is not None
    unchanged = (again.status == "unchanged" and again.manifest is not None
                 and again.build_id == first.build_id)
    audit = splitforge.audit(train=df.iloc[:800], eval=df.iloc[700:],
                             text="{instruction}\n{input}\n{output}")
    verdicts = audit.summary.get("verdicts", {})
    contaminated = int(verdicts.get("contaminated", 0))
    kept = splitforge.dedup(df, text="instruction", out=tmp / "dedup-out")
    dedup_ok = (tmp / "dedup-out" / "deduplicated.parquet").is_file()
    stats = kept.stats
    ok = built and unchanged and contaminated >= 100 and dedup_ok
    rows = splits(first.manifest) if first.manifest else "no manifest"
    figure = (f"build {first.status} {first.build_id} ({rows}),"
              f" again {again.status} with manifest {again.manifest is not None}; audit of "
              f"{len(df) - 700} eval rows (100 in train): {contaminated} contaminated "
              f"(want >= 100), failed={audit.failed}; dedup removed "
              f"{stats.get('rows_removed')} of {len(df)}, deduplicated.parquet "
              f"{'written' if dedup_ok else 'MISSING'}")
    return Outcome(ok, figure, [f"audit verdicts: {verdicts}"])


def check_fields_templates(tmp: Path, args: argparse.Namespace) -> Outcome:
    """7. Nested fields and an optional {system?} in a template; a bad fields.group."""
    topics = ["rust", "sql", "yaml", "git", "docker", "numpy", "regex", "http", "css", "bash"]
    rows = [{"q": f"How do I use {topics[i % 10]} for task number {i} in my project?",
             "meta": {"title": f"{topics[i % 10]} question {i}"},
             "system": None if i % 3 else "You are a helpful assistant. ",
             "user": f"user{i % 7}"} for i in range(60)]
    write_jsonl(tmp / "nested.jsonl", rows)
    recipe = tmp / "r.yaml"
    recipe.write_text("name: nested\nsources:\n  - path: nested.jsonl\n"
                      "fields:\n  text: \"{system?}{q} ({meta.title})\"\n"
                      "split:\n  method: random\n", encoding="utf-8")
    rc, folder, log = build(recipe, tmp / "out", cwd=tmp)
    built = rc == 0 and folder is not None
    rows_out = f"train/val/test {splits(manifest(folder))}" if built else tail(log, 200)
    proc = sf("validate", recipe, "--fields.group", "{user}", cwd=tmp)
    said = (proc.stdout + proc.stderr).strip()
    clean = "Traceback" not in said and "fields.group" in said
    ok = built and proc.returncode == 2 and clean
    frames = [re.sub(r'File ".*/(splitforge/[^"]+)"', r"\1", ln.strip())
              for ln in log.splitlines() if re.match(r'\s*File ".*/splitforge/', ln)]
    details = [f"traceback: {f}" for f in frames[-5:]]
    return Outcome(ok, f"build exit {rc} ({rows_out}); validate --fields.group "
                       f"'{{user}}' exit {proc.returncode} (want 2), "
                       f"{'names fields.group, no traceback' if clean else 'NO fields.group error'}"
                       f": {tail(said, 200)}", details)


def check_chat_challenge(tmp: Path, args: argparse.Namespace) -> Outcome:
    """8. glaive_toolcall_en_demo.json via init --format sharegpt, then challenge: {size: 40}."""
    source = LLAMAFACTORY / "glaive_toolcall_en_demo.json"
    recipe = tmp / "chat.yaml"
    proc = sf("init", recipe, "--format", "sharegpt", "--source", source, cwd=tmp)
    if proc.returncode != 0:
        return Outcome(False, f"init exit {proc.returncode}: {tail(proc.stdout + proc.stderr)}")
    with recipe.open("a", encoding="utf-8") as f:  # the user's edit
        f.write("\nchallenge: {size: 40}\n")
    rc, folder, log = build(recipe, tmp / "out", cwd=tmp)
    if rc != 0 or folder is None:
        return Outcome(False, f"build exit {rc}: {tail(log)}")
    ch = manifest(folder)["stages"].get("challenge", {})
    picked = ch.get("picked", {})
    notes = ch.get("redistributed", [])
    temporal = [n for n in notes if n.startswith("temporal")]
    says_time = any("set fields.time" in n for n in temporal)
    vague = any("too few candidates" in n for n in temporal)
    ok = picked.get("adversarial", 0) > 0 and says_time and not vague
    return Outcome(ok, f"{ch.get('candidates')} held-out candidates for size {ch.get('size')}, "
                       f"picked {picked}; temporal note "
                       f"{'names the missing time field' if says_time and not vague else 'WRONG'}",
                   [f"note: {n}" for n in notes] or ["no notes"])


def check_chinese(tmp: Path, args: argparse.Namespace) -> Outcome:
    """9. 2,000 Chinese Alpaca rows, a text template and challenge: {size: 50}: zh_* noise."""
    source = DATA / "instruct" / "alpaca_en_zh_52k.jsonl.gz"
    rows = gz_head(source, 2_000)
    zh = [k for k in rows[0] if k.startswith("zh_")]
    write_jsonl(tmp / "zh.jsonl", rows)
    recipe = tmp / "zh.yaml"
    recipe.write_text("name: alpaca-zh\nseed: 7\nsources:\n  - path: zh.jsonl\n"
                      "fields:\n  text: \"{zh_instruction}\\n{zh_input}\\n{zh_output}\"\n"
                      "split:\n  method: random\nchallenge: {size: 50}\n", encoding="utf-8")
    rc, folder, log = build(recipe, tmp / "out", cwd=tmp)
    details = [f"fields: {', '.join(rows[0])} (template over {', '.join(zh)})"]
    if rc != 0 or folder is None:
        return Outcome(False, f"build exit {rc}: {tail(log)}", details)
    ch = manifest(folder)["stages"].get("challenge", {})
    adv = ch.get("kinds", {}).get("adversarial", {})
    perturbations = adv.get("perturbations", {})
    latin = [k for k in perturbations if not k.startswith("zh_")]
    n = ch.get("picked", {}).get("adversarial", 0)
    ok = n > 0 and bool(perturbations) and not latin
    details += [f"note: {x}" for x in ch.get("redistributed", [])]
    return Outcome(ok, f"exit 0, train/val/test {splits(manifest(folder))}, {n} adversarial items "
                       f"on {adv.get('fields')}: {perturbations}"
                       + (f"; NOT zh_*: {', '.join(latin)}" if latin else ""), details)


def check_failed_gate(tmp: Path, args: argparse.Namespace) -> Outcome:
    """10. on_contaminated: fail with a test row copied into audit.against: exit 1, report kept."""
    import pandas as pd

    first = quickstart_copy(tmp, SAMPLE, challenge=None)
    rc, folder, log = build(first, tmp / "out-first", cwd=tmp)
    if rc != 0 or folder is None:
        return Outcome(False, f"first build exit {rc}: {tail(log)}")
    test = pd.read_parquet(folder / "test.parquet")
    words = (test["subject"] + " " + test["body"]).str.split().str.len()
    row = test.loc[words.idxmax()]  # a long one: a verbatim copy is contaminated, not suspect
    original = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()
                if not k.startswith("sf_")}
    against = write_jsonl(tmp / "against.jsonl", [original])
    gated = quickstart_copy(tmp, SAMPLE, challenge=None,
                            audit={"against": [str(against)], "on_contaminated": "fail"})
    rc, _, log = build(gated, tmp / "out", cwd=tmp)
    reports = sorted((tmp / "out").glob("*/audits/*/gate/audit.md"))
    sha = str(row["sf_id"])
    named = bool(reports) and sha[:10] in reports[0].read_text(encoding="utf-8")
    error = next((ln for ln in log.splitlines() if "gate" in ln.lower()), tail(log, 200))
    ok = rc == 1 and named
    where = reports[0].relative_to(tmp) if reports else "no gate/audit.md"
    return Outcome(ok, f"exit {rc} (want 1); {where} "
                       f"{'names' if named else 'does NOT name'} test row {sha[:12]}",
                   [f"error: {error.strip()[:300]}"])


CHECKS = [
    Check(1, "clone", "fresh clone of HEAD without ../shared passes its tests", check_clone),
    Check(2, "report", "quickstart report.html summary box, DOM and 1280px screenshot",
          check_report),
    Check(3, "datasets-cache", "two builds through `latest` and one datasets cache",
          check_datasets_cache),
    Check(4, "commit-subjects", "20,000 commit subjects grouped by author build",
          check_commit_subjects),
    Check(5, "diff-refresh", "diff --json after a 5% refresh of the quickstart data",
          check_diff_refresh),
    Check(6, "python-api", "Python build/audit/dedup on a DataFrame", check_python_api),
    Check(7, "fields-templates", "nested fields, {system?} template, bad fields.group",
          check_fields_templates),
    Check(8, "chat-challenge", "sharegpt tool-call chats with challenge: {size: 40}",
          check_chat_challenge),
    Check(9, "chinese", "Chinese SFT rows get zh_* adversarial perturbations", check_chinese),
    Check(10, "failed-gate", "a failed contamination gate still writes its audit report",
          check_failed_gate),
]


def main(argv: list[str] | None = None) -> int:
    """Run the checks, print one line each and a summary; 1 if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clone", action="store_true",
                        help="also clone HEAD and run its test suite (~5 min)")
    parser.add_argument("--only", default="", help="comma-separated check numbers to run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"newcomer.py: {DATA} not found; the checks read their data from there",
              file=sys.stderr)
        return 2
    only = {int(x) for x in args.only.split(",") if x.strip()}
    chosen = [c for c in CHECKS if not only or c.number in only]
    root = Path(tempfile.mkdtemp(prefix="sf-newcomer-"))
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    times, start = [], time.monotonic()
    try:
        for check in chosen:
            tmp = root / f"{check.number:02d}-{check.name}"
            tmp.mkdir()
            began = time.monotonic()
            try:
                outcome = check.run(tmp, args)
            except Exception as exc:  # a check that broke is a FAIL, with what broke it
                outcome = Outcome(False, f"{type(exc).__name__}: {' '.join(str(exc).split())}"
                                         [:400])
            took = time.monotonic() - began
            word = "SKIP" if outcome.ok is None else "PASS" if outcome.ok else "FAIL"
            counts[word] += 1
            times.append(f"{check.number} {took:.0f}s")
            print(f"{word}  {check.number}. {check.what}: {outcome.figure}", flush=True)
            for line in outcome.details:
                print(f"      {line}", flush=True)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    total = time.monotonic() - start
    print(f"\n{len(chosen)} checks: {counts['PASS']} passed, {counts['FAIL']} failed, "
          f"{counts['SKIP']} skipped in {total:.0f}s ({', '.join(times)})")
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
