"""Fine-tuning frameworks' formats on LLaMA-Factory's own demo files (slices in tests/data/real).

Each file is built with the recipe ``splitforge init`` writes for it: exit 0, its own audit finds
no contaminated item, and no row is removed that differs from its kept row in a field the trainer
reads. The build's ``dataset_info.json`` is then read by LLaMA-Factory's loading rules.
"""

import json
import os
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from splitforge.cli import app
from splitforge.errors import RecipeError
from splitforge.load import load_sources
from splitforge.pipeline import build
from splitforge.recipe import FieldsConfig, SourceConfig, validate_recipe
from tests.conftest import real_data

runner = CliRunner()
LF = "formats/llamafactory"
# dataset_info entries whose files ship as slices
ENTRIES = ["identity", "alpaca_en_demo", "glaive_toolcall_en_demo", "dpo_en_demo", "kto_en_demo",
           "mllm_demo", "c4_demo", "wiki_demo"]
# files without a dataset_info entry: read with init --format
BY_FORMAT = [("v1_sft_demo.jsonl", "openai"), ("v1_multimodal_demo.jsonl", "openai")]
SPLIT_FILES = ("train", "val", "test")


def _init(tmp_path: Path, *args: str) -> Path:
    recipe = tmp_path / "recipe.yaml"
    result = runner.invoke(app, ["init", str(recipe), *args])
    assert result.exit_code == 0, result.output
    return recipe


def _rows(folder: Path, name: str) -> list[dict]:
    return pq.read_table(folder / f"{name}.parquet").to_pylist()


def _record(row: dict) -> str:
    """What the trainer reads of a row: every original field."""
    return json.dumps({k: v for k, v in row.items() if not k.startswith("sf_")}, sort_keys=True)


def _build(recipe: Path, tmp_path: Path, **overrides) -> Path:
    result = build(recipe, out=tmp_path / "out", overrides=overrides or None)
    assert result.status == "built"
    return result.path


@pytest.mark.parametrize("case", ENTRIES + [f for f, _ in BY_FORMAT])
def test_each_demo_file_builds_with_the_init_recipe(tmp_path, case):
    info = real_data(f"{LF}/dataset_info.json")
    if case in ENTRIES:
        recipe = _init(tmp_path, "--dataset-info", str(info), "--dataset", case)
    else:
        formatting = dict(BY_FORMAT)[case]
        recipe = _init(tmp_path, "--format", formatting, "--source", str(info.parent / case))
    folder = _build(recipe, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["stages"]["audit"]["verdicts"].get("contaminated", 0) == 0
    kept = {r["sf_id"]: r for s in SPLIT_FILES for r in _rows(folder, s)}
    removed = _rows(folder, "removed")
    everything = {**kept, **{r["sf_id"]: r for r in removed}}
    for row in removed:
        if row["sf_stage"] == "dedup":
            assert _record(row) == _record(everything[row["sf_kept_id"]]), row["sf_id"]
    # nothing lost or changed: the kept and removed rows are the source records, types kept
    sources = [json.loads(line) for line in _source_lines(manifest, recipe)]
    written = [{k: v for k, v in json.loads(_record(r)).items() if v is not None}
               for r in [*kept.values(), *removed]]
    assert sorted(map(_canonical, written)) == sorted(map(_canonical, sources))


def _canonical(record: dict) -> str:
    return json.dumps({k: v for k, v in record.items() if v is not None}, sort_keys=True)


def _source_lines(manifest: dict, recipe: Path) -> list[str]:
    path = manifest["recipe"]["sources"][0]["path"]
    full = Path(path) if Path(path).is_absolute() else recipe.parent / path
    if full.suffix == ".txt":
        return [json.dumps({"text": t}) for t in full.read_text().splitlines() if t.strip()]
    if full.suffix == ".json":
        return [json.dumps(r) for r in json.loads(full.read_text())]
    return [line for line in full.read_text().splitlines() if line.strip()]


def test_rows_that_differ_only_in_tools_are_kept_and_placed_together(tmp_path):
    path = real_data(f"{LF}/glaive_toolcall_en_demo.json")
    records = json.loads(path.read_text())
    twins = [(i, j) for i in range(len(records)) for j in range(i + 1, len(records))
             if records[i]["conversations"] == records[j]["conversations"]
             and records[i]["tools"] != records[j]["tools"]]
    assert len(twins) >= 2  # the slice keeps them (scripts/make_test_data.py)
    recipe = _init(tmp_path, "--format", "sharegpt", "--source", str(path))
    folder = _build(recipe, tmp_path)
    kept = [r for s in SPLIT_FILES for r in _rows(folder, s)]
    tools = {(json.dumps(r["conversations"]), r["tools"]): r["sf_split"] for r in kept}
    for i, j in twins:
        a = tools.get((json.dumps(records[i]["conversations"]), records[i]["tools"]))
        b = tools.get((json.dumps(records[j]["conversations"]), records[j]["tools"]))
        assert a is not None and a == b  # both kept, in one split
    # fields.identity: [] compares the text alone, and then the twins are exact duplicates
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump({"name": "plain", "sources": [{"path": str(path)}],
                                     "fields": {"messages": "conversations", "identity": []}}))
    with_tools = tmp_path / "tools.yaml"
    with_tools.write_text(yaml.safe_dump({"name": "tools", "sources": [{"path": str(path)}],
                                          "fields": {"messages": "conversations"}}))
    removed = {}
    for recipe_path in (plain, with_tools):
        folder = _build(recipe_path, tmp_path)
        removed[recipe_path.stem] = json.loads((folder / "manifest.json").read_text())[
            "stages"]["dedup"]["rows_removed"]
    rows = {k for pair in twins for k in pair}
    versions = {(json.dumps(records[k]["conversations"]), records[k]["tools"]) for k in rows}
    texts = {conversation for conversation, _ in versions}
    assert removed["plain"] - removed["tools"] == len(versions) - len(texts) > 0


def test_system_turns_and_media_are_identity_not_text(tmp_path):
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    rows = [{"messages": [{"role": "system", "content": "be brief"}, *chat]},
            {"messages": [{"role": "system", "content": "be verbose"}, *chat]},
            {"messages": chat, "images": ["a.jpg"]}, {"messages": chat, "images": ["b.jpg"]},
            {"messages": chat, "images": ["b.jpg"]}]
    path = tmp_path / "chat.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded = load_sources([SourceConfig(path=str(path), formatting="openai")], FieldsConfig(),
                          tmp_path).table
    assert set(loaded.column("sf_text").to_pylist()) == {"user: hi\nassistant: hello"}
    identity = loaded.column("sf_identity").to_pylist()
    assert len(set(identity)) == 4 and identity[3] == identity[4]


def test_content_lists_read_as_their_text_parts():
    path = real_data(f"{LF}/v1_multimodal_demo.jsonl")
    table = load_sources([SourceConfig(path=str(path), formatting="openai")], FieldsConfig(),
                         path.parent).table
    text = table.column("sf_text")[0].as_py()
    assert text.startswith("user: Who are they?\nassistant: They're Kane and Gretzka")
    assert "image_url" not in text and "mllm_demo_data" not in text
    # the same file mapped with fields.messages reads the same text
    mapped = load_sources([SourceConfig(path=str(path))], FieldsConfig(messages="messages"),
                          path.parent).table
    assert mapped.column("sf_text").to_pylist() == table.column("sf_text").to_pylist()


def test_preference_pairs_of_one_prompt_share_a_group(tmp_path):
    prompt = [{"from": "human", "value": "Name a prime number."}]
    rows = [{"conversations": prompt, "chosen": {"from": "gpt", "value": f"{p}"},
             "rejected": {"from": "gpt", "value": "4"}} for p in (2, 3, 5, 7, 11)]
    rows += [{"conversations": [{"from": "human", "value": f"What is {i} + {i}?"}],
              "chosen": {"from": "gpt", "value": str(2 * i)},
              "rejected": {"from": "gpt", "value": str(2 * i + 1)}} for i in range(60)]
    path = tmp_path / "dpo.json"
    path.write_text(json.dumps(rows))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"name": "dpo", "sources": [
        {"path": "dpo.json", "formatting": "sharegpt", "ranking": True}]}))
    folder = _build(recipe, tmp_path)
    kept = [r for s in SPLIT_FILES for r in _rows(folder, s)]
    primes = [r for r in kept if r["conversations"] == prompt]
    assert len(primes) == 5  # different answers: none removed
    assert len({r["sf_split"] for r in primes}) == 1 and len({r["sf_group"] for r in primes}) == 1
    assert "chosen: 2" in load_sources([SourceConfig(path=str(path), formatting="sharegpt",
                                                     ranking=True)], FieldsConfig(),
                                       tmp_path).table.column("sf_text")[0].as_py()


def test_trl_layouts(tmp_path):
    rows = [{"prompt": "Capital of France?", "chosen": "Paris", "rejected": "Lyon"},
            {"prompt": [{"role": "user", "content": "Capital of Spain?"}],
             "chosen": [{"role": "assistant", "content": "Madrid"}],
             "rejected": [{"role": "assistant", "content": "Seville"}]}]
    for i, row in enumerate(rows):
        (tmp_path / f"p{i}.jsonl").write_text(json.dumps(row) + "\n")
    texts = [load_sources([SourceConfig(path=str(tmp_path / f"p{i}.jsonl"),
                                        formatting="preference")], FieldsConfig(),
                          tmp_path).table.column("sf_text")[0].as_py() for i in range(2)]
    assert texts[0] == "user: Capital of France?\nchosen: Paris\nrejected: Lyon"
    assert texts[1] == "user: Capital of Spain?\nassistant: Madrid\nassistant: Seville"
    (tmp_path / "k.jsonl").write_text(json.dumps(
        {"prompt": "2+2?", "completion": "4", "label": True}) + "\n")
    kto = load_sources([SourceConfig(path=str(tmp_path / "k.jsonl"), formatting="kto")],
                       FieldsConfig(), tmp_path).table
    assert kto.column("sf_text")[0].as_py() == "user: 2+2?\nassistant: 4"
    assert kto.column("sf_group")[0].as_py().startswith("prompt:")


def test_plain_text_by_line_or_paragraph(tmp_path):
    (tmp_path / "doc.txt").write_text("first line\nsecond line\n\n\nthird\n")
    by_line = load_sources([SourceConfig(path=str(tmp_path / "doc.txt"), formatting="text")],
                           FieldsConfig(), tmp_path)
    assert by_line.table.column("text").to_pylist() == ["first line", "second line", "third"]
    assert by_line.table.column("sf_line").to_pylist() == [1, 2, 5]
    assert "one document per line" in by_line.sources[0].notes[0]
    by_paragraph = load_sources([SourceConfig(path=str(tmp_path / "doc.txt"),
                                              text_unit="paragraph")],
                                FieldsConfig(text="text"), tmp_path)
    assert by_paragraph.table.column("text").to_pylist() == ["first line\nsecond line", "third"]


def test_dataset_info_errors_name_the_entry(tmp_path):
    info = tmp_path / "dataset_info.json"
    info.write_text(json.dumps({"alpaca_demo": {"file_name": "a.json"},
                                "hub": {"hf_hub_url": "x/y"}}))
    recipe = {"name": "r", "sources": [{"dataset_info": str(info), "dataset": "alpaca_dem"}]}
    with pytest.raises(RecipeError, match="did you mean 'alpaca_demo'"):
        validate_recipe(recipe, base=tmp_path)
    recipe["sources"][0]["dataset"] = "hub"
    with pytest.raises(RecipeError, match="no local file .it names hf_hub_url"):
        validate_recipe(recipe, base=tmp_path)
    recipe["sources"][0]["dataset"] = "alpaca_demo"
    source = validate_recipe(recipe, base=tmp_path).sources[0]
    assert (source.path, source.formatting) == (str(tmp_path / "a.json"), "alpaca")


def test_init_refuses_an_unknown_format(tmp_path):
    result = runner.invoke(app, ["init", str(tmp_path / "r.yaml"), "--format", "alpacca"])
    assert result.exit_code == 2 and "known: alpaca" in result.output
    assert not (tmp_path / "r.yaml").exists()


def test_small_splits_are_warned_about(tmp_path):
    records = json.loads(real_data(f"{LF}/identity.json").read_text())[:6]
    (tmp_path / "tiny.json").write_text(json.dumps(records))
    recipe = _init(tmp_path, "--format", "alpaca", "--source", str(tmp_path / "tiny.json"))
    folder = _build(recipe, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    rows = manifest["stages"]["split"]["rows"]
    warning = manifest["stages"]["split"]["warnings"][-1]
    assert f"train {rows['train']}, val {rows['val']}, test {rows['test']} rows" in warning
    assert "under 10 rows" in warning or "empty" in warning
    assert "Warning:" in (folder / "report.md").read_text()


# -- the export, read by LLaMA-Factory's rules -------------------------------------------------

FILEEXT2TYPE = {"arrow": "arrow", "csv": "csv", "json": "json", "jsonl": "json",
                "parquet": "parquet", "txt": "text"}  # LLaMA-Factory's extras/constants.py


def _llamafactory_broken(example: dict, entry: dict) -> bool:
    """LLaMA-Factory's sharegpt converter rule: roles alternate, the count fits the stage."""
    tags = {"role_tag": "from", "content_tag": "value", "user_tag": "human",
            "assistant_tag": "gpt", "observation_tag": "observation",
            "function_tag": "function_call", "system_tag": "system", **entry.get("tags", {})}
    columns = entry["columns"]
    messages = example[columns.get("messages", "conversations")]
    role = tags["role_tag"]
    if messages and messages[0][role] == tags["system_tag"]:
        messages = messages[1:]
    odd = (tags["user_tag"], tags["observation_tag"])
    even = (tags["assistant_tag"], tags["function_tag"])
    if any(m[role] not in (odd, even)[i % 2] for i, m in enumerate(messages)):
        return True
    ranking = entry.get("ranking", False)
    if (not ranking and len(messages) % 2) or (ranking and not len(messages) % 2):
        return True
    if ranking:
        return any(example[columns[k]][role] not in even for k in ("chosen", "rejected"))
    return False


@pytest.mark.parametrize("case", ["glaive_toolcall_en_demo", "dpo_en_demo", "kto_en_demo",
                                  "alpaca_en_demo", "wiki_demo"])
def test_dataset_info_of_a_build_loads_by_llamafactory_rules(tmp_path, case):
    recipe = _init(tmp_path, "--dataset-info", str(real_data(f"{LF}/dataset_info.json")),
                   "--dataset", case)
    folder = _build(recipe, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    info = json.loads((folder / "dataset_info.json").read_text())
    counts = manifest["counts"]["splits"]
    assert sorted(info) == [f"my-eval_{s}" for s in ("test", "train", "val") if counts[s]]
    source_entry = json.loads(real_data(f"{LF}/dataset_info.json").read_text())[case]
    for split in [s for s in SPLIT_FILES if counts[s]]:
        entry = info[f"my-eval_{split}"]
        path = os.path.join(folder, entry["file_name"])  # dataset_dir + file_name
        assert os.path.isfile(path)
        builder = FILEEXT2TYPE[path.rsplit(".", 1)[-1]]
        data = datasets.load_dataset(builder, data_files=[path], split="train",
                                     cache_dir=str(tmp_path / "cache"))
        assert len(data) == manifest["counts"]["splits"][split]
        assert set(entry["columns"].values()) <= set(data.column_names)
        assert entry.get("formatting", "alpaca") == source_entry.get("formatting", "alpaca")
        assert entry.get("ranking", False) == source_entry.get("ranking", False)
        if entry.get("formatting") == "sharegpt":
            assert not any(_llamafactory_broken(row, entry) for row in data)


# -- what a review found -----------------------------------------------------------------------


def test_implicit_prompt_preference_groups_by_the_shared_turns(tmp_path):
    ask = {"role": "user", "content": "Best pet?"}
    rows = [{"chosen": [ask, {"role": "assistant", "content": a}],
             "rejected": [ask, {"role": "assistant", "content": "none"}]} for a in ("cat", "dog")]
    rows.append({"chosen": "Q: 1+1? A: 2", "rejected": "Q: 1+1? A: 3"})
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    table = load_sources([SourceConfig(path=str(tmp_path / "p.jsonl"),
                                       formatting="preference")], FieldsConfig(), tmp_path).table
    groups = table.column("sf_group").to_pylist()
    assert groups[0] == groups[1]
    assert table.column("sf_text")[0].as_py().startswith("user: Best pet?\nassistant: cat")
    (tmp_path / "s.jsonl").write_text(json.dumps(rows[2]) + "\n")
    strings = load_sources([SourceConfig(path=str(tmp_path / "s.jsonl"),
                                         formatting="preference")], FieldsConfig(), tmp_path)
    assert strings.table.column("sf_text")[0].as_py() == "chosen: Q: 1+1? A: 2\nrejected: Q: 1+1? A: 3"


def test_copies_across_formattings_and_content_kinds_are_exact_duplicates(tmp_path):
    pairs = [(f"What is {i} squared?", f"It is {i * i}.") for i in range(30)]
    (tmp_path / "a.json").write_text(json.dumps(
        [{"instruction": q, "input": "", "output": a} for q, a in pairs]))
    (tmp_path / "o.jsonl").write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": [{"type": "text", "value": q}]},
        {"role": "assistant", "content": [{"type": "text", "value": a}]}], "tools": ""}) + "\n"
        for q, a in pairs))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"name": "cross", "sources": [
        {"path": "a.json", "formatting": "alpaca"}, {"path": "o.jsonl", "formatting": "openai"}]}))
    manifest = json.loads((_build(recipe, tmp_path) / "manifest.json").read_text())
    assert manifest["stages"]["dedup"]["removed_by_reason"] == {"exact_duplicate": 30}
    assert manifest["stages"]["dedup"]["chained_clusters"]["count"] == 0


def test_a_row_of_empty_fields_is_empty_text(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps([{"instruction": "Hi", "output": "Hello"},
                                                 {"instruction": " ", "output": ""}]))
    with pytest.raises(Exception, match="empty"):
        load_sources([SourceConfig(path=str(tmp_path / "a.json"), formatting="alpaca")],
                     FieldsConfig(), tmp_path)
    loaded = load_sources([SourceConfig(path=str(tmp_path / "a.json"), formatting="alpaca",
                                        on_error="skip")], FieldsConfig(), tmp_path)
    assert [r["reason"] for r in loaded.rejected] == ["empty_text"]
    assert loaded.table.num_rows == 1  # and its source is named by its path, not a field:
    assert loaded.table.column("sf_source")[0].as_py().endswith("/a.json")


def test_custom_role_tags_do_not_depend_on_key_order(tmp_path):
    texts = []
    for order in (("speaker", "text", "role"), ("role", "speaker", "text")):
        turn = [{"speaker": "me", "text": "q", "role": "meta"},
                {"speaker": "bot", "text": "a", "role": "meta"}]
        rows = [{"chat": [{k: m[k] for k in order} for m in turn]}]
        (tmp_path / "c.jsonl").write_text(json.dumps(rows[0]) + "\n")
        source = SourceConfig(path=str(tmp_path / "c.jsonl"), formatting="sharegpt",
                              columns={"messages": "chat"},
                              tags={"role_tag": "speaker", "content_tag": "text",
                                    "user_tag": "me", "assistant_tag": "bot"})
        texts.append(load_sources([source], FieldsConfig(), tmp_path).table.column(
            "sf_text")[0].as_py())
    assert texts == ["user: q\nassistant: a"] * 2


def test_init_writes_paths_that_resolve_from_the_recipe_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    info = real_data(f"{LF}/dataset_info.json")
    for name in ("dataset_info.json", "identity.json"):
        (tmp_path / "data" / name).write_bytes((info.parent / name).read_bytes())
    result = runner.invoke(app, ["init", "sub/r.yaml", "--dataset-info",
                                 "data/dataset_info.json", "--dataset", "identity"])
    assert result.exit_code == 0, result.output
    assert '"../data/dataset_info.json"' in (tmp_path / "sub" / "r.yaml").read_text()
    assert build(tmp_path / "sub" / "r.yaml").status == "built"
    hub = runner.invoke(app, ["init", "sub/h.yaml", "--dataset-info", "data/dataset_info.json",
                              "--dataset", "alpaca_en"])
    assert hub.exit_code == 2 and "hf_hub_url" in hub.output
    assert not (tmp_path / "sub" / "h.yaml").exists()


def test_no_dataset_info_for_content_lists_and_the_manifest_says_why(tmp_path):
    path = real_data(f"{LF}/v1_sft_demo.jsonl")
    recipe = _init(tmp_path, "--format", "openai", "--source", str(path))
    folder = _build(recipe, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert not (folder / "dataset_info.json").exists()
    assert manifest["dataset_info"]["written"] is False
    assert "content lists" in manifest["dataset_info"]["why"]


def test_near_duplicate_removals_count_the_fields_they_differ_in(tmp_path):
    path = real_data(f"{LF}/glaive_toolcall_en_demo.json")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"name": "mh", "sources": [
        {"path": str(path), "formatting": "sharegpt"}], "dedup": {"exact": True, "minhash": {}},
        "output": {"dir": str(tmp_path / "out")}}))
    folder = _build(recipe, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    differing = manifest["stages"]["dedup"]["removed_differing"]
    removed = _rows(folder, "removed")
    everything = {r["sf_id"]: r for s in (*SPLIT_FILES, "removed") for r in _rows(folder, s)}
    near = [r for r in removed if r["sf_reason"] == "near_duplicate"]
    other_tools = sum(r["tools"] != everything[r["sf_kept_id"]]["tools"] for r in near)
    assert other_tools > 0 and differing == {"tools": other_tools}
    assert f"tools {other_tools}." in (folder / "report.md").read_text()
