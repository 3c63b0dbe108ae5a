from splitforge.embed.base import EMBEDDERS, Embedder, l2_normalize
from splitforge.embed.minilm import MiniLMEmbedder
from splitforge.embed.neighbors import Neighbours, build_index, gpu_available, nearest
from splitforge.embed.sentence_transformers import SentenceTransformerEmbedder
from splitforge.embed.tfidf import TfidfEmbedder

__all__ = [
    "EMBEDDERS",
    "Embedder",
    "MiniLMEmbedder",
    "Neighbours",
    "SentenceTransformerEmbedder",
    "TfidfEmbedder",
    "build_index",
    "gpu_available",
    "l2_normalize",
    "nearest",
]
