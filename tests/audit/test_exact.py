import pyarrow as pa

from splitforge.audit import ExactCheck
from tests.audit.conftest import norm_all, run, table_rows


def test_exact_match_reports_the_smallest_training_id():
    evals = norm_all(["What is 2 + 2?", "Name the capital of France.", "nothing like this"])
    check = ExactCheck(evals)
    result = run(check, [(["t9", "t10", "t3"], ["what is 2 + 2?", "WHAT  is 2 + 2?",
                                                 "the capital of france"])])
    assert result.matched.tolist() == [True, False, False]
    assert result.match_id == ["t10", None, None]  # "t10" < "t9" in string order
    assert result.evidence_id == ["t10", None, None]
    assert result.flagged.tolist() == [True, False, False]
    assert result.summary["n_matched"] == 1 and result.summary["n_flagged"] == 1


def test_short_item_contained_in_a_longer_training_text():
    evals = norm_all(["what is the capital of france", "capital of"])
    result = run(ExactCheck(evals, n=13), [(["a", "b"], [
        "Quiz: what is the CAPITAL of France answer paris", "capitals of the world"])])
    assert result.contained.tolist() == [True, True]
    assert result.matched.tolist() == [False, False]
    assert result.contained_id == ["a", "a"]
    assert result.tokens.tolist() == [6, 2]


def test_containment_respects_word_boundaries():
    result = run(ExactCheck(["cat sat"]), [(["a"], ["the concat sat down"])])
    assert not result.contained[0]
    result = run(ExactCheck(["cat sat"]), [(["a"], ["the cat sat down"])])
    assert result.contained[0]


def test_long_item_contained_and_anchor_only_match_is_verified():
    item = " ".join(f"w{i}" for i in range(30))
    middle_changed = item.replace("w15", "zzz")
    check = ExactCheck([item], n=5)
    result = run(check, [(["x1"], [middle_changed]), (["x2"], ["prefix words " + middle_changed])])
    assert not result.contained[0]  # both anchors present, the middle differs
    check = ExactCheck([item], n=5)
    result = run(check, [(["x1", "x2"], [middle_changed, "some prefix " + item + " and more"])])
    assert result.contained_id == ["x2"]
    assert result.score.tolist() == [1.0]


def test_cjk_item_contained_in_a_training_text(belle_questions):
    question = next(q for q in belle_questions if len(q) > 30)
    evals = norm_all([question, belle_questions[1]])
    training = ["这是一段训练数据，其中包括：" + question + "以及更多内容。",
                "Mostly English text with a quote: " + question]
    result = run(ExactCheck(evals), [(["zh", "en"], training)])
    assert result.contained.tolist() == [True, False]
    assert result.contained_id == ["en", None]  # "en" < "zh"


def test_empty_items_are_never_flagged():
    result = run(ExactCheck(["", "a b"]), [(["t", "u"], ["", "x y"])])
    assert result.flagged.tolist() == [False, False]
    assert result.summary["empty_items"] == 1


def test_without_containment_only_equal_texts_count():
    result = run(ExactCheck(["a b c"], containment=False), [(["t"], ["x a b c y"])])
    assert not result.flagged[0]


def test_table_columns():
    result = run(ExactCheck(["a b"]), [(["t"], ["a b"])])
    table = result.to_table()
    assert table.column_names == ["is_exact_issue", "exact_score", "exact_evidence_id",
                                  "exact_matched", "exact_match_id", "exact_contained",
                                  "exact_contained_id", "exact_tokens"]
    assert table_rows(result)[0]["exact_evidence_id"] == "t"
    assert table.schema.field("is_exact_issue").type == pa.bool_()


def test_an_eval_set_of_empty_items_is_audited_not_crashed():
    result = run(ExactCheck(["", " "]), [(["a", "b"], ["some training text", ""])])
    assert result.flagged.tolist() == [False, False]
    assert result.evidence_id == [None, None]


def test_char_unit_finds_items_in_latin_training_rows_too():
    # unit: char cuts every row into characters, not only rows that may hold CJK text
    hit = run(ExactCheck(["hello world foo"], unit="char"), [(["a"], ["say hello world foo now"])])
    assert hit.contained.tolist() == [True] and hit.contained_id == ["a"]
