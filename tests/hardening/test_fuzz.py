"""Fuzzing (#16): malformed JSONL, CSV, Parquet and recipes, through every command in-process.

The only allowed outcomes are success, exit 2 with a message (exit 1 for a gate), never a
traceback, and never a byte written outside the output folder. CI runs a bounded number of
examples; ``scripts/fuzz.py`` runs many more (``SPLITFORGE_FUZZ_EXAMPLES``).
"""

import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from splitforge.cli import app
from tests.conftest import folder_bytes

EXAMPLES = int(os.environ.get("SPLITFORGE_FUZZ_EXAMPLES", "12"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))
runner = CliRunner()

odd_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
                   max_size=40) | st.sampled_from(["", " ", "\u200b", "模型评估", "\x00", "é" * 30])
scalar = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
          | st.floats(allow_nan=True, allow_infinity=True) | odd_text)
value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.sampled_from(["role", "content", "x"]), inner,
                                       max_size=3), max_leaves=6)
KEYS = ["id", "text", "time", "group", "label", "messages", "other"]
record = st.dictionaries(st.sampled_from(KEYS), value, max_size=6)
garbage = st.binary(max_size=30) | st.sampled_from(
    [b"{", b"[1,2]", b'{"text": "a" "b"}', b'{"text": "\\ud800"}', b"\xff\xfe", b"null"])


@st.composite
def jsonl_bytes(draw) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        if draw(st.booleans()) or not lines:
            try:
                lines.append(json.dumps(draw(record), allow_nan=True).encode("utf-8"))
            except (TypeError, ValueError):
                lines.append(b"{}")
        else:
            lines.append(draw(garbage))
    return b"\n".join(lines) + draw(st.sampled_from([b"", b"\n", b"\r\n"]))


@st.composite
def csv_bytes(draw) -> bytes:
    header = draw(st.lists(st.sampled_from(KEYS), min_size=0, max_size=5))
    rows = [",".join(draw(st.lists(odd_text.map(lambda t: t.replace("\n", " ")),
                                   min_size=0, max_size=6))) for _ in range(draw(
                                       st.integers(0, 8)))]
    return ("\n".join([",".join(header), *rows])).encode("utf-8", "replace")


@st.composite
def parquet_bytes(draw) -> bytes:
    n = draw(st.integers(0, 6))
    columns = {}
    for name in draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=5)):
        kind = draw(st.sampled_from(["str", "int", "float", "list", "null"]))
        values = {"str": st.one_of(st.none(), odd_text), "int": st.integers(-2**40, 2**40),
                  "float": st.floats(allow_nan=True), "list": st.lists(odd_text, max_size=2),
                  "null": st.none()}[kind]
        try:
            columns[name] = pa.array([draw(values) for _ in range(n)])
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            columns[name] = pa.array([None] * n, pa.string())
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns) if columns else pa.table({"x": pa.array([], pa.int64())}),
                   buffer)
    return buffer.getvalue()


def recipe_mapping(fmt: str):
    base = {"name": "f", "sources": [{"path": f"data.{fmt}"}],
            "fields": {"id": "id", "text": "text"}, "output": {"dir": "out"}}
    tweaks = st.fixed_dictionaries({}, optional={
        "seed": scalar, "fields": st.dictionaries(st.sampled_from(
            ["id", "text", "time", "group", "label", "messages", "roles", "bogus"]),
            st.sampled_from(KEYS) | scalar, max_size=4),
        "split": st.dictionaries(st.sampled_from(["method", "ratios", "gap", "cutoffs"]),
                                 st.sampled_from(["random", "temporal", "group", "stratified"])
                                 | value, max_size=3),
        "dedup": st.dictionaries(st.sampled_from(["exact", "minhash", "semantic", "keep"]),
                                 value | st.just({}), max_size=3),
        "audit": st.dictionaries(st.sampled_from(["methods", "fail_on", "against"]), value,
                                 max_size=2),
        "challenge": st.none() | st.just({"size": 5}) | value,
    })
    return tweaks.map(lambda t: {**base, **t})


def _run_in_sandbox(files: dict[str, bytes], recipe_text: str, commands) -> None:
    sandbox = Path(tempfile.mkdtemp(prefix="sf-fuzz-"))
    try:
        for name, data in files.items():
            (sandbox / name).write_bytes(data)
        (sandbox / "recipe.yaml").write_text(recipe_text, encoding="utf-8")
        before = folder_bytes(sandbox)
        cwd = os.getcwd()
        os.chdir(sandbox)
        try:
            for args, allowed in commands(sandbox):
                result = runner.invoke(app, args)
                if os.environ.get("SPLITFORGE_FUZZ_LOG"):  # scripts/fuzz.py tallies outcomes
                    with open(os.environ["SPLITFORGE_FUZZ_LOG"], "a", encoding="utf-8") as log:
                        log.write(f"{args[0]} {result.exit_code}\n")
                assert result.exit_code in allowed, (args, result.exit_code, result.output)
                assert result.exception is None or isinstance(result.exception, SystemExit), (
                    args, repr(result.exception))
                if result.exit_code == 2:
                    assert "error" in result.output.lower(), (args, result.output)
        finally:
            os.chdir(cwd)
        after = {k: v for k, v in folder_bytes(sandbox).items()
                 if not k.startswith(("out/", "dedup-out/", "audit-out/"))}
        assert after == before, sorted(set(after) ^ set(before))
    finally:
        shutil.rmtree(sandbox, ignore_errors=True)


def _all_commands(fmt: str):
    def commands(sandbox):
        data = f"data.{fmt}"
        return [(["validate", "recipe.yaml"], (0, 2)), (["build", "recipe.yaml"], (0, 2)),
                (["dedup", data, "--text", "text", "--out", "dedup-out"], (0, 2)),
                (["audit", "--methods", "exact,ngram,minhash", "--train", data, "--eval", data, "--text", "text", "--report",
                  "audit-out"], (0, 1, 2))]
    return commands


@FUZZ
@given(jsonl_bytes(), recipe_mapping("jsonl"))
def test_fuzz_jsonl_and_recipes(data, recipe):
    _run_in_sandbox({"data.jsonl": data}, yaml.safe_dump(recipe, allow_unicode=True),
                    _all_commands("jsonl"))


@FUZZ
@given(csv_bytes())
def test_fuzz_csv(data):
    recipe = {"name": "f", "sources": [{"path": "data.csv"}],
              "fields": {"text": "text"}, "output": {"dir": "out"}}
    _run_in_sandbox({"data.csv": data}, yaml.safe_dump(recipe), _all_commands("csv"))


@FUZZ
@given(parquet_bytes(), recipe_mapping("parquet"))
def test_fuzz_parquet(data, recipe):
    _run_in_sandbox({"data.parquet": data}, yaml.safe_dump(recipe, allow_unicode=True),
                    _all_commands("parquet"))


YAML_ODDITIES = [
    "name: f\nsources: &s [{path: data.jsonl}]\nfields: {text: text}\ncontrol: *s\n",
    "name: f\nsources: [{path: data.jsonl}]\nfields: {text: text}\n" + "x: " + "[" * 60
    + "]" * 60 + "\n",
    "name: f\nname: g\nsources: [{path: data.jsonl}]\nfields: {text: text}\n",
    "name: !!python/object:os.system echo\nsources: []\n",
    "name: \u202efile\nsources: [{path: data.jsonl}]\nfields: {text: text}\n",
    "name: f\nseed: 1e400\nsources: [{path: data.jsonl}]\nfields: {text: text}\n",
    "- just\n- a list\n", "\t", "name: f\nsources: [{path: data.jsonl}]\nfields: {text: text}"
    "\nsplit: {ratios: {train: .nan, val: .1, test: .1}}\n",
]


@settings(max_examples=len(YAML_ODDITIES), deadline=None, derandomize=True)
@given(st.sampled_from(YAML_ODDITIES))
def test_fuzz_yaml_oddities(text):
    data = b'{"text": "alpha beta"}\n{"text": "gamma delta"}\n'
    _run_in_sandbox({"data.jsonl": data}, text, _all_commands("jsonl"))


def test_found_by_fuzzing_an_empty_object_as_text():
    # Parquet cannot store a struct without fields: it is written as JSON text, with a note.
    recipe = {"name": "f", "sources": [{"path": "data.jsonl"}], "fields": {"text": "text"},
              "output": {"dir": "out"}}
    _run_in_sandbox({"data.jsonl": b'{"text": {}, "n": 1}\n{"text": {}, "n": 2}\n'},
                    yaml.safe_dump(recipe), _all_commands("jsonl"))


def test_found_by_fuzzing_a_list_arrow_reads_with_bad_offsets():
    # Arrow 26 builds [null, "x"] in a one-row file with offsets past its values; a later
    # take crashed the process. The loader now validates and falls back to the Python parse.
    line = b'{"messages": null, "text": {"role": null}, "time": [null, "\\b\\ud9bb\\udca7"], "id": "e"}'
    recipe = {"name": "f", "sources": [{"path": "data.jsonl"}],
              "fields": {"id": "id", "text": "text"}, "output": {"dir": "out"}}
    _run_in_sandbox({"data.jsonl": line + b"\n"}, yaml.safe_dump(recipe), _all_commands("jsonl"))
