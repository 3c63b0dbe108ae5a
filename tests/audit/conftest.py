import gzip
import json

import pytest

from splitforge.audit import scan_training
from splitforge.normalize import normalize_text
from tests.conftest import real_data


def run(check, batches):
    """Feed (ids, raw texts) batches to one check the way scan_training does, in one process."""
    return scan_training([check], batches, num_proc=1)[0]


def norm_all(texts):
    return [normalize_text(t) for t in texts]


def table_rows(result) -> list[dict]:
    return result.to_table().to_pylist()


@pytest.fixture(scope="session")
def belle_questions() -> list[str]:
    path = real_data("eval/belle_eval_set_zh.jsonl")
    return [json.loads(line)["question"] for line in path.open(encoding="utf-8")]


def mmlu_pairs() -> list[dict]:
    """MMLU items (3 subjects) with their English rephrase and Chinese translation."""
    with gzip.open(real_data("contamination/mmlu_rephrased_translated_pairs.jsonl.gz"), "rt",
                   encoding="utf-8") as f:
        return [json.loads(line) for line in f]
