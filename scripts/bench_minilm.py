"""Time the NumPy MiniLM encoder beside sentence-transformers (PyTorch) on the same texts.

    .venv/bin/python scripts/bench_minilm.py            # NumPy only
    /tmp/stvenv/bin/python scripts/bench_minilm.py      # both, where sentence-transformers and
                                                        # torch==2.13.0 are installed

Texts: the first --texts Alpaca rows (instruction, input and output), the kind of training text
the audit's embedding check verifies. Prints texts/s and the largest difference of the vectors.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=600)
    args = parser.parse_args()
    with gzip.open(DATA / "instruct" / "alpaca_en_zh_52k.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(next(f)) for _ in range(args.texts)]
    texts = ["\n".join(x for x in (r["en_instruction"], r["en_input"], r["en_output"]) if x)
             for r in rows]
    from splitforge.embed.minilm import MiniLMEmbedder, model_folder

    ours = MiniLMEmbedder()
    ours.embed(texts[:8])
    start = time.perf_counter()
    mine = ours.embed(texts)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"splitforge MiniLMEmbedder (NumPy): {len(texts) / seconds:.1f} texts/s "
          f"({seconds:.1f} s), peak RSS {peak:.0f} MB")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        print("sentence-transformers: not installed here (see the docstring)")
        return
    model = SentenceTransformer(str(model_folder()), device="cpu")
    model.encode(texts[:8])
    start = time.perf_counter()
    theirs = model.encode(texts, batch_size=32, normalize_embeddings=True)
    seconds = time.perf_counter() - start
    print(f"sentence-transformers (PyTorch CPU): {len(texts) / seconds:.1f} texts/s "
          f"({seconds:.1f} s); largest difference of a vector component "
          f"{np.abs(mine - theirs).max():.1e}")


if __name__ == "__main__":
    main()
