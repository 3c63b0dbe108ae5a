"""``report.md``: the build's numbers in a form that reads well in a pull request."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def render_report(manifest: dict[str, Any]) -> str:
    """Markdown summary of a build manifest."""
    counts = manifest["counts"]
    total = sum(counts["splits"].values()) or 1
    out = [f"# {manifest['name']} — build {manifest['build_id']}", ""]
    out += [f"splitforge {manifest['splitforge_version']}, seed {manifest['seed']}, "
            f"split method `{manifest['recipe']['split']['method']}`.", ""]
    out += ["## Splits", ""]
    out += _table(["split", "rows", "share"], [
        [name, n, f"{n / total:.1%}"] for name, n in counts["splits"].items()
    ])
    out += ["", "## Inputs", ""]
    out += _table(["source", "format", "rows read", "rejected", "sha256"], [
        [s["path"], s["format"], s["rows_read"], s["rows_rejected"], s["sha256"][:16]]
        for s in manifest["inputs"]
    ])
    out += ["", "## Rows removed", ""]
    removed = counts["removed_by_reason"]
    if removed:
        out += _table(["stage", "reason", "rows"], [
            [key.split(":", 1)[0], key.split(":", 1)[1], n] for key, n in removed.items()
        ])
    else:
        out.append("None.")
    dedup = manifest["stages"]["dedup"]
    out += ["", "## Duplicates", "",
            f"{dedup['duplicate_clusters']} duplicate clusters; the largest has "
            f"{dedup['largest_cluster']} rows. Each cluster keeps its earliest member (then the "
            f"smallest id) and sits whole in one split.", ""]
    split_info = manifest["stages"]["split"]
    if split_info.get("cutoffs"):
        out += ["## Temporal cutoffs", ""]
        out += _table(["split starts", "at (UTC)"], [
            [k, v] for k, v in split_info["cutoffs"].items() if v is not None
        ])
        gap = split_info.get("gap") or "none"
        out += ["", f"Embargo gap: {gap} (rows this close before a cutoff are dropped).", ""]
    return "\n".join(out).rstrip() + "\n"


def write_report(folder: Path, manifest: dict[str, Any]) -> None:
    """Write ``report.md`` into a build folder."""
    (folder / "report.md").write_text(render_report(manifest), encoding="utf-8")
