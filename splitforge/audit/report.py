"""The audit report: ``audit.parquet`` per item, ``audit.json`` counts, ``audit.md``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from splitforge.audit.verdict import family_counts, with_families
from splitforge.write.files import write_parquet
from splitforge.write.report import removed_sentence

SHOWN = 50
FAMILIES_SHOWN = 20  # variant families listed in audit.md, largest first
MEMBERS_SHOWN = 10  # items listed per family


def write_audit_report(folder: Path, table: pa.Table, summary: dict[str, Any]) -> None:
    """Write the three report files into ``folder`` (which exists and is empty).

    The variant families, and their counts in ``audit.json``, are computed again over the whole
    table (``with_families``): a build's audit stitches its rows from several scans.
    """
    if "evidence_ids" in table.column_names:
        table = with_families(table)
        summary = {**summary, **family_counts(table)}
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
    families = _families(table)
    if families:
        n_items = sum(len(rows) for _, rows in families)
        out += ["", f"{n_items} items in {len(families)} "
                f"{'family' if len(families) == 1 else 'families'} of variants: several eval "
                f"items match one training text (see Variant families)."]
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
            if r["evidence_method"] == "embedding" and r.get("embedding_span"):
                linked = f"{linked} (characters {r['embedding_span']})"  # a passage of it
            out.append(f"| {_cell(r['eval_id'])} | {r['evidence_method'] or 'val link'} | "
                       f"{score} | {_cell(linked)} | "
                       f"{_cell(r['eval_text'])} | {_cell(r['matched_text'])} |")
        if len(rows) > SHOWN:
            out.append(f"| … {len(rows) - SHOWN} more in audit.parquet | | | | | |")
        out.append("")
    if families:
        out += _render_families(families)
    return "\n".join(out).rstrip() + "\n"


def _families(table: pa.Table) -> list[tuple[str, list[dict[str, Any]]]]:
    """Each variant family and its rows (in table order), the largest family first."""
    if "family" not in table.column_names:
        return []
    keep = [c for c in ("eval_id", "verdict", "action", "evidence_id", "evidence_method",
                        "evidence_score", "eval_text", "evidence_ids", "family")
            if c in table.column_names]
    members: dict[str, list[dict[str, Any]]] = {}
    for r in table.select(keep).to_pylist():
        if r["family"] is not None:
            members.setdefault(r["family"], []).append(r)
    return sorted(members.items(), key=lambda item: (-len(item[1]), item[0]))


def _render_families(families: list[tuple[str, list[dict[str, Any]]]]) -> list[str]:
    """The "Variant families" section of ``audit.md``."""
    out = [f"## Variant families ({len(families)})", "",
           "Flagged eval items linked through the training texts they were flagged at (by any "
           "check): variants of one another, or duplicates inside the eval set. audit.parquet "
           "names each item's `family` (its smallest training id) and `variant_of`.", ""]
    for family, rows in families[:FAMILIES_SHOWN]:
        training = sorted({t for r in rows for t in r["evidence_ids"] or []})
        named = ", ".join(_cell(t) for t in training[:MEMBERS_SHOWN])
        if len(training) > MEMBERS_SHOWN:
            named += f" and {len(training) - MEMBERS_SHOWN} more"
        out += [f"**{_cell(family)}**: {len(rows)} items; training "
                f"{'id' if len(training) == 1 else 'ids'} {named}", "",
                "| eval id | verdict | check | score | training id | eval text |",
                "|---|---|---|---|---|---|"]
        for r in rows[:MEMBERS_SHOWN]:
            score = "" if r["evidence_score"] is None else f"{r['evidence_score']:.2f}"
            verdict = r["verdict"] + (" (removed)" if r.get("action") == "removed" else "")
            out.append(f"| {_cell(r['eval_id'])} | {verdict} | {r['evidence_method'] or ''} | "
                       f"{score} | {_cell(r['evidence_id'])} | {_cell(r['eval_text'], 100)} |")
        if len(rows) > MEMBERS_SHOWN:
            out.append(f"| … {len(rows) - MEMBERS_SHOWN} more in audit.parquet | | | | | |")
        out.append("")
    if len(families) > FAMILIES_SHOWN:
        rest = families[FAMILIES_SHOWN:]
        out += [f"… {len(rest)} more families ({sum(len(rows) for _, rows in rest)} items) in "
                f"audit.parquet (`family`).", ""]
    return out
