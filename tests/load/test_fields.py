"""Field mapping: templates, chat messages, timestamps, ids, groups and labels."""

import hashlib
import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from splitforge import columns as C
from splitforge.errors import InputError
from splitforge.fingerprint import canonical_json
from splitforge.load import load_sources
from splitforge.recipe import FieldsConfig, SourceConfig
from tests.conftest import write_jsonl
from tests.load.conftest import FIXTURES, load_one


def _load_rows(tmp_path, rows, fields, **source):
    write_jsonl(tmp_path / "rows.jsonl", rows)
    return load_one("rows.jsonl", tmp_path, fields, **source).table


# -- text --------------------------------------------------------------------------------------


def test_template_joins_fields_with_literal_pieces(tmp_path):
    rows = [{"question": "2+2?", "answer": 4, "ok": True}, {"question": "Pi?", "answer": 3.5,
                                                            "ok": False}]
    table = _load_rows(tmp_path, rows, {"text": "Q: {question}\nA: {answer} ({ok}) {{done}}"})
    assert table.column(C.TEXT).to_pylist() == ["Q: 2+2?\nA: 4 (true) {done}",
                                                "Q: Pi?\nA: 3.5 (false) {done}"]
    assert table.column(C.TEXT).type == pa.string()
    assert table.column("answer").to_pylist() == [4.0, 3.5]  # the input field is unchanged


def test_single_field_text_and_numbers_as_text(tmp_path):
    table = _load_rows(tmp_path, [{"q": 12}, {"q": 7}], {"text": "q"})
    assert table.column(C.TEXT).to_pylist() == ["12", "7"]
    assert table.column("q").type == pa.int64()


def test_nested_values_in_a_template_are_json(tmp_path):
    table = _load_rows(tmp_path, [{"q": "tags", "t": ["a", "b"]}], {"text": "{q}: {t}"})
    assert table.column(C.TEXT)[0].as_py() == 'tags: ["a","b"]'


# -- messages ----------------------------------------------------------------------------------


def test_messages_role_content(tmp_path):
    rows = [{"id": 1, "messages": [{"role": "system", "content": "Be brief."},
                                   {"role": "user", "content": "Hi"},
                                   {"role": "assistant", "content": "Hello!"}]},
            {"id": 3, "messages": [{"role": "user", "content": "Only me"}]}]
    table = _load_rows(tmp_path, rows, {"id": "id", "messages": "messages"})
    assert table.column(C.TEXT).to_pylist() == ["user: Hi\nassistant: Hello!", "user: Only me"]
    assert table.column("messages").to_pylist() == [r["messages"] for r in rows]  # output: all
    with_system = _load_rows(tmp_path, rows, {"id": "id", "messages": "messages",
                                              "roles": ["system", "user", "assistant"]})
    assert with_system.column(C.TEXT).to_pylist() == [
        "system: Be brief.\nuser: Hi\nassistant: Hello!", "user: Only me"]
    users = _load_rows(tmp_path, rows, {"id": "id", "messages": "messages", "roles": ["User"]})
    assert users.column(C.TEXT).to_pylist() == ["user: Hi", "user: Only me"]


def test_sharegpt_roles_take_user_and_assistant_names(tmp_path):
    rows = [{"c": [{"from": "system", "value": "S"}, {"from": "human", "value": "Q"},
                   {"from": "gpt", "value": "A"}, {"from": "observation", "value": "O"}]}]
    table = _load_rows(tmp_path, rows, {"messages": "c", "roles": ["user"]})
    assert table.column(C.TEXT).to_pylist() == ["human: Q"]
    table = _load_rows(tmp_path, rows, {"messages": "c"})
    assert table.column(C.TEXT).to_pylist() == ["human: Q\ngpt: A\nobservation: O"]


def test_messages_from_value_sharegpt(tmp_path):
    table = load_one(FIXTURES / "sharegpt.jsonl", tmp_path,
                     {"id": "id", "messages": "conversations"}).table
    assert table.column(C.TEXT).to_pylist() == [
        "human: What is the capital of France?\ngpt: Paris.",
        "human: 2 + 2?\ngpt: 4\nhuman: Thanks"]


def test_messages_of_both_shapes_in_one_file(tmp_path):
    rows = [{"c": [{"role": "user", "content": "a"}]}, {"c": [{"from": "human", "value": "b"}]}]
    table = _load_rows(tmp_path, rows, {"messages": "c"})
    assert table.column(C.TEXT).to_pylist() == ["user: a", "human: b"]


def test_messages_from_a_parquet_file_with_many_chunks(tmp_path):
    rows = [{"c": [{"role": "user", "content": f"m{i}"}, {"role": "bot", "content": str(i)}]}
            for i in range(10)]
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, tmp_path / "c.parquet", row_group_size=3)
    out = load_one("c.parquet", tmp_path, {"messages": "c"}).table
    assert out.column(C.TEXT).to_pylist() == [f"user: m{i}\nbot: {i}" for i in range(10)]


# -- time --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("values", "expected"), [
    (["2024-01-02T03:04:05+02:00", "2024-01-02T03:04:05-05:30"],
     ["2024-01-02T01:04:05+00:00", "2024-01-02T08:34:05+00:00"]),
    (["2024-01-02T03:04:05Z", "2024-01-02 03:04:05.250"],
     ["2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05.250000+00:00"]),
    (["2024-01-02", "1999-12-31"], ["2024-01-02T00:00:00+00:00", "1999-12-31T00:00:00+00:00"]),
    ([1704164645, 0], ["2024-01-02T03:04:05+00:00", "1970-01-01T00:00:00+00:00"]),
    ([1704164645.5, 1.0], ["2024-01-02T03:04:05.500000+00:00", "1970-01-01T00:00:01+00:00"]),
    ([1704164645123, 1e12], ["2024-01-02T03:04:05.123000+00:00", "2001-09-09T01:46:40+00:00"]),
])
def test_time_values(tmp_path, values, expected):
    rows = [{"q": str(i), "t": v} for i, v in enumerate(values)]
    # 1970 is outside the default window; allow_any_time reads it as written
    table = _load_rows(tmp_path, rows, {"text": "q", "time": "t", "allow_any_time": True})
    assert table.column(C.TIME).type == pa.timestamp("us", tz="UTC")
    assert [t.isoformat() for t in table.column(C.TIME).to_pylist()] == expected
    assert table.column("t").to_pylist() == values


def test_time_from_arrow_timestamp_and_date_columns(tmp_path):
    table = pa.table({
        "q": ["a", "b"],
        "aware": pa.array([datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)] * 2,
                          pa.timestamp("ns", tz="Asia/Tokyo")),
        "naive": pa.array([datetime(2024, 1, 2, 3, 4, 5)] * 2, pa.timestamp("s")),
        "day": pa.array([date(2024, 1, 2)] * 2, pa.date32()),
    })
    pq.write_table(table, tmp_path / "t.parquet")
    for name, expected in [("aware", "2024-01-02T03:04:05+00:00"),
                           ("naive", "2024-01-02T03:04:05+00:00"),
                           ("day", "2024-01-02T00:00:00+00:00")]:
        out = load_one("t.parquet", tmp_path, {"text": "q", "time": name}).table
        assert out.column(C.TIME)[1].as_py().isoformat() == expected, name


# -- ids, groups, labels -----------------------------------------------------------------------


def test_content_hash_ids(tmp_path):
    rows = [{"q": "same", "n": 1}, {"q": "other", "n": 2}, {"q": "same", "n": 1}]
    ids = _load_rows(tmp_path, rows, {"text": "q"}).column(C.ID).to_pylist()
    digest = hashlib.sha256(canonical_json(rows[0]).encode()).hexdigest()[:16]
    assert ids[0] == digest and ids[2] == digest + "-2"
    assert len(set(ids)) == 3
    reordered = _load_rows(tmp_path, [rows[1], rows[2], rows[0]], {"text": "q"})
    assert sorted(reordered.column(C.ID).to_pylist()) == sorted(ids)
    assert reordered.column(C.ID)[0].as_py() == ids[1]  # "other" keeps its id


def test_content_hash_ignores_fields_other_rows_bring(tmp_path):
    alone = _load_rows(tmp_path, [{"q": "x"}], {"text": "q"}).column(C.ID)[0].as_py()
    mixed = _load_rows(tmp_path, [{"q": "x"}, {"q": "y", "extra": 1}], {"text": "q"})
    assert mixed.column(C.ID)[0].as_py() == alone


def test_identical_records_in_two_sources_get_unique_ids(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"q": "dup"}])
    write_jsonl(tmp_path / "b.jsonl", [{"q": "dup"}])
    sources = [SourceConfig(path="a.jsonl"), SourceConfig(path="b.jsonl")]
    ids = load_sources(sources, FieldsConfig(text="q"), tmp_path).table.column(C.ID).to_pylist()
    assert ids[1] == ids[0] + "-2"


def test_id_field_cast_to_string_with_prefix(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"id": 1, "q": "a"}, {"id": 2, "q": "b"}])
    write_jsonl(tmp_path / "b.jsonl", [{"id": 1, "q": "c"}])
    sources = [SourceConfig(path="a.jsonl", id_prefix="gsm/"),
               SourceConfig(path="b.jsonl", id_prefix="mmlu/")]
    table = load_sources(sources, FieldsConfig(id="id", text="q"), tmp_path).table
    assert table.column(C.ID).to_pylist() == ["gsm/1", "gsm/2", "mmlu/1"]
    assert table.column("id").to_pylist() == [1, 2, 1]


def test_duplicate_ids_across_sources_suggest_a_prefix(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"id": "x", "q": "a"}, {"id": "y", "q": "b"}])
    write_jsonl(tmp_path / "b.jsonl", [{"id": "z", "q": "c"}, {"id": "y", "q": "d"}])
    sources = [SourceConfig(path="a.jsonl"), SourceConfig(path="b.jsonl")]
    with pytest.raises(InputError) as info:
        load_sources(sources, FieldsConfig(id="id", text="q"), tmp_path)
    message = str(info.value)
    assert "'y'" in message and "a.jsonl:2" in message and "b.jsonl:2" in message
    assert "id_prefix" in message


def test_duplicate_ids_within_a_source(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"id": 5, "q": "a"}, {"id": 6, "q": "b"}, {"id": 5, "q": "c"}])
    with pytest.raises(InputError, match=r"id '5' is not unique: it appears at a.jsonl:1 and "
                                         r"a.jsonl:3$"):
        load_one("a.jsonl", tmp_path, {"id": "id", "text": "q"})


def test_group_and_label_are_text(tmp_path):
    rows = [{"q": "a", "user": 1, "y": True}, {"q": "b", "user": 22, "y": False}]
    table = _load_rows(tmp_path, rows, {"text": "q", "group": "user", "label": "y"})
    assert table.column(C.GROUP).to_pylist() == ["1", "22"]
    assert table.column(C.LABEL).to_pylist() == ["true", "false"]
    assert table.column(C.GROUP).type == pa.string()


def test_output_columns(tmp_path):
    rows = [{"q": "a", "t": "2024-01-01", "g": "u"}]
    table = _load_rows(tmp_path, rows, {"text": "q"})
    assert table.column_names == ["q", "t", "g", C.ID, C.TEXT, C.SOURCE, C.LINE]
    table = _load_rows(tmp_path, rows, {"text": "q", "time": "t", "group": "g", "label": "g"})
    assert table.column_names == ["q", "t", "g", C.ID, C.TEXT, C.TIME, C.GROUP, C.LABEL,
                                  C.SOURCE, C.LINE]
    assert table.schema.field(C.LINE).type == pa.int64()
    assert json.loads(canonical_json(table.select(["q", "t", "g"]).to_pylist())) == rows


def test_a_conversation_of_only_a_system_turn_names_fields_roles(tmp_path):
    rows = [{"messages": [{"role": "user", "content": "Hi"}]},
            {"messages": [{"role": "system", "content": "Be brief."}]}]
    with pytest.raises(InputError, match=r":2: .*fields\.roles"):
        _load_rows(tmp_path, rows, {"messages": "messages"})
    kept = _load_rows(tmp_path, rows, {"messages": "messages", "roles": ["system", "user"]})
    assert kept.column(C.TEXT).to_pylist() == ["user: Hi", "system: Be brief."]


def test_optional_template_fields_read_as_empty_where_null_or_absent(tmp_path):
    rows = [{"q": "What is 2+2?", "system": None}, {"q": "Name a colour", "system": "Be brief."},
            {"q": "Spell cat"}]
    table = _load_rows(tmp_path, rows, {"text": "{system?}|{q}|{hint?}"})
    assert table.column(C.TEXT).to_pylist() == ["|What is 2+2?|", "Be brief.|Name a colour|",
                                                "|Spell cat|"]
    with pytest.raises(InputError, match="'system'.*missing or null"):
        _load_rows(tmp_path, rows, {"text": "{system}|{q}"})


def test_dotted_fields_read_nested_values_and_the_output_keeps_the_record(tmp_path):
    rows = [{"q": "What is 2+2?", "meta": {"title": "math", "score": 3}},
            {"q": "Name a colour", "meta": {"title": "art", "score": 5}}]
    table = _load_rows(tmp_path, rows, {"text": "{q} ({meta.title})", "label": "meta.score"})
    assert table.column(C.TEXT).to_pylist() == ["What is 2+2? (math)", "Name a colour (art)"]
    assert table.column(C.LABEL).to_pylist() == ["3", "5"]
    assert [n for n in table.column_names if not n.startswith("sf_")] == ["q", "meta"]
    plain = _load_rows(tmp_path, rows, {"text": "q"})
    assert table.column(C.ID).to_pylist() == plain.column(C.ID).to_pylist()
    with pytest.raises(InputError, match="'meta' holds title, score"):
        _load_rows(tmp_path, rows, {"text": "{meta.titel}"})


def test_a_build_with_nested_and_optional_template_fields_writes_its_report(tmp_path):
    from splitforge.errors import RecipeError
    from splitforge.pipeline import build
    from splitforge.recipe import validate_recipe

    rows = [{"q": f"question {i} about {i % 5}", "meta": {"title": f"t{i % 3}"},
             **({"system": "be brief"} if i % 2 else {})} for i in range(40)]
    write_jsonl(tmp_path / "d.jsonl", rows)
    recipe = {"name": "n", "sources": [{"path": "d.jsonl"}],
              "fields": {"text": "{system?}{q} ({meta.title})"}, "audit": {"fail_on": "never"},
              "output": {"dir": str(tmp_path / "out")}}
    (tmp_path / "r.yaml").write_text(json.dumps(recipe))
    folder = build(tmp_path / "r.yaml").path  # the report reads the texts back: no traceback
    from splitforge.load.sources import recipe_text

    train = pq.read_table(folder / "train.parquet")
    texts = recipe_text(train, validate_recipe(recipe)).to_pylist()
    assert texts and all(t.endswith(f"({r['meta']['title']})") for t, r in zip(
        texts, train.to_pylist(), strict=True))
    assert (folder / "report.html").is_file()
    with pytest.raises(RecipeError, match="fields.group: a field name, not a template"):
        validate_recipe({**recipe, "fields": {**recipe["fields"], "group": "{user}"}})
