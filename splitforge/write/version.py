"""Build folders: ``DIR/<name>/<build_id>/``, written to a temporary folder and moved into place.

An interrupted build leaves no partial version; an existing version is replaced only with
``force``; ``DIR/<name>/latest`` points to the newest build.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from splitforge.errors import OutputError

LATEST = "latest"


@contextmanager
def staging_folder(root: Path, build_id: str) -> Iterator[Path]:
    """A fresh hidden folder beside the final one; removed if the build fails."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {root}: {exc.strerror}") from None
    staging = root / f".tmp-{build_id}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def publish(staging: Path, final: Path, force: bool, latest: bool = True) -> None:
    """Move a complete build into place; an existing one is replaced only when ``force`` is set."""
    if final.exists():
        if not force:
            raise OutputError(f"{final} already exists; pass --force to rebuild it")
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
    tmp = final.parent / f".{LATEST}-{uuid.uuid4().hex[:8]}"
    try:
        os.symlink(final.name, tmp, target_is_directory=True)
    except OSError:
        tmp.write_text(final.name + "\n", encoding="utf-8")
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    os.replace(tmp, link)
