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


OFFSET: list[int] = []


def keep_offset(offset: int) -> None:
    OFFSET[:] = [offset]


def shifted_sum(start: int, stop: int) -> int:
    return square_sum(start, stop) + OFFSET[0]


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
