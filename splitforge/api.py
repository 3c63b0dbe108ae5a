"""The Python API beside ``build``: ``splitforge.audit(...)`` and ``splitforge.dedup(...)``.

Each mirrors its command (same arguments, same results) and also takes in-memory tables
(pandas DataFrames, ``datasets`` Datasets, Arrow tables), written to a temporary Parquet file for
the call. ``self_test`` is the audit's self-test alone, on texts in memory.
``splitforge.audit`` and ``splitforge.dedup`` are also the names of subpackages: once one is
imported the name is the package, which ``callable_package`` makes callable with the same
function, so ``splitforge.audit(...)`` works in either case.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from splitforge.audit.run import AuditRunResult
    from splitforge.audit.selftest import SelfTestResult
    from splitforge.dedup.run import DedupRunResult


def audit(train: Any, eval: Any = None, *, build: Any = None, **kwargs: Any) -> AuditRunResult:
    """``splitforge audit``: eval items (files, tables or a build) against training data.

    ``train`` and ``eval`` are a path, an in-memory table (DataFrame, Dataset, Arrow) or a list
    of them; ``build`` a build folder whose val/test rows are the eval items.

    Keyword arguments as ``splitforge.audit.run.audit_files`` (``text``, ``train_text``,
    ``eval_text``, ``id_field``, ``methods``, ``fail_on``, ``report`` ...); with
    ``self_test=True`` the result's ``self_test`` measures the audit on planted copies.
    """
    from splitforge.audit.run import audit_files

    with _staged(train) as trains, _staged(eval) as evals:
        return audit_files(trains, evals, build_dir=build, **kwargs)


def self_test(train: Any, eval: Any, **kwargs: Any) -> SelfTestResult:
    """The audit's self-test alone, on texts in memory: recall per kind of planted copy.

    ``train`` and ``eval`` are texts (a list of strings, a pandas Series, an Arrow array).
    Keyword arguments as ``splitforge.audit.selftest.self_test`` (``methods``, ``ngram``,
    ``thresholds``, ``embedding_model``, ``seed``, ``items``, ``rows`` ...).
    """
    from splitforge.audit.selftest import self_test as run_self_test

    return run_self_test(train, eval, **kwargs)


def dedup(source: Any, *, text: str, out: Any, **kwargs: Any) -> DedupRunResult:
    """``splitforge dedup``: the dedup stage alone on one file or in-memory table.

    Keyword arguments as ``splitforge.dedup.run.dedup_file`` (``id_field``, ``methods``,
    ``minhash``, ``keep``, ``force``).
    """
    from splitforge.dedup.run import dedup_file

    with _staged(source) as staged:
        return dedup_file(staged[0], text=text, out=out, **kwargs)


class _staged:
    """Paths for files, tables written to a temporary folder for the call (a list either way)."""

    def __init__(self, values: Any) -> None:
        if values is None:
            values = []
        self.values = values if isinstance(values, list | tuple) else [values]

    def __enter__(self) -> list[Any]:
        import tempfile
        from pathlib import Path

        from splitforge.load.memory import as_arrow, write_input

        self.tmp = tempfile.TemporaryDirectory(prefix="splitforge-")
        out = []
        for value in self.values:
            table = None if isinstance(value, str | Path) else as_arrow(value)
            out.append(value if table is None else write_input(table, Path(self.tmp.name)))
        return out

    def __exit__(self, *exc: object) -> None:
        self.tmp.cleanup()


def callable_package(name: str, function: str) -> None:
    """Make the package ``name`` callable as ``splitforge.<function>``."""

    class _Package(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return getattr(sys.modules[__name__], function)(*args, **kwargs)

    sys.modules[name].__class__ = _Package
