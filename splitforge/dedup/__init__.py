from splitforge.dedup.base import DEDUPERS, Deduper, DedupResult, Links, deduplicate
from splitforge.dedup.clusters import Clusters, UnionFind, survivors
from splitforge.dedup.exact import ExactDeduper
from splitforge.dedup.minhash import MinHashDeduper

__all__ = [
    "DEDUPERS",
    "Clusters",
    "DedupResult",
    "Deduper",
    "ExactDeduper",
    "Links",
    "MinHashDeduper",
    "UnionFind",
    "deduplicate",
    "survivors",
]
