"""The audit stage; ``splitforge.audit(...)`` calls ``splitforge.api.audit``."""

from splitforge.audit.base import CHECKS, AuditCheck, CheckResult, NgramIndex, TrainingBatch
from splitforge.audit.embedding import EmbeddingCheck, EmbeddingResult
from splitforge.audit.exact import ExactCheck, ExactResult
from splitforge.audit.minhash import MinHashCheck, MinHashResult
from splitforge.audit.ngram_overlap import NgramOverlapCheck, NgramOverlapResult
from splitforge.audit.scan import iter_training_batches, read_eval, scan_training

__all__ = [
    "CHECKS",
    "AuditCheck",
    "CheckResult",
    "EmbeddingCheck",
    "EmbeddingResult",
    "ExactCheck",
    "ExactResult",
    "MinHashCheck",
    "MinHashResult",
    "NgramIndex",
    "NgramOverlapCheck",
    "NgramOverlapResult",
    "TrainingBatch",
    "iter_training_batches",
    "read_eval",
    "scan_training",
]

from splitforge.api import callable_package  # noqa: E402

callable_package(__name__, "audit")
