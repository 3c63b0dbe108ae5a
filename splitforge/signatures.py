"""MinHash signatures and LSH band keys of shingle hashes, shared by dedup and the audit.

Signatures follow datasketch 2.x's default ``affine32`` scheme exactly: each 32-bit shingle hash
``h`` is mixed once with MurmurHash3's 32-bit finalizer, then permutation ``k`` maps it to
``a_k * h + b_k mod 2^32`` (``a_k`` odd), with ``a, b`` drawn from
``numpy.random.RandomState(seed)`` as ``datasketch.MinHash(num_perm, seed)`` draws them; the
signature is the minimum per permutation. A module of its own (NumPy only): the audit's worker
processes import it without the dedup stage and what that imports.
"""

from __future__ import annotations

import numpy as np

from splitforge.normalize.shingles import fmix64, shingle_hashes

_MAX = np.uint32(0xFFFFFFFF)


def fmix32(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, as datasketch applies it before the permutations."""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x85EBCA6B)
    x = x ^ (x >> np.uint32(13))
    x = x * np.uint32(0xC2B2AE35)
    return x ^ (x >> np.uint32(16))


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The affine32 permutations ``(a, b)`` that ``datasketch.MinHash(num_perm, seed)`` uses."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def signatures(values: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MinHash signatures (rows x num_perm, uint32) of grouped 32-bit shingle hashes.

    One permutation at a time over a contiguous buffer: the working set stays in cache and
    ``minimum.reduceat`` runs over contiguous memory.
    """
    n = len(offsets) - 1
    out = np.full((n, len(a)), _MAX, dtype=np.uint32)
    counts = np.diff(offsets)
    filled = np.flatnonzero(counts > 0)
    if not len(filled):
        return out
    mixed = fmix32(values.astype(np.uint32))
    starts = offsets[filled]
    buffer = np.empty_like(mixed)
    block = np.empty((len(filled), len(a)), dtype=np.uint32)
    for k in range(len(a)):
        np.multiply(mixed, a[k], out=buffer)
        np.add(buffer, b[k], out=buffer)
        block[:, k] = np.minimum.reduceat(buffer, starts)
    out[filled] = block
    return out


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """The optimal (bands, rows) for a threshold, read from datasketch's MinHashLSH itself."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return int(lsh.b), int(lsh.r)


def band_keys(sig: np.ndarray, band: int, rows: int) -> np.ndarray:
    """One uint64 bucket key per signature for a band (the audit's MinHash check uses it too)."""
    mixers = fmix64(np.arange(1, rows + 1, dtype=np.uint64))
    cols = sig[:, band * rows:(band + 1) * rows].astype(np.uint64)
    return fmix64((cols * mixers[None, :]).sum(axis=1, dtype=np.uint64) + np.uint64(band))


def batch_signatures(data: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int,
                     ngram: int, char_ngram: int, unit: str) -> np.ndarray:
    """Signatures of one batch of text buffers: what a dedup worker process runs."""
    a, b = permutations(num_perm, seed)
    shingles = shingle_hashes((data, offsets), ngram, char_ngram, unit)
    return signatures(shingles.values, shingles.offsets, a, b)
