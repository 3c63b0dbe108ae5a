"""The recipe's control set: frozen items that never enter a split and are audited with val/test.

``load_control`` reads it with the recipe's fields; ``splitforge.dedup.control`` removes the data
rows that copy a control item.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from splitforge import columns as C
from splitforge.errors import InputError
from splitforge.load.sources import load_sources
from splitforge.recipe import SourceConfig


def load_control(config: SourceConfig, fields: Any, base: Path, data: pa.Table,
                 expected_sha256: str | None = None) -> pa.Table:
    """The control set, mapped with the recipe's fields; its ids must not occur in the data.

    Raises:
        InputError: The file cannot be read, changed since ``expected_sha256`` was taken, or an
            id is both a control item and a data row.
    """
    if fields.id is None and not config.id_prefix:
        # content-hash ids: a control copy of a data row would get that row's id
        config = config.model_copy(update={"id_prefix": "control:"})
    control = load_sources([config], fields, base,
                           expected_sha256=None if expected_sha256 is None else [expected_sha256]
                           ).table
    shared = pc.is_in(control.column(C.ID), value_set=data.column(C.ID).combine_chunks())
    if pc.any(shared).as_py():
        ids = control.column(C.ID).filter(shared).to_pylist()
        raise InputError(f"{len(ids)} control ids also name rows of the sources ("
                         f"{', '.join(map(str, ids[:5]))}); a control item must be its own "
                         f"row: give the control file other ids (or an id_prefix)",
                         path=config.path)
    return control
