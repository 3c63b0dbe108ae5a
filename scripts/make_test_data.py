"""Cut the real-data slices that the tests read (tests/data/real/) from ../shared/data.

    python scripts/make_test_data.py

A fresh clone runs its tests on these slices alone; this script only documents (and repeats)
how they were cut. Row text is never changed: a slice is whole lines of the shared file, in its
order, so line numbers inside the first rows are the shared file's own. Sources and licenses are
in tests/data/README.md.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
OUT = REPO / "tests" / "data" / "real"

WHOLE = ["eval/gsm8k_test.jsonl", "eval/gsm8k_train.jsonl.gz", "eval/humaneval.jsonl",
         "contamination/mmlu_rephrased_translated_pairs.jsonl.gz",
         "instruct/instructionwild_v2_user_1-3.raw.jsonl"]
# (file, first lines kept whole, then every k-th line after them; 0: none after)
SLICES = [("eval/belle_eval_set_zh.jsonl", 300, 0),
          ("contamination/humaneval_rephrased_pairs.jsonl.gz", 100, 0),
          ("instruct/alpaca_en_zh_52k.jsonl.gz", 300, 0),
          ("temporal/oss_commit_messages.jsonl.gz", 2000, 20)]
LF = "formats/llamafactory/"
# LLaMA-Factory's demo files: whole, or (JSON arrays) the first records and named extra ones
# (0-based: glaive 101/217 and 263 repeat earlier conversations with other tools; dpo 157 and
# 248 repeat 13 and 28 whole), or (lines) the first lines.
LF_WHOLE = ["dataset_info.json", "identity.json", "mllm_demo.json", "v1_multimodal_demo.jsonl"]
LF_RECORDS = {"alpaca_en_demo.json": (100, []), "glaive_toolcall_en_demo.json": (110, [217, 263]),
              "dpo_en_demo.json": (40, [157, 248]), "kto_en_demo.json": (40, [])}
LF_LINES = {"c4_demo.jsonl": 60, "v1_sft_demo.jsonl": 100, "wiki_demo.txt": 5}
# single lines beyond the head that a test names by position (file, 0-based line)
EXTRA = {"instruct/alpaca_en_zh_52k.jsonl.gz": [8054]}


def _lines(path: Path) -> list[bytes]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        return handle.read().splitlines(keepends=True)


def _write(path: Path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(lines)
    if path.suffix == ".gz":
        # mtime 0 and no file name: the same bytes every time
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                     filename="") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)


def main() -> None:
    for rel in WHOLE:
        (OUT / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHARED / rel, OUT / rel)
        print(f"{rel}: whole file")
    for rel, head, every in SLICES:
        lines = _lines(SHARED / rel)
        kept = lines[:head] + (lines[head::every] if every else [])
        extra = [lines[i] for i in EXTRA.get(rel, [])]
        _write(OUT / rel, kept + extra)
        print(f"{rel}: {len(kept) + len(extra):,} of {len(lines):,} lines")
    _llamafactory()


def _llamafactory() -> None:
    import json

    for name in LF_WHOLE:
        _write(OUT / LF / name, [(SHARED / LF / name).read_bytes()])
    for name, (head, extra) in LF_RECORDS.items():
        records = json.loads((SHARED / LF / name).read_text("utf-8"))
        kept = records[:head] + [records[i] for i in extra]
        text = json.dumps(kept, ensure_ascii=False, indent=2) + "\n"
        _write(OUT / LF / name, [text.encode("utf-8")])
        print(f"{LF}{name}: {len(kept)} of {len(records)} records")
    for name, head in LF_LINES.items():
        lines = _lines(SHARED / LF / name)
        _write(OUT / LF / name, lines[:head])
        print(f"{LF}{name}: {head} of {len(lines)} lines")


if __name__ == "__main__":
    main()
