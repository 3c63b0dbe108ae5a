"""The audit report: ``audit.parquet`` per item, ``audit.json`` counts, ``audit.md``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from splitforge.write.files import write_parquet
from splitforge.write.report import removed_sentence

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
        over = info.get("ngrams_over_cap") or info.get("buckets_over_cap")
        if over:
            notes += (f"{', ' if notes else ''}{over} "
                      f"{'n-grams' if 'ngrams_over_cap' in info else 'LSH buckets'} shared by "
                      f"more than {info['shared_cap']} eval items named no evidence (a template "
                      f"they share; see boilerplate)")
        out.append(f"| {name} | {info.get('n_flagged', 0)} | {notes} |")
    removed = removed_sentence(summary.get("removed"))
    if removed:
        out += ["", removed]
    spans = (summary.get("boilerplate") or {}).get("spans") or []
    if spans:
        info = summary["boilerplate"]
        out += ["", f"Left out of every check as boilerplate (recurring in at least "
                f"{info['min_share']:.0%} of the rows; {info['tokens_left_out']:.1%} of the "
                f"tokens, in {info['rows_with_boilerplate']:,} rows):", ""]
        out += [f"- {s['rows']:,} rows: `{_cell(s['text'], 120)}`" for s in spans]
    if "leaked" in summary:
        out += ["", f"With the reference answers (`{summary['answer']}`): " + ", ".join(
            f"{k} {v}" for k, v in summary["leaked"].items()) + "."]
    out += ["", "Thresholds: " + ", ".join(f"{k} {v}" for k, v in
                                          summary["thresholds"].items()), ""]
    records = table.to_pylist()
    sections = [(f"{v.capitalize()} items", [r for r in records if r["verdict"] == v
                                               and r.get("action", "kept") == "kept"])
                for v in ("contaminated", "suspect")]
    sections.append(("Removed from the build", [r for r in records
                                                if r.get("action") == "removed"]))
    for title, rows in sections:
        if not rows:
            continue
        out += [f"## {title} ({len(rows)})", "",
                "| eval id | check | score | training id | eval text | matched |",
                "|---|---|---|---|---|---|"]
        for r in rows[:SHOWN]:
            score = "" if r["evidence_score"] is None else f"{r['evidence_score']:.2f}"
            linked = r.get("linked_id") or r["evidence_id"]
            out.append(f"| {_cell(r['eval_id'])} | {r['evidence_method'] or 'val link'} | "
                       f"{score} | {_cell(linked)} | "
                       f"{_cell(r['eval_text'])} | {_cell(r['matched_text'])} |")
        if len(rows) > SHOWN:
            out.append(f"| … {len(rows) - SHOWN} more in audit.parquet | | | | | |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
