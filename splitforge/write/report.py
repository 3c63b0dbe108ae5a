"""``report.md``: the build's numbers in a form that reads well in a pull request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from splitforge.recipe import SPLITS
from splitforge.write.files import write_text_atomic


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


LARGEST_CLUSTERS = 20
KIND_ORDER = ("edge", "ood", "temporal", "adversarial")
VERDICT_ORDER = ("contaminated", "suspect", "clean")
SET_ORDER = ("val", "test", "control")


def ordered(mapping: dict[str, Any], order: tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    """Items in ``order``, then the rest sorted, whatever the dict's own order.

    A dict from the build and the same dict read back from ``manifest.json`` (written with sorted
    keys) then give the same report, so a rebuilt report is byte-identical.
    """
    first = [(k, mapping[k]) for k in order if k in mapping]
    return first + sorted((k, v) for k, v in mapping.items() if k not in order)


def render_report(manifest: dict[str, Any], clusters: pa.Table | None = None) -> str:
    """Markdown summary of a build manifest, with the largest duplicate clusters side by side."""
    counts = manifest["counts"]
    total = sum(counts["splits"].values()) or 1
    out = [f"# {manifest['name']} — build {manifest['build_id']}", ""]
    out += [f"splitforge {manifest['splitforge_version']}, seed {manifest['seed']}, "
            f"split method `{manifest['recipe']['split']['method']}`.", ""]
    out += ["## Splits", ""]
    out += _table(["split", "rows", "share"], [
        [name, n, f"{n / total:.1%}"] for name, n in ordered(counts["splits"], SPLITS)
    ])
    if "control" in manifest:
        control = manifest["control"]
        out += ["", f"Control set: {control['rows']} items in `control.parquet` (never in a "
                    f"split); {control['data_rows_removed']} data rows removed as their "
                    f"duplicates or near duplicates (`dedup:control_duplicate`)."]
    out += ["", "## Inputs", ""]
    out += _table(["source", "format", "rows read", "rejected", "sha256"], [
        [s["path"], s["format"], s["rows_read"], s["rows_rejected"], s["sha256"][:16]]
        for s in manifest["inputs"]
    ])
    notes = [f"- `{s['path']}`: {note}" for s in manifest["inputs"] for note in s.get("notes", [])]
    if notes:
        out += ["", "Converted while reading:", "", *notes]
    out += ["", "## Rows removed", ""]
    removed = counts["removed_by_reason"]
    if removed:
        out += _table(["stage", "reason", "rows"], [
            [key.split(":", 1)[0], key.split(":", 1)[1], n] for key, n in ordered(removed)
        ])
    else:
        out.append("None.")
    out += boilerplate_section(manifest["stages"].get("boilerplate"))
    dedup = manifest["stages"]["dedup"]
    out += ["", "## Duplicates", "",
            f"{dedup['duplicate_clusters']} duplicate clusters; the largest has "
            f"{dedup['largest_cluster']} rows. A row is removed only as a direct copy of a row "
            f"that is kept (the earliest, then the smallest id); a cluster's kept rows sit in one "
            f"split.", ""]
    differing = dedup.get("removed_differing") or {}
    if differing:
        out += ["Near-duplicate removals whose row differs from its kept row outside the "
                "compared text (exact removals never do): " + ", ".join(
                    f"{field} {n}" for field, n in differing.items()) + ".", ""]
    out += chains_section(dedup)
    if clusters is not None and clusters.num_rows:
        out += _largest_clusters(clusters)
    split_info = manifest["stages"]["split"]
    if split_info.get("cutoffs"):
        out += ["## Temporal cutoffs", ""]
        out += _table(["split starts", "at (UTC)"], [
            [k, v] for k, v in ordered(split_info["cutoffs"], SPLITS) if v is not None
        ])
        gap = split_info.get("gap") or "none"
        out += ["", f"Embargo gap: {gap} (rows this close before a cutoff are dropped).", ""]
    for warning in split_info.get("warnings") or []:
        out += [f"**Warning:** {warning}.", ""]
    if "challenge" in manifest["stages"]:
        out += _challenge_section(manifest["stages"]["challenge"])
    if "audit" in manifest["stages"]:
        out += _audit_section(manifest["stages"]["audit"])
    return "\n".join(out).rstrip() + "\n"


def _challenge_section(info: dict[str, Any]) -> list[str]:
    picked = info["picked"]
    out = ["## Challenge sets", "",
           f"{sum(picked.values())} items of {info['size']} asked, drawn from the "
           f"{info['candidates']} held-out rows of {', '.join(info['from'])} (never from train; "
           f"no row in two sets).", ""]
    rows = [[kind, info["targets"][kind], n, _chosen_by(kind, info["kinds"].get(kind, {}))]
            for kind, n in ordered(picked, KIND_ORDER)]
    out += _table(["set", "target", "items", "chosen by"], rows)
    for note in info.get("redistributed", []):
        out += ["", f"- {note}"]
    return out + [""]


def boilerplate_section(info: dict[str, Any] | None) -> list[str]:
    """What was left out of similarity as boilerplate (``normalize.boilerplate``), if anything."""
    if not info or not info.get("spans"):
        return []
    out = ["", "## Boilerplate", "",
           f"Spans recurring in at least {info['min_share']:.0%} of the rows (runs of "
           f"{info['ngram']} words or {info['char_ngram']} CJK characters) are left out of "
           f"dedup, leak links and the audit, and kept in the output: "
           f"{info['rows_with_boilerplate']:,} of {info['rows']:,} rows, "
           f"{info['tokens_left_out']:.1%} of the tokens. The most common:", ""]
    out += _table(["rows", "span left out"], [[s["rows"], _cell(s["text"])]
                                              for s in info["spans"]])
    return out + ["", "Turn it off with `boilerplate: {detect: false}`; name spans to leave out "
                  "with `boilerplate.ignore`."]


def removed_sentence(removed: dict[str, int] | None) -> str | None:
    """What the build removed from val/test as copies (``audit.on_contaminated: remove``)."""
    if not removed or not any(removed.values()):
        return None
    return (f"Removed from val/test so that no eval row has a copy in training "
            f"(audit.on_contaminated: remove): {removed.get('leak_link', 0)} linked to a train "
            f"or val row (`split:leak_link`), {removed.get('contaminated', 0)} found in an "
            f"external corpus (`audit:contaminated`); the verdicts above are of the rows kept, "
            f"and removed.parquet names each removed row's evidence.")


def _audit_section(info: dict[str, Any]) -> list[str]:
    sets = ", ".join(f"{name} {n}" for name, n in ordered(info["eval_sets"], SET_ORDER))
    against = f" and {len(info['against'])} external corpora" if info.get("against") else ""
    out = ["## Contamination audit", "",
           f"{info['eval_items']} eval rows ({sets}) checked against {info['train_rows']:,} "
           f"training rows{against} with {', '.join(info['checks'])}; gate: fail on "
           f"{info['fail_on']} ({'FAILED' if info['failed'] else 'passed'}).", ""]
    out += _table(["verdict", "rows"], [[k, v] for k, v in ordered(info["verdicts"],
                                                                   VERDICT_ORDER)])
    removed = removed_sentence(info.get("removed"))
    if removed:
        out += ["", removed]
    if "challenge_items_from_flagged_rows" in info:
        out += ["", f"Challenge items drawn from flagged rows: "
                    f"{info['challenge_items_from_flagged_rows']}."]
    return out + ["", "Evidence per row: `audit/audit.md` and `audit/audit.parquet`.", ""]


def _chosen_by(kind: str, details: dict[str, Any]) -> str:
    """One table cell saying how a challenge kind chose its items."""
    if details.get("skipped"):
        return f"skipped: {details['skipped']}"
    if kind == "edge":
        picks = {**details.get("rules", {}),
                 **{f"slice:{k}": v for k, v in details.get("slices", {}).items()}}
        return ", ".join(f"{k} {v['picked']}" for k, v in ordered(picks) if v.get("picked"))
    if kind == "ood":
        scores = details.get("score_quantiles", {})
        if not scores:
            return str(details.get("method", ""))
        return (f"{details.get('method')} (k={details.get('k', '-')}): picked scores "
                f"{scores['picked']['min']:.3f}-{scores['picked']['max']:.3f}, all candidates' "
                f"median {scores['all']['p50']:.3f}")
    if kind == "temporal":
        said = [str(details.get("reason", ""))]
        span = details.get("time_range", {}).get("picked")
        if span:
            said.append(f"{span[0]} to {span[1]}")
        compared = details.get("compared_with_train", {})
        chars = compared.get("mean_chars")
        if chars:
            said.append(f"mean length {chars['picked']:.0f} chars vs {chars['train']:.0f} in train")
        if "unseen_word_share" in compared:
            said.append(f"{compared['unseen_word_share']:.0%} of words unseen in train")
        return "; ".join(said)
    counts = details.get("perturbations", {})
    return ", ".join(f"{k} {v}" for k, v in ordered(counts))


def _cell(text: str, width: int = 120) -> str:
    text = " ".join(str(text).split())
    text = text if len(text) <= width else text[: width - 1] + "…"
    return text.replace("|", "\\|")


def chains_section(dedup: dict[str, Any]) -> list[str]:
    """Clusters that grew by chaining (several kept rows) and giant ones placed row by row."""
    chains = dedup.get("chained_clusters") or {}
    out: list[str] = []
    if chains.get("count"):
        out += [f"{chains['count']} clusters grew by chaining ({chains['rows']} rows): their "
                f"members resemble each other in a chain, not all one row, so several rows of each "
                f"are kept. The largest:", ""]
        out += _table(["cluster", "rows", "kept", "weakest link"], [
            [c["cluster"], c["rows"], c["kept"],
             "" if c["weakest_link"] is None else f"{c['weakest_link']:.2f}"]
            for c in chains["largest"]])
        out.append("")
    giant = dedup.get("giant_clusters") or {}
    if giant.get("clusters"):
        out += [f"{giant['clusters']} giant clusters (keeping more than "
                f"{giant['max_share']:.0%} of the rows) were not forced into one split: their "
                f"{giant['rows_placed_one_by_one']} kept rows were placed one by one, and the "
                f"build's audit removes any eval row still linked to train "
                f"(`split:leak_link`).", ""]
    return out


def largest_clusters(clusters: pa.Table, n: int) -> list[tuple[str, list[dict[str, Any]]]]:
    """The ``n`` largest duplicate clusters (ties by cluster id), members survivor first.

    Only the chosen clusters' rows are converted to Python.
    """
    rows = clusters.sort_by([("sf_cluster_size", "descending"), ("sf_cluster", "ascending"),
                             ("sf_kept", "descending"), ("sf_id", "ascending")])
    top = pc.unique(rows.column("sf_cluster"))[:n]
    members: dict[str, list[dict[str, Any]]] = {}
    for row in rows.filter(pc.is_in(rows.column("sf_cluster"), value_set=top)).to_pylist():
        members.setdefault(row["sf_cluster"], []).append(row)
    return list(members.items())


def _largest_clusters(clusters: pa.Table) -> list[str]:
    largest = largest_clusters(clusters, LARGEST_CLUSTERS)
    out = [f"### The {len(largest)} largest duplicate clusters", ""]
    for cluster, members in largest:
        out += [f"**{cluster}** ({len(members)} rows)", ""]
        out += _table(["id", "kept", "copy of", "method", "score", "text"], [
            [m["sf_id"], "yes" if m["sf_kept"] else "", m.get("sf_kept_id") or "",
             m["sf_method"] or "", "" if m["sf_score"] is None else f"{m['sf_score']:.2f}",
             _cell(m["sf_text"])]
            for m in members[:6]
        ])
        if len(members) > 6:
            out.append(f"| … {len(members) - 6} more | | | | | |")
        out.append("")
    return out


def write_report(folder: Path, manifest: dict[str, Any], clusters: pa.Table | None = None) -> None:
    """Write ``report.md`` into a build folder."""
    write_text_atomic(folder / "report.md", render_report(manifest, clusters))
