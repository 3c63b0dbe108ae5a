"""The audit report: ``audit.parquet`` per item, ``audit.json`` counts, ``audit.md``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from splitforge.write.files import write_parquet

SHOWN = 50


def write_audit_report(folder: Path, table: pa.Table, summary: dict[str, Any]) -> None:
    """Write the three report files into ``folder`` (which exists and is empty)."""
    write_parquet(table, folder / "audit.parquet")
    (folder / "audit.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n",
                                       encoding="utf-8")
    (folder / "audit.md").write_text(render_audit(table, summary), encoding="utf-8")


def _cell(text: Any, width: int = 160) -> str:
    text = " ".join(str(text if text is not None else "").split())
    text = text if len(text) <= width else text[: width - 1] + "…"
    return text.replace("|", "\\|")


def render_audit(table: pa.Table, summary: dict[str, Any]) -> str:
    """Markdown: the counts per verdict and per check, then the flagged items with evidence."""
    counts = summary["verdicts"]
    out = ["# Contamination audit", "",
           f"{summary['eval_items']} eval items against {summary['train_rows']:,} training rows; "
           f"checks: {', '.join(summary['checks'])}; gate: fail on {summary['fail_on']} "
           f"({'FAILED' if summary['failed'] else 'passed'}).", "",
           "| verdict | items |", "|---|---|"]
    out += [f"| {verdict} | {n} |" for verdict, n in counts.items()]
    out += ["", "| check | items flagged by its own threshold | notes |", "|---|---|---|"]
    for name, info in summary["per_check"].items():
        notes = ", ".join(f"{k} {v}" for k, v in info.items()
                          if k in ("short_items", "n_contained", "n_matched", "empty_items"))
        out.append(f"| {name} | {info.get('n_flagged', 0)} | {notes} |")
    if "leaked" in summary:
        out += ["", f"With the reference answers (`{summary['answer']}`): " + ", ".join(
            f"{k} {v}" for k, v in summary["leaked"].items()) + "."]
    out += ["", "Thresholds: " + ", ".join(f"{k} {v}" for k, v in
                                          summary["thresholds"].items()), ""]
    for verdict in ("contaminated", "suspect"):
        rows = [r for r in table.to_pylist() if r["verdict"] == verdict]
        if not rows:
            continue
        out += [f"## {verdict.capitalize()} items ({len(rows)})", "",
                "| eval id | check | score | training id | eval text | matched |",
                "|---|---|---|---|---|---|"]
        for r in rows[:SHOWN]:
            out.append(f"| {_cell(r['eval_id'])} | {r['evidence_method']} | "
                       f"{r['evidence_score']:.2f} | {_cell(r['evidence_id'])} | "
                       f"{_cell(r['eval_text'])} | {_cell(r['matched_text'])} |")
        if len(rows) > SHOWN:
            out.append(f"| … {len(rows) - SHOWN} more in audit.parquet | | | | | |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
