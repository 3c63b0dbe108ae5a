import pyarrow as pa

from splitforge import columns as C
from splitforge.normalize import add_normalized


def table_of(texts, ids=None, times=None):
    """A normalized table as the dedup stage sees it."""
    ids = ids or [f"r{i:03d}" for i in range(len(texts))]
    data = {C.ID: pa.array(ids, pa.string()), C.TEXT: pa.array(texts, pa.string())}
    if times is not None:
        data[C.TIME] = pa.array(times, pa.timestamp("us", tz="UTC"))
    return add_normalized(pa.table(data))
