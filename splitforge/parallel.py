"""Batch maps over worker processes, with results in input order and bounded memory.

NumPy work that holds the GIL (hashing, shingling, normalizing) only scales over processes.
Workers are *spawned*, not forked (forking beside Arrow's and BLAS's threads can deadlock), so a
worker imports the function's module afresh: keep worker functions in modules that import little
(NumPy, PyArrow). At most ``2 * processes`` batches are in flight, so memory follows the batch
size, not the input. A pool that cannot start (a script run without an
``if __name__ == "__main__":`` guard) falls back to this process with a warning; results never
depend on the number of processes. The initializer's arguments (an audit's eval indexes) are
pickled once into a temporary file, deleted when the map ends, that every worker maps: their
NumPy arrays are read-only views of that one mapping, shared by all workers (a worker function
must not write to them). ``shared_start`` also reads them back here, copy-on-write, so that a
caller can let its own copy go and hold the arrays once for all processes.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import pickle
import signal
import tempfile
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
_ALIGN = 64  # each out-of-band buffer starts at a multiple of this in the payload file


def resolve_processes(num_proc: int | None) -> int:
    """The processes to use: ``num_proc``, or every core this process may run on."""
    if num_proc is not None:
        return max(1, int(num_proc))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class SharedStart:
    """A worker initializer and its arguments, written once to a file (``shared_start``)."""

    path: str
    initializer: Callable[..., None]
    initargs: tuple[Any, ...]  # read back from the file: copy-on-write views of its mapping


@contextmanager
def shared_start(initializer: Callable[..., None], initargs: tuple[Any, ...]
                 ) -> Iterator[SharedStart]:
    """``initargs`` written for the workers of ``map_batches(..., start=)``, and read back here.

    The arguments read back share their arrays' pages with the workers' (a private page only
    where this process writes), so a caller that drops its originals and goes on with these
    holds the arrays once for every process. The file is deleted on leaving.
    """
    path = _write_payload(initializer, initargs)
    del initargs  # the caller's originals may go
    try:
        # Windows deletes no file that a process maps: there this process reads a copy
        yield SharedStart(path, initializer,
                          _read_payload(path, writable=True, mapped=os.name != "nt")[1])
    finally:
        os.unlink(path)


def map_batches(fn: Callable[..., T], batches: Iterable[tuple[Any, ...]], processes: int = 1,
                initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = (),
                start: SharedStart | None = None) -> Iterator[T]:
    """``fn(*batch)`` for every batch, in order; over ``processes`` spawned workers when > 1.

    Args:
        fn: A module-level function (workers import it by name).
        batches: Argument tuples, consumed lazily.
        processes: Worker processes; 1 runs everything here.
        initializer: Called once with ``initargs`` in every worker (and here, when there are no
            workers) before any batch: the way to ship a large read-only object once.
        initargs: Arguments of ``initializer``.
        start: Instead of ``initializer`` and ``initargs``, both written already
            (``shared_start``), for workers that map the caller's copy.

    Yields:
        Each batch's result, in the order of ``batches``.
    """
    if start is not None:
        initializer, initargs = start.initializer, start.initargs
    if processes <= 1:
        if initializer is not None:
            initializer(*initargs)
        for batch in batches:
            yield fn(*batch)
        return
    batches = iter(batches)
    if start is not None:
        yield from _pooled(fn, batches, processes, initializer, initargs, start.path)
        return
    payload = _write_payload(initializer, initargs) if initializer is not None else None
    try:
        yield from _pooled(fn, batches, processes, initializer, initargs, payload)
    finally:
        if payload is not None:
            os.unlink(payload)


def _write_payload(initializer: Callable[..., None], initargs: tuple[Any, ...]) -> str:
    """The initializer and its arguments pickled once, into a file every worker maps.

    Given to the pool as arguments, they would be pickled again for every worker into its start
    pipe, and writing that pipe waits until the worker has imported its modules: one worker
    after the other, each waiting seconds. Large buffers (NumPy arrays) go out of band, each at
    its own place in the file, so that the workers' arrays are read-only views of one mapping
    that all of them share, not a copy each.
    """
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps((initializer, initargs), protocol=5, buffer_callback=buffers.append)
    views = [b.raw() for b in buffers]
    places, position = [], 0
    for view in views:
        position = -(-position // _ALIGN) * _ALIGN
        places.append((position, view.nbytes))
        position += view.nbytes
    index = pickle.dumps((head, places), protocol=5)
    handle, path = tempfile.mkstemp(prefix="splitforge-worker-", suffix=".pickle")
    with os.fdopen(handle, "wb") as out:
        start = -(-(8 + len(index)) // _ALIGN) * _ALIGN
        out.write(len(index).to_bytes(8, "little") + index)
        for (place, _), view in zip(places, views, strict=True):
            out.seek(start + place)
            out.write(view)
        out.truncate(start + position)
    return path


def _read_payload(path: str, writable: bool = False, mapped: bool = True
                  ) -> tuple[Callable[..., None], tuple[Any, ...]]:
    """``_write_payload``'s initializer and arguments, their buffers mapped from the file.

    The arrays are read-only, or ``writable`` copy-on-write (a write never reaches the file);
    not ``mapped``, they are a writable copy read into memory.
    """
    with open(path, "rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        head, places = pickle.loads(handle.read(size))
        start = -(-(8 + size) // _ALIGN) * _ALIGN
        access = mmap.ACCESS_COPY if writable else mmap.ACCESS_READ
        source: mmap.mmap | bytearray | None = None
        if places and mapped:
            source = mmap.mmap(handle.fileno(), 0, access=access)
        elif places:
            handle.seek(0)
            source = bytearray(handle.read())
    view = memoryview(source) if source is not None else None
    buffers = [view[start + place:start + place + nbytes] for place, nbytes in places] \
        if view is not None else []
    return pickle.loads(head, buffers=buffers)


def _pooled(fn: Callable[..., T], batches: Iterator[tuple[Any, ...]], processes: int,
            initializer: Callable[..., None] | None, initargs: tuple[Any, ...],
            payload: str | None) -> Iterator[T]:
    """``map_batches`` over a pool whose workers start with ``payload`` (``_write_payload``)."""
    pending: deque[tuple[tuple[Any, ...], Future[T]]] = deque()
    context = multiprocessing.get_context("spawn")
    try:
        with _sigint_ignored():  # the resource tracker starts here
            pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_worker_start,
                                       initargs=(payload,))
    except (OSError, RuntimeError) as error:  # no semaphores, no /dev/shm
        warnings.warn(f"worker processes unavailable ({error}); running in one process",
                      RuntimeWarning, stacklevel=2)
        yield from map_batches(fn, batches, 1, initializer, initargs)
        return
    with pool:
        try:
            submitted = 0
            for batch in batches:
                if submitted < processes:  # submitting spawns the workers
                    with _sigint_ignored():
                        pending.append((batch, pool.submit(fn, *batch)))
                else:
                    pending.append((batch, pool.submit(fn, *batch)))
                submitted += 1
                if len(pending) >= 2 * processes:
                    yield _next_result(pending)
            while pending:
                yield _next_result(pending)
        except BrokenProcessPool as error:
            warnings.warn(f"worker processes failed to start ({error}); running in one process. "
                          f"Put the calling script's code under `if __name__ == \"__main__\":`",
                          RuntimeWarning, stacklevel=2)
            if initializer is not None:
                initializer(*initargs)
            for batch, _ in pending:
                yield fn(*batch)
            for batch in batches:
                yield fn(*batch)
        except BaseException:
            stop_workers(pool)  # an error, Ctrl-C, SIGTERM or an abandoned map: workers end now
            raise


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes start; they inherit the setting.

    A Ctrl-C that reaches the whole process group then cannot kill a worker halfway through its
    imports (the parent stops them). Outside the main thread, where handlers cannot be set,
    nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _worker_start(payload: str | None) -> None:
    """In a worker: leave Ctrl-C to the parent (which stops the workers), then initialize."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if payload is not None:
        initializer, initargs = _read_payload(payload)
        initializer(*initargs)


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel what is queued and end the workers now, not after their current batch."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public handle
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)


def _next_result(pending: deque[tuple[tuple[Any, ...], Future[T]]]) -> T:
    """The oldest batch's result; the batch stays queued if its worker failed."""
    result = pending[0][1].result()
    pending.popleft()
    return result
