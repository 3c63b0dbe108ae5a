"""``report.html``: the page a team opens in review, one self-contained file.

Every plot is a PNG embedded as a data URI and the style sheet is inline, so the file opens
with no network. It is built from the build folder alone (manifest, split files, clusters,
challenge sets, audit), which is how ``splitforge report DIR`` rebuilds it. Plots are drawn with
matplotlib's Agg backend and written without metadata that changes between runs, so the same
build gives the same bytes.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from splitforge import columns as C
from splitforge.load.sources import recipe_text
from splitforge.recipe import SPLITS, validate_recipe
from splitforge.write.files import write_text_atomic
from splitforge.write.report import largest_clusters, ordered

HTML = "report.html"
COLORS = {"train": "#4c72b0", "val": "#dd8452", "test": "#55a868"}
STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem;max-width:100%}
td,th{border:1px solid #ddd;padding:.25rem .5rem;vertical-align:top;text-align:left;
overflow-wrap:anywhere}
th{background:#f5f5f5}figure{display:inline-block;margin:.5rem}img{max-width:520px}
.muted{color:#777}
"""


def _figure(draw: Any, title: str) -> str:
    """A matplotlib figure drawn by ``draw(ax)``, as an ``<figure>`` with an embedded PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=90)
    draw(ax)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<figure data-plot="{html.escape(title)}"><img alt="{html.escape(title)}" '
            f'src="data:image/png;base64,{data}"></figure>')


def _table(header: list[str], rows: list[list[Any]], name: str) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_short(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f'<table data-table="{name}"><tr>{head}</tr>{body}</table>'


def _short(value: Any, width: int = 200) -> str:
    text = " ".join(str("" if value is None else value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _splits(folder: Path, recipe: Any) -> dict[str, pa.Table]:
    out = {}
    for name in SPLITS:
        table = pq.read_table(folder / f"{name}.parquet")
        out[name] = table.append_column(C.TEXT, recipe_text(table, recipe))
    return out


def render_html(folder: Path, manifest: dict[str, Any]) -> str:
    """The whole page for the build in ``folder`` (its files and ``manifest``)."""
    recipe = validate_recipe(manifest["recipe"])
    splits = _splits(folder, recipe)
    counts = manifest["counts"]["splits"]
    parts = [f"<h1>{html.escape(manifest['name'])} — build {manifest['build_id']}</h1>",
             f"<p class=muted>splitforge {manifest['splitforge_version']}, seed "
             f"{manifest['seed']}, split method {html.escape(recipe.split.method)}.</p>",
             _table(["split", "rows", "share"],
                    [[k, counts[k], f"{counts[k] / max(1, sum(counts.values())):.1%}"]
                     for k in SPLITS], "splits")]
    removed = manifest["counts"].get("removed_by_reason") or {}
    if removed:
        parts.append(_table(["stage", "reason", "rows removed"],
                            [[*key.split(":", 1), n] for key, n in ordered(removed)],
                            "rows removed"))
    plots = []
    if all(C.TIME in t.column_names for t in splits.values()):
        plots.append(_figure(lambda ax: _over_time(ax, splits, manifest), "rows per split over "
                                                                          "time"))
    plots.append(_figure(lambda ax: _lengths(ax, splits), "text length per split (characters)"))
    if all(C.LABEL in t.column_names for t in splits.values()):
        plots.append(_figure(lambda ax: _labels(ax, splits), "label shares per split"))
    clusters_path = folder / "dedup_clusters.parquet"
    clusters = pq.read_table(clusters_path) if clusters_path.is_file() else None
    if clusters is not None and clusters.num_rows:
        sizes = np.bincount(np.unique(clusters.column(C.CLUSTER).to_numpy(zero_copy_only=False),
                                      return_inverse=True)[1].ravel())
        plots.append(_figure(lambda ax: _hist(ax, sizes, "rows per cluster", log=True),
                             "duplicate cluster sizes"))
    audit_path = folder / "audit" / "audit.parquet"
    audit = pq.read_table(audit_path) if audit_path.is_file() else None
    if audit is not None and audit.num_rows:
        plots.append(_figure(lambda ax: _audit_scores(ax, audit, manifest),
                             "contamination scores per eval set"))
    challenge = folder / "challenge"
    if (challenge / "all.parquet").is_file():
        everything = pq.read_table(challenge / "all.parquet")
        plots.append(_figure(lambda ax: _composition(ax, everything),
                             "challenge set composition"))
        ood = pq.read_table(challenge / "ood.parquet")
        if ood.num_rows:
            scores = np.asarray(ood.column(C.SCORE).to_pylist(), dtype=float)
            plots.append(_figure(lambda ax: _hist(ax, scores, "OOD score"), "OOD scores of the "
                                                                            "ood set"))
    parts += ["<h2>Plots</h2>", "".join(plots)]
    if clusters is not None and clusters.num_rows:
        # the 10 largest clusters, their survivor and 4 more members
        rows = [m for _, members in largest_clusters(clusters, 10) for m in members[:5]]
        parts += ["<h2>Largest duplicate clusters</h2>", _table(
            ["cluster", "id", "kept", "copy of", "method", "score", "text"],
            [[r[C.CLUSTER], r[C.ID], "yes" if r["sf_kept"] else "", r.get("sf_kept_id") or "",
              r["sf_method"] or "",
              "" if r["sf_score"] is None or r["sf_kept"] else f"{r['sf_score']:.2f}",
              r["sf_text"]] for r in rows], "clusters")]
    chains = (manifest["stages"]["dedup"].get("chained_clusters") or {}).get("largest") or []
    if chains:
        parts += ["<h2>Clusters grown by chaining</h2>", _table(
            ["cluster", "rows", "kept", "weakest link"],
            [[c["cluster"], c["rows"], c["kept"],
              "" if c["weakest_link"] is None else f"{c['weakest_link']:.2f}"] for c in chains],
            "chains")]
    spans = (manifest["stages"].get("boilerplate") or {}).get("spans") or []
    if spans:
        parts += ["<h2>Boilerplate left out of similarity</h2>", _table(
            ["rows", "span"], [[s["rows"], s["text"]] for s in spans], "boilerplate")]
    if audit is not None:
        flagged = audit.filter(pc.not_equal(audit.column("verdict"), "clean")).slice(0, 50
                                                                                   ).to_pylist()
        parts += ["<h2>Contaminated and suspect items</h2>", _table(
            ["eval item", "verdict", "check", "score", "training id", "eval text", "matched"],
            [[r["eval_id"], r["verdict"], r["evidence_method"],
              f"{r['evidence_score']:.2f}", r["evidence_id"], r["eval_text"], r["matched_text"]]
             for r in flagged], "contamination")]
    if (challenge / "all.parquet").is_file():
        parts.append("<h2>Challenge samples</h2>")
        for kind in ("edge", "ood", "temporal", "adversarial"):
            sample = pq.read_table(challenge / f"{kind}.parquet").slice(0, 8)
            texts = recipe_text(sample, recipe).to_pylist() if sample.num_rows else []
            table = list(zip(sample.to_pylist(), texts, strict=True))
            if kind == "adversarial":
                rows = [[r[C.SOURCE_ID], r[C.PERTURBATION], r[C.EDIT_DISTANCE],
                         r[C.ORIGINAL_TEXT], text] for r, text in table]
                parts.append(_table(["source", "perturbation", "edits", "original",
                                     "perturbed"], rows, f"challenge-{kind}"))
            else:
                rows = [[r[C.SOURCE_ID], r[C.REASON], "" if r[C.SCORE] is None
                         else f"{r[C.SCORE]:.3f}", text] for r, text in table]
                parts.append(_table(["source", "reason", "score", "text"], rows,
                                    f"challenge-{kind}"))
    return ("<!doctype html><html><head><meta charset=utf-8><title>"
            f"{html.escape(manifest['name'])} {manifest['build_id']}</title><style>{STYLE}"
            "</style></head><body>" + "\n".join(parts) + "</body></html>\n")


def _over_time(ax: Any, splits: dict[str, pa.Table], manifest: dict[str, Any]) -> None:
    years = 1e6 * 86400 * 365.2425
    times = {k: 1970 + t.column(C.TIME).cast(pa.int64()).to_numpy(zero_copy_only=False) / years
             for k, t in splits.items()}
    every = np.concatenate([v for v in times.values() if len(v)]) if any(
        len(v) for v in times.values()) else np.zeros(1)
    bins = np.linspace(every.min(), every.max() + 1, 40)
    ax.hist([times[k] for k in SPLITS], bins=bins, stacked=True, label=list(SPLITS),
            color=[COLORS[k] for k in SPLITS])
    cutoffs = manifest["stages"]["split"].get("cutoffs") or {}
    for name, value in sorted(cutoffs.items()):
        if value:
            seconds = np.datetime64(value[:19]).astype("datetime64[s]").astype(np.int64)
            year = 1970 + seconds / (86400 * 365.2425)
            ax.axvline(year, color="black", linestyle="--", linewidth=1)
            ax.text(year, ax.get_ylim()[1] * (0.9 if name == "test" else 0.8), f" {name}",
                    fontsize=8)
    ax.set_xlabel("year (UTC); dashed: cutoffs")
    ax.legend(fontsize=8)


def _lengths(ax: Any, splits: dict[str, pa.Table]) -> None:
    for name in SPLITS:
        lengths = pc.utf8_length(splits[name].column(C.TEXT)).to_numpy(zero_copy_only=False)
        if len(lengths):
            ax.hist(lengths, bins=40, alpha=0.5, label=name, color=COLORS[name], density=True)
    ax.set_xlabel("characters")
    ax.legend(fontsize=8)


def _labels(ax: Any, splits: dict[str, pa.Table]) -> None:
    labels = sorted({str(v) for t in splits.values() for v in t.column(C.LABEL).to_pylist()})
    x = np.arange(len(labels))
    for k, name in enumerate(SPLITS):
        values = np.asarray(splits[name].column(C.LABEL).cast(pa.string()).to_pylist(), dtype=str)
        found, counts = np.unique(values, return_counts=True)
        count_of = dict(zip(found.tolist(), counts.tolist(), strict=True))
        shares = [count_of.get(label, 0) / max(1, len(values)) for label in labels]
        ax.bar(x + (k - 1) * 0.27, shares, width=0.27, label=name, color=COLORS[name])
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
    ax.legend(fontsize=8)


def _hist(ax: Any, values: np.ndarray, xlabel: str, log: bool = False) -> None:
    ax.hist(values, bins=30, color="#4c72b0")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)


def _audit_scores(ax: Any, audit: pa.Table, manifest: dict[str, Any]) -> None:
    sets = audit.column("eval_set").to_pylist() if "eval_set" in audit.column_names else \
        ["eval"] * audit.num_rows
    scores = [s if s is not None else 0.0 for s in audit.column("evidence_score").to_pylist()]
    names = sorted(set(sets))
    ax.hist([[s for s, e in zip(scores, sets, strict=True) if e == name] for name in names],
            bins=20, label=names)
    thresholds = manifest["stages"].get("audit", {}).get("thresholds", {})
    for key in ("ngram_contaminated", "minhash_contaminated"):
        if key in thresholds:
            ax.axvline(thresholds[key], linestyle="--", color="red", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("score of the deciding check (0 = clean); red: contaminated thresholds")
    ax.legend(fontsize=8)


def _composition(ax: Any, everything: pa.Table) -> None:
    kinds = everything.column(C.CHALLENGE).to_pylist()
    reasons = everything.column(C.REASON).to_pylist()
    names = ["edge", "ood", "temporal", "adversarial"]
    bottom = np.zeros(len(names))
    from matplotlib import colormaps

    colours = colormaps["tab20"].colors  # up to 20 reasons, each its own colour
    for index, reason in enumerate(sorted(set(reasons))):
        heights = np.array([sum(1 for k, r in zip(kinds, reasons, strict=True)
                                if k == name and r == reason) for name in names])
        ax.bar(names, heights, bottom=bottom, label=reason, color=colours[index % len(colours)])
        bottom += heights
    ax.legend(fontsize=6, ncol=1, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def write_html_report(folder: Path, manifest: dict[str, Any]) -> None:
    """Write ``report.html`` into a build folder."""
    write_text_atomic(folder / HTML, render_html(folder, manifest))
