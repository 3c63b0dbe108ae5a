"""The same BERT forward pass as ``minilm._Bert``, run by ONNX Runtime: the audit's fast encoder.

The graph is written here, node by node, from the model's own weights (no PyTorch export step):
ONNX Runtime's contrib ``Attention`` (fused QKV projection, masked softmax, per-head context),
``SkipLayerNormalization`` (residual add + LayerNorm in one pass) and ``BiasGelu`` (bias + erf
GELU), the kernels its own BERT optimizer produces. On 2 CPU cores this runs several times faster
than the NumPy pass (``scripts/bench_minilm.py`` prints both), which stays the reference:
``tests/embed/test_onnx_bert.py`` checks that both give the same vectors.

``quantize=True`` stores the weights of the matrix products as int8 (dynamic quantization,
ONNX Runtime's ``quantize_dynamic``): faster again, at a cost in exactness that the audit's
calibration decides on. The built model is kept as ``<cache>/models/bert-<key>.onnx`` (key: the
weights' content hash, the graph version and the quantization; ``embed.cache.user_cache``, or a
temporary folder when that cache is off), safe to delete.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from splitforge.errors import MissingDependencyError

GRAPH_VERSION = "2"


def _require() -> None:
    for name, package in (("onnx", "onnx"), ("onnxruntime", "onnxruntime")):
        try:
            __import__(name)
        except ImportError:
            raise MissingDependencyError(package, "", "the fast embedding encoder",
                                         install=f"pip install {package}") from None


def graph(w: dict[str, np.ndarray], layers: int, heads: int, eps: float) -> Any:
    """The BERT encoder as an ONNX model.

    Inputs ``ids`` and ``mask`` (int64, batch x length); outputs ``hidden`` (the last hidden
    states) and ``pooled`` (their mean over the real tokens).
    """
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, domain: str = "", **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, domain=domain, **attrs))
        return output

    ms = "com.microsoft"
    # Embeddings: word + position + token type 0, then LayerNorm.
    word = node("Gather", [const("word", w["embeddings.word_embeddings.weight"]), "ids"], "w_emb")
    seq = node("Shape", ["ids"], "seq_len", start=1, end=2)  # [length], a 1-D tensor
    pos = node("Slice", [const("pos", w["embeddings.position_embeddings.weight"]),
                         const("zero", np.array([0], np.int64)), seq,
                         const("axis0", np.array([0], np.int64))], "p_emb")
    summed = node("Add", [node("Add", [word, pos], "wp_emb"),
                          const("type0", w["embeddings.token_type_embeddings.weight"][0])],
                  "wpt_emb")
    x = node("LayerNormalization", [summed, const("emb_g", w["embeddings.LayerNorm.weight"]),
                                    const("emb_b", w["embeddings.LayerNorm.bias"])], "emb_ln",
             axis=-1, epsilon=eps)
    mask32 = node("Cast", ["mask"], "mask32", to=TensorProto.INT32)
    for i in range(layers):
        p = f"encoder.layer.{i}."
        qkv_w = np.concatenate([w[p + f"attention.self.{n}.weight"]
                                for n in ("query", "key", "value")], axis=1)
        qkv_b = np.concatenate([w[p + f"attention.self.{n}.bias"]
                                for n in ("query", "key", "value")])
        att = node("Attention", [x, const(f"qkv_w{i}", qkv_w), const(f"qkv_b{i}", qkv_b),
                                 mask32], f"att{i}", ms, num_heads=heads)
        out = node("MatMul", [att, const(f"ao_w{i}", w[p + "attention.output.dense.weight"])],
                   f"ao{i}")
        x = node("SkipLayerNormalization",
                 [out, x, const(f"ln1_g{i}", w[p + "attention.output.LayerNorm.weight"]),
                  const(f"ln1_b{i}", w[p + "attention.output.LayerNorm.bias"]),
                  const(f"ao_b{i}", w[p + "attention.output.dense.bias"])], f"ln1_{i}", ms,
                 epsilon=eps)
        h = node("MatMul", [x, const(f"in_w{i}", w[p + "intermediate.dense.weight"])], f"in{i}")
        h = node("BiasGelu", [h, const(f"in_b{i}", w[p + "intermediate.dense.bias"])],
                 f"gelu{i}", ms)
        out = node("MatMul", [h, const(f"out_w{i}", w[p + "output.dense.weight"])], f"out{i}")
        x = node("SkipLayerNormalization",
                 [out, x, const(f"ln2_g{i}", w[p + "output.LayerNorm.weight"]),
                  const(f"ln2_b{i}", w[p + "output.LayerNorm.bias"]),
                  const(f"out_b{i}", w[p + "output.dense.bias"])], f"ln2_{i}", ms, epsilon=eps)
    nodes.append(helper.make_node("Identity", [x], ["hidden"], name="hidden"))
    weight = node("Unsqueeze", [node("Cast", ["mask"], "maskf", to=TensorProto.FLOAT),
                                const("axis2", np.array([2], np.int64))], "mask3")
    total = node("ReduceSum", [node("Mul", [x, weight], "masked"),
                               const("axis1", np.array([1], np.int64))], "total", keepdims=0)
    count = node("Max", [node("ReduceSum", [weight, "axis1"], "count", keepdims=0),
                         const("tiny", np.array(1e-9, np.float32))], "count_safe")
    nodes.append(helper.make_node("Div", [total, count], ["pooled"], name="pooled"))
    dim = w["embeddings.word_embeddings.weight"].shape[1]
    model = helper.make_model(
        helper.make_graph(
            nodes, "bert",
            [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "length"]),
             helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", "length"])],
            [helper.make_tensor_value_info("hidden", TensorProto.FLOAT,
                                           ["batch", "length", dim]),
             helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", dim])],
            inits),
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ms, 1)],
        producer_name="splitforge")
    model.ir_version = min(model.ir_version, 9)
    return model


def weights_key(w: dict[str, np.ndarray], quantize: bool) -> str:
    """Content hash of the weights, the graph version and the quantization."""
    digest = hashlib.sha256(f"graph {GRAPH_VERSION} int8 {quantize}".encode())
    for name in sorted(w):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(w[name]).tobytes())
    return digest.hexdigest()[:24]


def model_file(w: dict[str, np.ndarray], layers: int, heads: int, eps: float,
               quantize: bool, cache: Path) -> Path:
    """The ONNX file of these weights, built once and kept under ``<cache>/models``."""
    _require()
    import onnx

    folder = cache / "models"
    path = folder / f"bert-{weights_key(w, quantize)}.onnx"
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    model = graph(w, layers, heads, eps)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        plain = Path(tmp) / "plain.onnx"
        onnx.save_model(model, str(plain))
        built = plain
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            built = Path(tmp) / "int8.onnx"
            root = logging.getLogger()  # quantize_dynamic logs advice on the root logger
            quiet, root.disabled = root.disabled, True
            try:  # per channel: per-tensor scales moved cosines by up to 0.09 here
                quantize_dynamic(str(plain), str(built), weight_type=QuantType.QInt8,
                                 per_channel=True, op_types_to_quantize=["MatMul"],
                                 extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
            finally:
                root.disabled = quiet
        os.replace(built, path)  # atomic: a concurrent run sees a whole file or none
    return path


class OnnxBert:
    """``hidden`` and ``pooled`` of ``minilm._Bert``, computed by an ONNX Runtime session."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        _require()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        gpu = "CUDAExecutionProvider" in ort.get_available_providers()
        self.providers = (["CUDAExecutionProvider"] if gpu else []) + ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(path), options, providers=self.providers)
        self._least: dict[int, int] = {}

    def run(self, ids: np.ndarray, mask: np.ndarray, output: str) -> np.ndarray:
        """The ``hidden`` or ``pooled`` output for one batch."""
        return self.session.run([output], {"ids": ids.astype(np.int64),
                                           "mask": mask.astype(np.int64)})[0]

    def least_rows(self, rows: int) -> int:
        """The fewest texts a batch needs to give each text the bits a batch of ``rows`` gives.

        Probed once per session on made-up word pieces of two lengths, every batch size from
        2 to ``rows - 1``: on the CPU provider measured here any batch of 2 texts or more gives
        the bits of a batch of 8 (1 does not), so the last batch of a length is filled up to 2
        instead of ``rows`` (a third of the audit's encoder time had been copies). Where the
        probe finds a difference, and on a GPU (whose kernels are chosen by matrix size),
        ``rows``.
        """
        if rows <= 2 or "CUDAExecutionProvider" in self.providers:
            return rows
        if rows not in self._least:
            rng = np.random.default_rng(0)
            same = True
            for length in (9, 64):
                ids = rng.integers(1000, 20000, size=(rows, length))
                ids[:, 0], ids[:, -1] = 101, 102
                full = self._both(ids)
                for size in range(2, rows):
                    part = self._both(ids[:size])
                    same &= all(np.array_equal(a, b[:size]) for a, b in zip(part, full,
                                                                            strict=True))
            self._least[rows] = 2 if same else rows
        return self._least[rows]

    def _both(self, ids: np.ndarray) -> list[np.ndarray]:
        return self.session.run(["pooled", "hidden"], {"ids": ids.astype(np.int64),
                                                       "mask": np.ones_like(ids, np.int64)})
