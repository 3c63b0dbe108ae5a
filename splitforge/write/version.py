"""Build folders: ``DIR/<name>/<build_id>/``, written to a temporary folder and moved into place.

An interrupted build leaves no partial version; an existing version is replaced only with
``force``; ``DIR/<name>/latest`` points to the newest build. Every folder splitforge writes
holds a ``.splitforge`` marker naming what wrote it (a build, dedup, challenge or audit), and
``--force`` replaces only a folder of the same kind, never one that holds or lies inside a
command's inputs, nor the current folder or a parent of it (``check_target``).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from splitforge.errors import OutputError

LATEST = "latest"
MARKER = ".splitforge"
LOCK = ".lock"
KINDS = ("build", "dedup", "challenge", "audit")


def marker_kind(folder: Path) -> str | None:
    """What splitforge wrote ``folder`` as (``KINDS``); None when it did not write it.

    A build version written before markers existed is recognised by its ``manifest.json``,
    whose ``build_id`` is the folder's name.
    """
    try:
        first = (folder / MARKER).read_text(encoding="utf-8").split("\n", 1)[0].split()
    except (OSError, UnicodeDecodeError):
        first = []
    if len(first) == 2 and first[0] == "splitforge" and first[1] in KINDS:
        return first[1]
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return "build" if isinstance(manifest, dict) and manifest.get("build_id") == folder.name \
        and "stage_fingerprints" in manifest else None


def within(path: Path, folder: Path) -> bool:
    """Whether ``path``, as given or with its links resolved, is ``folder`` or inside it."""
    return any(p.is_relative_to(f) for p in (Path(os.path.abspath(path)), path.resolve())
               for f in (Path(os.path.abspath(folder)), folder.resolve()))


def check_target(target: Path, force: bool, inputs: Iterable[Path] = (),
                 kind: str = "build") -> None:
    """Refuse, before any work, an output folder that a command must not write or replace.

    The target must not be, hold or lie inside any of ``inputs`` (compared as given and with
    links resolved), and must not be the current folder or a parent of it: ``--force`` would
    delete them. An existing target needs ``force``, and is replaced only when it is a real
    folder (not a link) that splitforge wrote as the same ``kind`` (its ``.splitforge``
    marker), so a dedup run can never replace a build version.

    Raises:
        OutputError: With the reason, naming the path.
    """
    where = Path(os.path.abspath(target))
    for given in inputs:
        source = Path(given)
        if within(source, where):
            raise OutputError(f"{target}: holds the input {given}; writing or replacing it "
                              f"would destroy the input; choose an output folder outside it")
        if within(where, source):
            raise OutputError(f"{target}: lies inside the input {given}; choose an output "
                              f"folder outside it")
    if within(Path.cwd(), where):
        raise OutputError(f"{target}: is the current folder or a parent of it; choose a new "
                          f"folder for the output")
    if not (where.exists() or where.is_symlink()):
        return
    if where.is_symlink():
        raise OutputError(f"{target}: is a symbolic link; splitforge does not write through "
                          f"links: remove it or choose another folder")
    found = marker_kind(where) if where.is_dir() else None
    if found is None:
        raise OutputError(f"{target} already exists and was not written by splitforge (it "
                          f"has no {MARKER} marker); splitforge replaces only its own output "
                          f"folders: move it away or choose another folder")
    if found != kind:
        raise OutputError(f"{target} already exists and holds splitforge {found} output, not "
                          f"{kind} output; choose another folder")
    if not force:
        raise OutputError(f"{target} already exists; pass --force to replace it")


def output_target(out: str | Path, force: bool, inputs: Iterable[Path], kind: str,
                  reads: Path | None = None) -> Path:
    """The folder a command writes ``kind`` output to, checked before any work.

    Raises:
        OutputError: It is, holds or lies inside the build folder ``reads`` that the command
            reads; or, as ``check_target``, one of the ``inputs`` or the current folder; or it
            exists and ``force`` is not set, or is not ``kind`` output of splitforge's.
    """
    target = Path(out)
    if reads is not None and (within(target, reads) or within(reads, target)):
        raise OutputError(f"{target}: would write into the build folder {reads} that it "
                          f"reads; choose a folder outside it")
    check_target(target, force, inputs, kind)
    return target


@contextmanager
def build_lock(folder: Path) -> Iterator[bool]:
    """Hold ``folder/.lock`` while writing there; yield whether another process held it first.

    A second build of the same recipe waits here instead of doing all the work and then finding
    the first one's output; when it gets the lock it looks again (``True``: it waited).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / LOCK, "a+b")  # noqa: SIM115 (held for the block)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {folder}: "
                          f"{exc.strerror or exc}") from None
    with handle:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; builds then do not wait
            yield False
            return
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            waited = False
        except BlockingIOError:
            fcntl.flock(handle, fcntl.LOCK_EX)
            waited = True
        try:
            yield waited
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _hold(handle: Any) -> None:
    """A shared lock on an open file, held until it is closed (no-op where flock is missing)."""
    try:
        import fcntl
    except ImportError:
        return
    fcntl.flock(handle, fcntl.LOCK_SH)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _in_use(folder: Path) -> bool:
    """Whether a live run holds the lock on a staging folder's marker (any pid namespace)."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        with open(folder / MARKER, "rb") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        return True  # cannot tell: leave it
    return False


def remove_stale(root: Path) -> list[Path]:
    """Clean what killed runs left in ``root``: their ``.tmp-*`` and ``.old-*`` folders.

    Only folders with splitforge's marker, whose pid no longer runs here and whose marker no
    run holds locked (a run in another container has another pid namespace, not another lock)
    are touched. A ``.old-<name>-*`` folder whose ``<name>`` is gone (a run killed between the
    two renames of a replace) is moved back, not deleted. Returns what was removed or restored.
    """
    cleaned = []
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return cleaned
    for entry in entries:
        parts = entry.name.split("-")
        if not (entry.name.startswith((".tmp-", ".old-")) and len(parts) >= 4
                and parts[-2].isdigit()) or entry.is_symlink() or not entry.is_dir():
            continue
        if marker_kind(entry) is None or _alive(int(parts[-2])) or _in_use(entry):
            continue
        name = entry.name[len(".old-"):].rsplit("-", 2)[0]
        if entry.name.startswith(".old-") and name and not (root / name).exists():
            entry.rename(root / name)
        else:
            shutil.rmtree(entry, ignore_errors=True)
        cleaned.append(entry)
    return cleaned


@contextmanager
def staging_folder(root: Path, name: str, kind: str = "build") -> Iterator[Path]:
    """A fresh hidden folder beside the final one, with a ``kind`` marker; removed on failure.

    Its name holds this process's pid, so a later run can tell the folder of a killed run
    (``remove_stale``, called here) from a concurrent one's.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {root}: {exc.strerror}") from None
    remove_stale(root)
    staging = root / f".tmp-{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        try:
            staging.mkdir()
        except OSError as exc:
            raise OutputError(f"cannot write into {root} (for {name}): "
                              f"{exc.strerror or exc}; choose a writable folder") from None
        (staging / MARKER).write_text(f"splitforge {kind}\nwritten by splitforge: `--force` "
                                      f"may replace this folder with new {kind} output\n",
                                      encoding="utf-8")
        with open(staging / MARKER, "rb") as marker:
            _hold(marker)  # tells remove_stale elsewhere that this folder is in use
            yield staging
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2``); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    if ctypes.get_errno() in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(a))


def publish(staging: Path, final: Path, force: bool, latest: bool = True) -> None:
    """Move a complete build into place; an existing one only as ``check_target`` allows.

    Replacing swaps the two folders in one step where the system can (Linux), so there is no
    moment without a build under the id; elsewhere the old folder is moved aside first.
    """
    if final.exists() or final.is_symlink():
        check_target(final, force, kind=marker_kind(staging) or "build")
        if _exchange(staging, final):
            shutil.rmtree(staging, ignore_errors=True)  # now the old build
        else:
            old = final.with_name(f".old-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            final.rename(old)
            staging.rename(final)
            shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(final)
    if latest:
        point_latest(final)


def point_latest(final: Path) -> None:
    """Point ``<name>/latest`` at ``final``: a relative link, or a text file where links fail.

    Raises:
        OutputError: ``latest`` is a real folder (left alone), or the folder cannot be written.
    """
    link = final.parent / LATEST
    if link.is_symlink() and os.readlink(link) == final.name:
        return
    if link.is_dir() and not link.is_symlink():
        raise OutputError(f"{link}: a real folder, not the link splitforge keeps there; "
                          f"`latest` was left alone (the build is at {final}): move that "
                          f"folder away and build again")
    tmp = final.parent / f".{LATEST}-{uuid.uuid4().hex[:8]}"
    try:
        try:
            os.symlink(final.name, tmp, target_is_directory=True)
        except OSError:
            tmp.write_text(final.name + "\n", encoding="utf-8")
        os.replace(tmp, link)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot point {link} at {final.name}: {exc.strerror or exc}"
                          ) from None
