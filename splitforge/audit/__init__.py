"""The audit stage; ``splitforge.audit(...)`` calls ``splitforge.api.audit``.

The names below load their module when first used: a worker process of the training scan
imports ``splitforge.audit.probe`` and the checks it is given, not every check, the file readers
and what they import. ``CHECKS`` (and ``splitforge.audit.run``) loads every check.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

_HOMES = {
    "CHECKS": "base", "AuditCheck": "base", "CheckResult": "base", "NgramIndex": "base",
    "TrainingBatch": "base",
    "EmbeddingCheck": "embedding", "EmbeddingResult": "embedding",
    "ExactCheck": "exact", "ExactResult": "exact",
    "MinHashCheck": "minhash", "MinHashResult": "minhash",
    "NgramOverlapCheck": "ngram_overlap", "NgramOverlapResult": "ngram_overlap",
    "iter_training_batches": "scan", "read_eval": "scan", "scan_training": "scan",
}

__all__ = sorted(_HOMES)


_CHECK_MODULES = ("exact", "ngram_overlap", "minhash", "embedding")  # each registers its check


def __getattr__(name: str) -> Any:
    if name == "CHECKS":  # the registry with every check in it
        for module in _CHECK_MODULES:
            importlib.import_module(f"{__name__}.{module}")
    if name in _HOMES:
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:  # a submodule
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


from splitforge.api import callable_package  # noqa: E402

callable_package(__name__, "audit")
