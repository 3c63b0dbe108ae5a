"""What a worker process of the audit's training scan runs: probe one piece with every check.

Kept apart from ``scan.py`` (file readers, templates) so that a worker imports only this, the
checks it is given and NumPy and Arrow: less memory and a faster start per worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from splitforge.audit.base import AuditCheck, Found, TrainingBatch
from splitforge.normalize.boilerplate import NO_BOILERPLATE, Boilerplate
from splitforge.normalize.text import normalize_buffers

_WORKER_CHECKS: list[AuditCheck] = []
_WORKER_BOILERPLATE: list[Boilerplate] = []


def probe_all(checks: Sequence[AuditCheck], ids: Sequence[Any], data: np.ndarray,
              offsets: np.ndarray, similar: bool = False, hashes: np.ndarray | None = None,
              boilerplate: Boilerplate = NO_BOILERPLATE) -> list[Found]:
    """Normalize one piece of raw training texts, strip boilerplate, probe every check.

    A piece of similarity texts (``similar``) is probed as it is.
    """
    if similar:
        norm = pa.Array.from_buffers(pa.large_string(), len(offsets) - 1,
                                     [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    else:
        norm, hashes = normalize_buffers(data, offsets)
        if not boilerplate.empty:
            norm, hashes = boilerplate.strip(norm), None
    batch = TrainingBatch(ids, norm, hashes)
    return [check.probe(batch) for check in checks]


def init_worker(checks: list[AuditCheck], boilerplate: Boilerplate) -> None:
    """Keep the checks (their eval indexes) in this worker for every batch it probes."""
    _WORKER_CHECKS[:] = checks
    _WORKER_BOILERPLATE[:] = [boilerplate]


def probe_batch(ids: Sequence[Any], data: np.ndarray, offsets: np.ndarray, similar: bool,
                hashes: np.ndarray | None) -> list[Found]:
    """``probe_all`` with this worker's checks and boilerplate (``init_worker``)."""
    return probe_all(_WORKER_CHECKS, ids, data, offsets, similar, hashes,
                      _WORKER_BOILERPLATE[0])
