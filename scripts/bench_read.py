"""JSON Lines read speed: splitforge's reader (hashing what it parses) next to bare pyarrow.

    python scripts/bench_read.py [--copies 3] [--rounds 3]

Writes the shared commit corpus ``--copies`` times into one plain JSONL file (in a temporary
folder), then times, round by round, ``pyarrow.json.read_json`` alone (the reference: no line
numbers, no UTF-8 check, no hash) and ``splitforge.load.readers.read_jsonl`` (parse, line scan,
UTF-8 check and the sha256 of the bytes parsed), and prints MB/s of each.
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path

import pyarrow.json as pj

from splitforge.load.readers import read_jsonl

SOURCE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "temporal" / (
    "oss_commit_messages.jsonl.gz")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "corpus.jsonl"
        data = gzip.decompress(SOURCE.read_bytes())
        path.write_bytes(data * args.copies)
        size = path.stat().st_size / 1e6
        lines = data.count(b"\n") * args.copies
        print(f"{size:,.0f} MB, {lines:,} lines")
        for round_ in range(args.rounds):
            for name, read in (("pyarrow.json.read_json", lambda: pj.read_json(path)),
                               ("splitforge read_jsonl", lambda: read_jsonl(path, "fail"))):
                start = time.perf_counter()
                read()
                seconds = time.perf_counter() - start
                print(f"round {round_}: {name:24s} {seconds:6.2f} s  {size / seconds:6.0f} MB/s")


if __name__ == "__main__":
    main()
