"""Build folders: ``DIR/<name>/<build_id>/``, written to a temporary folder and moved into place.

An interrupted build leaves no partial version; an existing version is replaced only with
``force``; ``DIR/<name>/latest`` points to the newest build. Every folder splitforge writes
holds a ``.splitforge`` marker, and ``--force`` replaces only such a folder, never one that
holds or lies inside a command's inputs, nor the current folder or a parent of it
(``replaceable``).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from splitforge.errors import OutputError

LATEST = "latest"
MARKER = ".splitforge"
_MARKER_TEXT = "written by splitforge: `--force` may replace this folder\n"


def check_target(target: Path, force: bool, inputs: Iterable[Path] = ()) -> None:
    """Refuse, before any work, an output folder that a command must not write or replace.

    The target must not be, hold or lie inside any of ``inputs``, and must not be the current
    folder or a parent of it (``--force`` would delete them). An existing target needs
    ``force``, and is replaced only when splitforge wrote it (it holds the ``.splitforge``
    marker) and it is a real folder, not a link.

    Raises:
        OutputError: With the reason, naming the path.
    """
    where = Path(os.path.abspath(target))
    resolved = where.resolve()
    for given in inputs:
        source = Path(given).resolve()
        if source.is_relative_to(resolved):
            raise OutputError(f"{target}: holds the input {given}; writing or replacing it "
                              f"would destroy the input; choose an output folder outside it")
        if resolved.is_relative_to(source):
            raise OutputError(f"{target}: lies inside the input {given}; choose an output "
                              f"folder outside it")
    if Path.cwd().resolve().is_relative_to(resolved):
        raise OutputError(f"{target}: is the current folder or a parent of it; choose a new "
                          f"folder for the output")
    if not (where.exists() or where.is_symlink()):
        return
    if not force:
        raise OutputError(f"{target} already exists; pass --force to replace it")
    if where.is_symlink():
        raise OutputError(f"{target}: is a symbolic link; splitforge does not write through "
                          f"links: remove it or choose another folder")
    if not where.is_dir() or not (where / MARKER).is_file():
        raise OutputError(f"{target}: exists and was not written by splitforge (it has no "
                          f"{MARKER} marker); --force replaces only splitforge's own output "
                          f"folders: move it away or choose another folder")


@contextmanager
def staging_folder(root: Path, build_id: str) -> Iterator[Path]:
    """A fresh hidden folder beside the final one, with the marker; removed if the build fails."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {root}: {exc.strerror}") from None
    staging = root / f".tmp-{build_id}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    (staging / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
    try:
        yield staging
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def publish(staging: Path, final: Path, force: bool, latest: bool = True) -> None:
    """Move a complete build into place; an existing one only as ``check_target`` allows."""
    if final.exists() or final.is_symlink():
        check_target(final, force)
        old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(final)
    if latest:
        point_latest(final)


def point_latest(final: Path) -> None:
    """Point ``<name>/latest`` at ``final``: a relative link, or a text file where links fail."""
    link = final.parent / LATEST
    if link.is_symlink() and os.readlink(link) == final.name:
        return
    tmp = final.parent / f".{LATEST}-{uuid.uuid4().hex[:8]}"
    try:
        os.symlink(final.name, tmp, target_is_directory=True)
    except OSError:
        tmp.write_text(final.name + "\n", encoding="utf-8")
    if link.is_dir() and not link.is_symlink():
        tmp.unlink()
        raise OutputError(f"{link}: a real folder, not the link splitforge keeps there; the "
                          f"build was written to {final}, but `latest` was left alone: move "
                          f"that folder away and build again")
    os.replace(tmp, link)
