"""The embedding check's precision and recall on real short text: titles and one-line sentences.

- commit subjects: 600 distinct subjects (4 words or more) against 20,000 other distinct subjects
  of ``temporal/oss_commit_messages.jsonl.gz``: every flag is a text that is not a copy;
- STS-B English, pairs scored <= 2 (not paraphrases): each first sentence against all second
  sentences of those pairs (1,500): flags are false;
- STS-B English, pairs scored >= 4.6 (paraphrases): the same, flags are found.

``audit_files`` with ``methods=("embedding",)`` at its defaults.

    .venv/bin/python scripts/calibrate_short_embedding.py
"""

from __future__ import annotations

import gzip
import json
import random
import tempfile
from pathlib import Path

from calibrate_paraphrase import DATA

from splitforge.audit.run import audit_files
from splitforge.normalize.text import normalize_text


def flagged(name: str, train: list[str], evals: list[str], folder: Path) -> int:
    paths = []
    for side, texts in (("train", train), ("eval", evals)):
        path = folder / f"{name}_{side}.jsonl"
        path.write_text("".join(json.dumps({"id": f"{side}-{k}", "text": t}) + "\n"
                                for k, t in enumerate(texts)), encoding="utf-8")
        paths.append(path)
    result = audit_files([paths[0]], [paths[1]], train_text="text", eval_text="text",
                         id_field="id", methods=("embedding",), fail_on="never")
    return sum(r["verdict"] != "clean" for r in result.table.to_pylist())


def main() -> None:
    rng = random.Random(0)
    seen: set[str] = set()
    subjects = []
    with gzip.open(DATA / "temporal" / "oss_commit_messages.jsonl.gz", "rt",
                   encoding="utf-8") as handle:
        for line in handle:
            subject = json.loads(line)["subject"]
            norm = normalize_text(subject)
            if len(norm.split()) >= 4 and norm not in seen:
                seen.add(norm)
                subjects.append(subject)
    rng.shuffle(subjects)
    with gzip.open(DATA / "paraphrase" / "stsb_en_zh.jsonl.gz", "rt", encoding="utf-8") as f:
        pairs = [p for p in map(json.loads, f) if p["lang"] == "en"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        n = flagged("commits", subjects[600:20600], subjects[:600], folder)
        print(f"commit subjects (600 vs 20,000 others): {n} flagged = {n / 600:.2%}")
        for label, chosen in (("STS-B <= 2, not paraphrases", [p for p in pairs
                                                              if p["score"] <= 2.0][:1500]),
                              ("STS-B >= 4.6, paraphrases", [p for p in pairs
                                                             if p["score"] >= 4.6][:1500])):
            n = flagged(label[:5], [p["sentence2"] for p in chosen],
                        [p["sentence1"] for p in chosen], folder)
            print(f"{label} ({len(chosen):,} pairs): {n} flagged = {n / len(chosen):.2%}")


if __name__ == "__main__":
    main()
