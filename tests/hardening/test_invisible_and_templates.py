"""Invisible format characters and CLI templates, which used to hide exact copies (#24.2, #24.3)."""

import json
import re

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from splitforge.audit.run import audit_files
from splitforge.cli import app
from splitforge.normalize import normalize_text
from splitforge.pipeline import build
from tests.conftest import FAST_METHODS, real_data, write_jsonl, write_recipe

runner = CliRunner()
INVISIBLE = {"zero-width space": "\u200b", "zero-width joiner": "\u200d", "inner BOM": "\ufeff",
             "soft hyphen": "\u00ad", "word joiner": "\u2060", "bidi mark": "\u200e"}


def gsm8k(n):
    lines = real_data("eval/gsm8k_test.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:n]]


def _hidden(text, char, every=17):
    return "".join(c + (char if i % every == every - 1 else "") for i, c in enumerate(text))


@pytest.mark.parametrize("name", sorted(INVISIBLE))
def test_format_characters_do_not_change_the_canonical_text(name):
    question = gsm8k(1)[0]["question"]
    assert normalize_text(_hidden(question, INVISIBLE[name])) == normalize_text(question)


@pytest.mark.parametrize("method", ["exact", "minhash"])
def test_copies_differing_by_invisible_characters_are_duplicates_and_keep_their_text(
        tmp_path, method):
    rows = gsm8k(200)
    copies = [dict(rows[i], idx=10_000 + i, question=_hidden(rows[i]["question"], char))
              for i, char in zip(range(0, 60, 10), INVISIBLE.values(), strict=True)]
    write_jsonl(tmp_path / "d.jsonl", rows + copies)
    dedup = {"exact": method == "exact", **({"minhash": {}} if method == "minhash" else {})}
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}],
                          fields={"id": "idx", "text": "question"}, dedup=dedup)
    folder = build(recipe).path
    removed = pq.read_table(folder / "removed.parquet").to_pylist()
    links = {(r["sf_id"], r["sf_kept_id"]) for r in removed if r["sf_stage"] == "dedup"}
    for copy in copies:  # one of each pair removed as a duplicate of the other
        pair = (str(copy["idx"]), str(copy["idx"] - 10_000))
        assert pair in links or pair[::-1] in links, pair
    kept = {r["sf_id"]: r["question"] for name in ("train", "val", "test")
            for r in pq.read_table(folder / f"{name}.parquet").to_pylist()}
    held = {r["sf_id"]: r["question"] for r in removed}
    for copy in copies:  # whichever copy is written, its text is the original, invisible included
        text = kept.get(str(copy["idx"]), held.get(str(copy["idx"])))
        assert text == copy["question"]


def test_an_eval_copy_with_a_zero_width_space_is_contaminated(tmp_path):
    rows = gsm8k(300)
    train = write_jsonl(tmp_path / "train.jsonl", rows[:250])
    items = [dict(r, question=_hidden(r["question"], "\u200b", 5)) for r in rows[200:210]]
    evals = write_jsonl(tmp_path / "eval.jsonl", items + rows[250:260])
    result = audit_files([train], [evals], text="question", id_field="idx", methods=FAST_METHODS)
    verdicts = dict(zip(result.table.column("eval_id").to_pylist(),
                        result.table.column("verdict").to_pylist(), strict=True))
    assert all(verdicts[str(r["idx"])] == "contaminated" for r in items)
    assert result.failed


def _help_example(command, option):
    text = runner.invoke(app, [command, "--help"], terminal_width=200).stdout
    text = re.sub(r"[│\s]+", " ", text)
    return re.search(rf"{option} .*?'([^']*\\n[^']*)'", text).group(1)


def test_the_dedup_help_example_template_reads_its_newline(tmp_path):
    template = _help_example("dedup", "--text")
    assert template == "{question}\\n{answer}"
    rows = gsm8k(100)
    rows.append(dict(rows[0], idx=99_999, question=rows[0]["question"] + "\n"))
    write_jsonl(tmp_path / "d.jsonl", rows)
    result = runner.invoke(app, ["dedup", str(tmp_path / "d.jsonl"), "--text", template,
                                 "--id", "idx", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    clusters = pq.read_table(tmp_path / "out" / "dedup_clusters.parquet").to_pylist()
    assert clusters and "\n" in clusters[0]["sf_text"] and "\\n" not in clusters[0]["sf_text"]


def test_an_exact_copy_under_a_cli_template_with_a_newline_is_contaminated(tmp_path):
    rows = gsm8k(400)
    write_jsonl(tmp_path / "train.jsonl", [{"subject": r["question"], "body": r["answer"],
                                            "k": str(r["idx"])} for r in rows[:300]])
    evals = write_jsonl(tmp_path / "eval.jsonl",
                        [{"text": f"{r['question']}\n{r['answer']}", "k": str(r["idx"])}
                         for r in rows[250:350]])
    result = runner.invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--train", str(tmp_path / "train.jsonl"), "--eval",
                                 str(evals), "--train-text", "{subject}\\n{body}", "--eval-text",
                                 "text", "--id", "k", "--report", str(tmp_path / "report")])
    assert result.exit_code == 1, result.output  # the gate fails: 50 exact copies
    table = pq.read_table(tmp_path / "report" / "audit.parquet").to_pylist()
    copies = [r for r in table if int(r["eval_id"]) < 300]
    assert len(copies) == 50
    assert all(r["verdict"] == "contaminated" and r["evidence_method"] == "exact" for r in copies)


def test_blank_text_pattern_agrees_with_normalize_text_on_every_code_point():
    import sys

    import pyarrow as pa
    import pyarrow.compute as pc

    from splitforge.normalize.text import BLANK_TEXT

    chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    blank = pc.match_substring_regex(pa.array(chars), BLANK_TEXT).to_numpy(zero_copy_only=False)
    differ = [hex(ord(c)) for c, b in zip(chars, blank, strict=True)
              if bool(b) != (normalize_text(c) == "")]
    assert differ == []
    assert blank.sum() == 192  # 29 spaces of str.split() and 163 format characters


def test_cli_templates_read_tab_and_backslash_too():
    from splitforge.templates import read_escapes as template_option

    assert template_option(r"{q}\t{a}") == "{q}\t{a}"
    assert template_option(r"{q}\\n{a}") == "{q}\\n{a}"  # an escaped backslash stays one
    assert template_option(r"C:\data {q}") == r"C:\data {q}"


def test_semantic_dedup_links_copies_that_differ_by_invisible_characters(tmp_path):
    rows = gsm8k(150)
    copies = [dict(rows[i], idx=20_000 + i, question=_hidden(rows[i]["question"], "\u200b", 3))
              for i in (5, 50, 100)]
    write_jsonl(tmp_path / "d.jsonl", rows + copies)
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}],
                          fields={"id": "idx", "text": "question"},
                          dedup={"exact": False, "semantic": {}})
    removed = pq.read_table(build(recipe).path / "removed.parquet").to_pylist()
    links = {(r["sf_id"], r["sf_kept_id"]) for r in removed}
    for copy in copies:
        pair = (str(copy["idx"]), str(copy["idx"] - 20_000))
        assert pair in links or pair[::-1] in links, pair


def test_a_template_given_as_a_recipe_override_is_text_with_its_newline():
    from splitforge.cli import parse_overrides

    assert parse_overrides(["--fields.text", r"{q}\n{a}"]) == {"fields.text": "{q}\n{a}"}
    assert parse_overrides(["--fields.text", "{question}"]) == {"fields.text": "{question}"}
    assert parse_overrides(["--seed", "3"]) == {"seed": 3}
