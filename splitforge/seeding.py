"""Seeded randomness: every stage derives its own generator and hash stream from (seed, *scope).

Nothing here uses Python's ``hash()`` or a global RNG, so results do not depend on
PYTHONHASHSEED, on the order stages run in, or on the order of the input rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

_TWO_64 = float(2**64)


def _scope_key(seed: int, scope: tuple[str, ...]) -> bytes:
    label = "\x1f".join((str(int(seed)), *scope)).encode("utf-8")
    return hashlib.blake2b(label, digest_size=32).digest()


def rng_for(seed: int, *scope: str) -> np.random.Generator:
    """A NumPy generator for one stage: the same (seed, scope) always gives the same stream.

    Example:
        >>> rng_for(7, "split", "random").integers(0, 100, 3).tolist() == \
        ...     rng_for(7, "split", "random").integers(0, 100, 3).tolist()
        True
    """
    entropy = int.from_bytes(_scope_key(seed, scope)[:16], "little")
    return np.random.default_rng(np.random.SeedSequence(entropy))


def stable_hash64(keys: Iterable[str], seed: int = 0, *scope: str) -> np.ndarray:
    """Seeded 64-bit hashes (blake2b, keyed by seed and scope) of strings, as a uint64 array."""
    key = _scope_key(seed, scope)
    blake = hashlib.blake2b
    return np.fromiter(
        (
            int.from_bytes(blake(k.encode("utf-8"), digest_size=8, key=key).digest(), "little")
            for k in keys
        ),
        dtype=np.uint64,
    )


def stable_uniform(keys: Iterable[str], seed: int, *scope: str) -> np.ndarray:
    """A number in [0, 1) for each key, from a seeded hash of the key alone (not its position).

    Adding or removing other keys never changes a key's number, which is what makes hash-based
    splits stable when data is added.
    """
    return stable_hash64(keys, seed, *scope).astype(np.float64) / _TWO_64
