"""Batch maps over processes keep input order and give the same results as one process."""

from splitforge.parallel import map_batches, resolve_processes


def square_sum(start: int, stop: int) -> int:
    return sum(i * i for i in range(start, stop))


def test_results_come_back_in_input_order_whatever_the_processes():
    batches = [(i, i + 1000 - 37 * (i % 5)) for i in range(0, 20_000, 1000)]
    one = list(map_batches(square_sum, iter(batches), 1))
    two = list(map_batches(square_sum, iter(batches), 2))
    assert one == two == [square_sum(*b) for b in batches]


def test_process_count_defaults_to_usable_cores():
    assert resolve_processes(3) == 3
    assert resolve_processes(0) == 1
    assert resolve_processes(None) >= 1


OFFSET: list = []


def keep_offset(offset: int, weights=None) -> None:
    OFFSET[:] = [offset, weights]


def shifted_sum(start: int, stop: int) -> int:
    return square_sum(start, stop) + OFFSET[0]


def weighted_sum(start: int, stop: int) -> tuple[int, bool]:
    """A sum over the initializer's array, and whether this process may write to that array."""
    weights = OFFSET[1]
    return int(weights[start:stop].sum()), bool(weights.flags.writeable)


def test_the_initializer_reaches_every_worker_through_a_file_that_is_gone_after(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    batches = [(i, i + 500) for i in range(0, 8000, 500)]
    two = list(map_batches(shifted_sum, iter(batches), 2, initializer=keep_offset,
                           initargs=(7,)))
    assert two == [square_sum(*b) + 7 for b in batches]
    assert list(tmp_path.iterdir()) == []  # the initializer's file was this map's, and is gone


def test_the_initializers_arrays_are_one_read_only_mapping_in_the_workers():
    import numpy as np

    weights = np.arange(1_000_000, dtype=np.int64) % 97  # large: pickled out of band
    batches = [(i, i + 100_000) for i in range(0, 1_000_000, 100_000)]
    two = list(map_batches(weighted_sum, iter(batches), 2, initializer=keep_offset,
                           initargs=(0, weights)))
    assert [total for total, _ in two] == [int(weights[a:b].sum()) for a, b in batches]
    assert not any(writeable for _, writeable in two)  # views of the shared file, not copies
    one = list(map_batches(weighted_sum, iter(batches), 1, initializer=keep_offset,
                           initargs=(0, weights)))
    assert [total for total, _ in one] == [total for total, _ in two]


def test_a_shared_start_gives_this_process_copy_on_write_views_of_the_workers_file():
    import gc
    import os
    import weakref

    import numpy as np

    from splitforge.parallel import shared_start

    weights = np.arange(1_000_000, dtype=np.int64) % 89
    gone = weakref.ref(weights)
    batches = [(i, i + 250_000) for i in range(0, 1_000_000, 250_000)]
    with shared_start(keep_offset, (0, weights)) as start:
        del weights  # the caller lets its original go: the start does not keep it
        gc.collect()
        assert gone() is None
        mine = start.initargs[1]
        assert mine.flags.writeable  # this process may write: its own pages, not the file's
        before = [int(mine[a:b].sum()) for a, b in batches]
        two = list(map_batches(weighted_sum, iter(batches), 2, start=start))
        mine[:] = 0  # after the workers read the file: what this process writes stays here
        again = list(map_batches(weighted_sum, iter(batches), 2, start=start))
        path = start.path
    assert [total for total, _ in two] == before == [total for total, _ in again]
    assert not any(writeable for _, writeable in two)
    assert not os.path.exists(path)  # the file goes with the start


def test_the_payload_read_into_memory_equals_the_mapped_one(tmp_path):
    """Where a mapped file cannot be deleted (Windows), this process reads a writable copy."""
    import numpy as np

    from splitforge.parallel import _read_payload, _write_payload

    weights = np.arange(100_000, dtype=np.int64) % 89
    path = _write_payload(keep_offset, (3, weights))
    try:
        _, (offset, mapped) = _read_payload(path, writable=True)
        _, (same, copied) = _read_payload(path, writable=True, mapped=False)
    finally:
        import os

        os.unlink(path)
    assert offset == same == 3 and np.array_equal(mapped, weights)
    assert np.array_equal(copied, weights) and copied.flags.writeable
