"""The dedup stage; ``splitforge.dedup(...)`` calls ``splitforge.api.dedup``."""

from splitforge.dedup.base import DEDUPERS, Deduper, DedupResult, Links, deduplicate
from splitforge.dedup.clusters import Clusters, UnionFind, survivors
from splitforge.dedup.exact import ExactDeduper
from splitforge.dedup.minhash import MinHashDeduper
from splitforge.dedup.semantic import SemanticDeduper

__all__ = [
    "DEDUPERS",
    "Clusters",
    "DedupResult",
    "Deduper",
    "ExactDeduper",
    "Links",
    "MinHashDeduper",
    "SemanticDeduper",
    "UnionFind",
    "deduplicate",
    "survivors",
]

from splitforge.api import callable_package  # noqa: E402

callable_package(__name__, "dedup")
