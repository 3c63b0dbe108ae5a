from splitforge.write.files import (
    BATCH_ROWS,
    output_table,
    sort_by_id,
    write_batches,
    write_json,
    write_parquet,
    write_records_jsonl,
)
from splitforge.write.manifest import (
    MANIFEST,
    compute_build_id,
    dependency_versions,
    splitforge_version,
    stage_fingerprints,
    write_manifest,
)
from splitforge.write.report import render_report, write_report
from splitforge.write.version import (
    LATEST,
    MARKER,
    build_lock,
    check_target,
    output_target,
    publish,
    staging_folder,
    within,
)

__all__ = [
    "BATCH_ROWS",
    "build_lock",
    "LATEST",
    "MANIFEST",
    "MARKER",
    "check_target",
    "compute_build_id",
    "stage_fingerprints",
    "dependency_versions",
    "output_table",
    "output_target",
    "publish",
    "render_report",
    "sort_by_id",
    "splitforge_version",
    "staging_folder",
    "write_json",
    "write_batches",
    "write_manifest",
    "write_parquet",
    "write_records_jsonl",
    "within",
    "write_report",
]
