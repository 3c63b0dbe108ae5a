"""The stage cache: a re-run reuses what came before the split, and the audit before its gate.

The load, normalize, boilerplate and dedup stages depend only on the inputs' bytes, the recipe's
``sources``, ``fields``, ``control``, ``boilerplate`` and ``dedup`` sections and the stage
versions, so their result is stored under ``<output root>/.cache/stages/<key>/`` with ``key`` a
fingerprint of exactly these. A build whose split, audit, challenge or output settings changed
starts from there; the audit's result before its gate (``audit_key``: that entry, the split,
the seed, the ``audit`` section but ``fail_on``, the ``against`` hashes) is kept as well, so a
new ``fail_on`` runs neither. An entry is written whole or not at all (a temporary folder
renamed into place) and the folder is safe to delete; an unreadable entry is removed and
rebuilt. ``output.cache: false`` turns it off. The outputs are the same bytes either way.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from splitforge.fingerprint import fingerprint
from splitforge.load.sources import SourceInfo
from splitforge.normalize.boilerplate import Boilerplate

STAGES = Path(".cache") / "stages"
SECTIONS = ("sources", "fields", "control", "boilerplate", "dedup")
VERSION = "2"  # 2: audit evidence texts, embedding attribution and numbers (#14, #19)


@dataclass
class Prepared:
    """What the stages before the split give the rest of a build."""

    table: pa.Table
    keep: np.ndarray
    removed: pa.Table
    clusters: pa.Table
    stats: dict[str, Any]
    boilerplate: Boilerplate
    sources: list[SourceInfo]
    rejected: list[dict[str, Any]]
    rows_loaded: int
    control: pa.Table | None = None
    control_info: dict[str, Any] | None = None


def cache_key(resolved: dict[str, Any], input_hashes: list[str], versions: dict[str, str],
              splitforge_version: str) -> str:
    """The fingerprint of everything the stages before the split read."""
    used = {k: v for k, v in versions.items() if k.startswith(("load", "normalize", "dedup"))}
    return fingerprint("splitforge-stage-cache", VERSION, splitforge_version, used,
                       {k: resolved.get(k) for k in SECTIONS}, input_hashes)[:32]


def cached(root: Path, key: str) -> bool:
    """Whether the cache holds an entry for ``key`` (it may still turn out unreadable)."""
    return (root / STAGES / key / "meta.json").is_file()


def load_prepared(root: Path, key: str) -> Prepared | None:
    """The cached stages of ``key`` under the output ``root``, or None (missing or unreadable)."""
    folder = root / STAGES / key
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        arrays = np.load(folder / "arrays.npz")
        rounds = []
        for entry in meta["boilerplate_rounds"]:
            rounds.append({(bool(char), int(n)): arrays[name] for char, n, name in entry})
        control = _read(folder / "control.arrow") if meta["has_control"] else None
        return Prepared(
            table=_read(folder / "table.arrow"), keep=arrays["keep"].astype(bool),
            removed=_read(folder / "removed.arrow"), clusters=_read(folder / "clusters.arrow"),
            stats=meta["stats"], boilerplate=Boilerplate(tuple(rounds), meta["boilerplate"]),
            sources=[SourceInfo(**{**s, "notes": tuple(s["notes"])}) for s in meta["sources"]],
            rejected=meta["rejected"], rows_loaded=int(meta["rows_loaded"]), control=control,
            control_info=meta["control_info"])
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        shutil.rmtree(folder, ignore_errors=True)  # ours, and unreadable: rebuilt by this run
        return None


def store_prepared(root: Path, key: str, prepared: Prepared) -> None:
    """Write the stages of ``key`` into the cache (a failure to write is no error: no cache)."""

    def write(tmp: Path) -> None:
        _write(tmp / "table.arrow", prepared.table)
        _write(tmp / "removed.arrow", prepared.removed)
        _write(tmp / "clusters.arrow", prepared.clusters)
        if prepared.control is not None:
            _write(tmp / "control.arrow", prepared.control)
        arrays: dict[str, np.ndarray] = {"keep": prepared.keep}
        rounds = []
        for r, hot in enumerate(prepared.boilerplate.rounds):
            entry = []
            for (char, n), values in sorted(hot.items()):
                name = f"hot_{r}_{int(char)}_{n}"
                arrays[name] = values
                entry.append([bool(char), int(n), name])
            rounds.append(entry)
        np.savez(tmp / "arrays.npz", **arrays)
        _meta(tmp, {"stats": prepared.stats, "boilerplate": prepared.boilerplate.summary,
                    "boilerplate_rounds": rounds,
                    "sources": [{**asdict(s), "notes": list(s.notes)} for s in prepared.sources],
                    "rejected": prepared.rejected, "rows_loaded": prepared.rows_loaded,
                    "has_control": prepared.control is not None,
                    "control_info": prepared.control_info})

    _store(root / STAGES / key, write)


def _store(folder: Path, write: Any) -> None:
    """``write(tmp)`` into a temporary folder, renamed to ``folder`` when whole; no error."""
    if folder.is_dir():
        return
    _remove_dead(folder.parent)
    tmp = folder.with_name(f".tmp-{folder.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        tmp.mkdir(parents=True)
        write(tmp)
        os.rename(tmp, folder)
    except OSError:
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _remove_dead(stages: Path) -> None:
    """Temporary folders of runs that died while writing an entry (their pid is gone)."""
    for tmp in stages.glob(".tmp-*") if stages.is_dir() else []:
        try:
            pid = int(tmp.name.rsplit("-", 2)[-2])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(tmp, ignore_errors=True)
        except (ValueError, PermissionError, IndexError):
            continue


def _meta(folder: Path, meta: dict[str, Any]) -> None:
    """``meta.json``, written last: an entry without it is not read (``cached``)."""
    (folder / "meta.json").write_text(json.dumps(meta, default=_plain), encoding="utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _write(path: Path, table: pa.Table) -> None:
    options = ipc.IpcWriteOptions(compression="zstd")
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema,
                                                          options=options) as writer:
        writer.write_table(table)


def _read(path: Path) -> pa.Table:
    with pa.OSFile(str(path), "rb") as source:
        return ipc.open_file(source).read_all()


def audit_key(prepared_key: str, resolved: dict[str, Any], against_hashes: list[str]) -> str:
    """The fingerprint of what the build's audit reads, but for its gate (``fail_on``)."""
    audit = {k: v for k, v in (resolved.get("audit") or {}).items() if k != "fail_on"}
    return fingerprint("splitforge-audit-cache", VERSION, prepared_key, resolved.get("split"),
                       resolved.get("seed"), audit, against_hashes)[:32]


def load_audit(root: Path, key: str) -> Any | None:
    """A cached audit before its gate (``AuditRunResult``), or None."""
    from splitforge.audit.run import AuditRunResult

    folder = root / STAGES / f"audit-{key}"
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        return AuditRunResult(
            _read(folder / "audit.arrow"), meta["summary"], False, None,
            np.asarray(meta["removed_rows"], dtype=np.int64),
            np.asarray(meta["removed_reasons"], dtype=object),
            np.asarray(meta["removed_evidence"], dtype=object))
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        shutil.rmtree(folder, ignore_errors=True)
        return None


def store_audit(root: Path, key: str, result: Any) -> None:
    """Write an audit before its gate into the cache (a failure to write is no error)."""

    def write(tmp: Path) -> None:
        _write(tmp / "audit.arrow", result.table)
        _meta(tmp, {"summary": result.summary, "removed_rows": result.removed_rows.tolist(),
                    "removed_reasons": list(result.removed_reasons),
                    "removed_evidence": list(result.removed_evidence)})

    _store(root / STAGES / f"audit-{key}", write)
