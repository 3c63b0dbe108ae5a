"""``report.html``: the page a team opens in review, one self-contained file.

Every plot is a PNG embedded as a data URI and the style sheet is inline, so the file opens
with no network. It is built from the build folder alone (manifest, split files, clusters,
challenge sets, audit), which is how ``splitforge report DIR`` rebuilds it. Plots are drawn with
matplotlib's Agg backend and written without metadata that changes between runs, so the same
build gives the same bytes.
"""

from __future__ import annotations

import base64
import difflib
import html
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

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
th{background:#f5f5f5;white-space:nowrap}figure{display:inline-block;margin:.5rem}
img{max-width:520px}.muted{color:#777}mark{background:#ffe08a}
.summary{border:2px solid #55a868;border-radius:6px;padding:.5rem 1rem;background:#f6fbf7}
.summary.bad{border-color:#c44e52;background:#fdf5f5}.verdict{font-weight:600;font-size:1.05rem}
.warnings li{color:#8a4b00}h3.cluster{font-size:.95rem;margin:.8rem 0 .2rem}
pre{white-space:pre-wrap;font-size:.8rem}
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


_LENGTH = "length"  # characters of a row's text, in the tables ``_splits`` reads
_READ_ROWS = 65_536


def _splits(folder: Path, recipe: Any) -> dict[str, pa.Table]:
    """Per split, what its plots read: time and label (when there) and each text's length.

    Read a batch at a time: a split's whole table (all its text) is never held at once.
    """
    out = {}
    for name in SPLITS:
        with pq.ParquetFile(folder / f"{name}.parquet") as source:
            kept = [c for c in (C.TIME, C.LABEL) if c in source.schema_arrow.names]
            schema = pa.schema([source.schema_arrow.field(c) for c in kept]
                               + [pa.field(_LENGTH, pa.int64())])
            parts = []
            for batch in source.iter_batches(batch_size=_READ_ROWS):
                table = pa.Table.from_batches([batch])
                length = pc.cast(pc.utf8_length(recipe_text(table, recipe)), pa.int64())
                parts.append(table.select(kept).append_column(_LENGTH, length).cast(schema))
        out[name] = pa.concat_tables(parts) if parts else schema.empty_table()
    return out


def render_html(folder: Path, manifest: dict[str, Any]) -> str:
    """The whole page for the build in ``folder`` (its files and ``manifest``)."""
    recipe = validate_recipe(manifest["recipe"])
    splits = _splits(folder, recipe)
    parts = [f"<h1>{html.escape(manifest['name'])} — build {manifest['build_id']}</h1>",
             f"<p class=muted>splitforge {manifest['splitforge_version']}, seed "
             f"{manifest['seed']}, split method {html.escape(recipe.split.method)}.</p>",
             _summary(manifest, recipe)]
    parts += _plots(folder, splits, manifest)
    audit_path = folder / "audit" / "audit.parquet"
    audit = pq.read_table(audit_path) if audit_path.is_file() else None
    if audit is not None:
        parts += _flagged(audit)
    challenge = folder / "challenge"
    if (challenge / "all.parquet").is_file():
        parts += _challenge_samples(challenge, recipe)
    clusters_path = folder / "dedup_clusters.parquet"
    clusters = pq.read_table(clusters_path) if clusters_path.is_file() else None
    if clusters is not None and clusters.num_rows:
        parts += _cluster_blocks(clusters)
    chains = (manifest["stages"]["dedup"].get("chained_clusters") or {}).get("largest") or []
    if chains:
        parts += ["<h2>Clusters grown by chaining</h2>", _table(
            ["cluster", "rows", "kept", "weakest link"],
            [[_short_id(c["cluster"]), c["rows"], c["kept"],
              "" if c["weakest_link"] is None else f"{c['weakest_link']:.2f}"] for c in chains],
            "chains")]
    spans = (manifest["stages"].get("boilerplate") or {}).get("spans") or []
    if spans:
        parts += ["<h2>Boilerplate left out of similarity</h2>", _table(
            ["rows", "span"], [[s["rows"], s["text"]] for s in spans], "boilerplate")]
    parts += _inputs_and_recipe(manifest)
    return ("<!doctype html><html><head><meta charset=utf-8><title>"
            f"{html.escape(manifest['name'])} {manifest['build_id']}</title><style>{STYLE}"
            "</style></head><body>" + "\n".join(parts) + "</body></html>\n")


def _summary(manifest: dict[str, Any], recipe: Any) -> str:
    """The top of the page: the verdict, rows per split against the request, removals, warnings."""
    counts = manifest["counts"]["splits"]
    total = max(1, sum(counts.values()))
    split_info = manifest["stages"]["split"]
    requested = None if recipe.split.cutoffs is not None else recipe.split.resolved_ratios
    audit = manifest["stages"].get("audit")
    warnings = list(split_info.get("warnings") or [])
    bad = bool(audit and audit.get("failed"))
    if audit:
        verdicts = audit.get("verdicts", {})
        verdict = (f"Audit of {audit.get('eval_items', 0):,} val/test items against "
                   f"{audit.get('train_rows', 0):,} training rows: " + ", ".join(
                       f"{verdicts.get(k, 0):,} {k}" for k in VERDICTS) +
                   f" — gate fail_on {audit.get('fail_on')}: "
                   f"{'FAILED' if audit.get('failed') else 'passed'}.")
    else:
        verdict = "No contamination audit (audit.methods is empty)."
    rows = [[k, f"{counts[k]:,}", f"{counts[k] / total:.1%}",
             f"{getattr(requested, k):.0%}" if requested is not None else
             _cutoff_text(split_info, k)] for k in SPLITS]
    removed = manifest["counts"].get("removed_by_reason") or {}
    loaded = manifest["counts"].get("rows_loaded", 0)
    out = [f'<section class="summary {"bad" if bad else "ok"}" data-summary>',
           f"<p class=verdict>{html.escape(verdict)}</p>",
           f"<p>{loaded:,} rows loaded, {manifest['counts'].get('rows_rejected', 0):,} rejected, "
           f"{sum(counts.values()):,} in the splits, {sum(removed.values()):,} removed.</p>",
           _table(["split", "rows", "share", "requested" if requested is not None else "from"],
                  rows, "splits")]
    if removed:
        out.append(_table(["stage", "reason", "rows removed"],
                          [[*key.split(":", 1), f"{n:,}"] for key, n in ordered(removed)],
                          "rows removed"))
    if warnings:
        out.append("<ul class=warnings data-warnings>" + "".join(
            f"<li><strong>Warning:</strong> {html.escape(w)}</li>" for w in warnings) + "</ul>")
    if audit and verdicts:
        out.append(_table(["verdict", "items"], [[k, f"{verdicts.get(k, 0):,}"]
                                                  for k in VERDICTS], "verdicts"))
    out.append("</section>")
    return "".join(out)


VERDICTS = ("contaminated", "suspect", "clean")


def _cutoff_text(split_info: dict[str, Any], split: str) -> str:
    cutoffs = split_info.get("cutoffs") or {}
    if split == "train":
        return "start"
    value = cutoffs.get(split)
    return str(value)[:19].replace("T", " ") if value else "—"


def _plots(folder: Path, splits: dict[str, pa.Table], manifest: dict[str, Any]) -> list[str]:
    plots = []
    if all(C.TIME in t.column_names for t in splits.values()):
        plots.append(_figure(lambda ax: _timeline(ax, splits, manifest),
                             "time span and rows of each split"))
        if any(splits[k].num_rows for k in ("val", "test")):
            plots.append(_figure(lambda ax: _held_out_time(ax, splits, manifest),
                                 "rows per split over the held-out period"))
    plots.append(_figure(lambda ax: _lengths(ax, splits), "text length per split (characters)"))
    if all(C.LABEL in t.column_names for t in splits.values()):
        plots.append(_figure(lambda ax: _labels(ax, splits), "label shares per split"))
    clusters_path = folder / "dedup_clusters.parquet"
    if clusters_path.is_file():
        clusters = pq.read_table(clusters_path)
        if clusters.num_rows:
            sizes = np.bincount(np.unique(clusters.column(C.CLUSTER).to_numpy(
                zero_copy_only=False), return_inverse=True)[1].ravel())
            plots.append(_figure(lambda ax: _hist(ax, sizes, "rows per cluster", log=True),
                                 "duplicate cluster sizes"))
    audit_path = folder / "audit" / "audit.parquet"
    if audit_path.is_file():
        audit = pq.read_table(audit_path)
        if audit.num_rows:
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
    return ["<h2>Plots</h2>", "".join(plots)]


def _flagged(audit: pa.Table) -> list[str]:
    """Each contaminated or suspect item beside the training text it matched, overlap marked."""
    flagged = audit.filter(pc.not_equal(audit.column("verdict"), "clean")).slice(0, 50)
    head = ["<h2>Contaminated and suspect items</h2>"]
    if not flagged.num_rows:
        return [*head, "<p class=muted>None: every audited item is clean.</p>"]
    rows = []
    for r in flagged.to_pylist():
        ours, theirs = marked_overlap(r["eval_text"] or "", r["matched_text"] or "")
        split, _, item = str(r["eval_id"]).rpartition(":")
        rows.append(f"<tr><td>{html.escape(split + ':' + _short_id(item))}<br><b>"
                    f"{html.escape(str(r['verdict']))}</b><br>"
                    f"{html.escape(str(r['evidence_method'] or ''))} "
                    f"{(r['evidence_score'] or 0):.2f}</td><td>{ours}</td><td>"
                    f"{html.escape(_short_id(r['evidence_id'] or ''))}<br>{theirs}</td></tr>")
    return [*head, '<table data-table="contamination"><tr><th>eval item</th><th>eval text'
            "</th><th>training text it matched</th></tr>" + "".join(rows) + "</table>"]


def _challenge_samples(challenge: Path, recipe: Any) -> list[str]:
    """A heading and up to 8 samples per kind; adversarial items beside their originals."""
    out = ["<h2>Challenge samples</h2>"]
    for kind in ("edge", "ood", "temporal", "adversarial"):
        sample = pq.read_table(challenge / f"{kind}.parquet")
        out.append(f"<h3>{kind} <span class=muted>({sample.num_rows:,} items)</span></h3>")
        sample = sample.slice(0, 8)
        if not sample.num_rows:
            out.append("<p class=muted>none</p>")
            continue
        texts = recipe_text(sample, recipe).to_pylist()
        records = sample.to_pylist()
        if kind == "adversarial":
            rows = []
            for r, text in zip(records, texts, strict=True):
                before, after = marked_change(r[C.ORIGINAL_TEXT] or "", text or "")
                rows.append(f"<tr><td>{html.escape(_short_id(r[C.SOURCE_ID]))}</td><td>"
                            f"{html.escape(str(r[C.PERTURBATION]))} ({r[C.EDIT_DISTANCE]} "
                            f"edits)</td><td>{before}</td><td>{after}</td></tr>")
            out.append('<table data-table="challenge-adversarial"><tr><th>source</th><th>'
                       "perturbation</th><th>original</th><th>perturbed</th></tr>"
                       + "".join(rows) + "</table>")
            continue
        rows = [[_short_id(r[C.SOURCE_ID]), r[C.REASON], _score_text(kind, r[C.SCORE]), text]
                for r, text in zip(records, texts, strict=True)]
        out.append(_table(["source", "reason", "time" if kind == "temporal" else "score",
                           "text"], rows, f"challenge-{kind}"))
    return out


def _score_text(kind: str, score: float | None) -> str:
    if score is None:
        return ""
    if kind == "temporal":  # the score is the item's time, in epoch seconds
        return str(np.datetime64(int(score), "s")).replace("T", " ")
    return f"{score:,.6g}"


def _cluster_blocks(clusters: pa.Table) -> list[str]:
    """The 10 largest clusters, one block each: its members, kept or the copy they are of."""
    out = ["<h2>Largest duplicate clusters</h2>"]
    for cluster, members in largest_clusters(clusters, 10):
        kept = sum(1 for m in members if m["sf_kept"])
        out.append(f"<h3 class=cluster>cluster {html.escape(_short_id(cluster))} "
                   f"<span class=muted>{len(members)} rows, {kept} kept</span></h3>")
        out.append(_table(["id", "kept", "copy of", "method", "score", "text"], [
            [_short_id(r[C.ID]), "yes" if r["sf_kept"] else "",
             _short_id(r.get("sf_kept_id") or ""), r["sf_method"] or "",
             "" if r["sf_score"] is None or r["sf_kept"] else f"{r['sf_score']:.2f}",
             r["sf_text"]] for r in members[:5]], "clusters"))
    return out


def _inputs_and_recipe(manifest: dict[str, Any]) -> list[str]:
    split_info = manifest["stages"]["split"]
    rows = [[i["path"], i["format"], f"{i['rows_read']:,}", f"{i['rows_rejected']:,}",
             i["sha256"][:12], "; ".join(i.get("notes") or [])] for i in manifest["inputs"]]
    out = ["<h2>Inputs</h2>", _table(["source", "format", "rows read", "rejected", "sha256",
                                      "notes"], rows, "inputs")]
    details = [f"method {split_info.get('method')}"]
    if split_info.get("cutoffs"):
        details.append("cutoffs " + ", ".join(f"{k} {v}" for k, v in sorted(
            split_info["cutoffs"].items()) if v))
    if split_info.get("gap"):
        details.append(f"gap {split_info['gap']}")
    dropped = split_info.get("dropped") or {}
    if dropped:
        details.append("dropped " + ", ".join(f"{k} {v:,}" for k, v in sorted(dropped.items())))
    out += ["<h2>Split</h2>", f"<p>{html.escape('; '.join(details))}.</p>",
            "<h2>Recipe</h2><details><summary>the resolved recipe</summary><pre>"
            + html.escape(yaml.safe_dump(manifest["recipe"], sort_keys=True,
                                         allow_unicode=True)) + "</pre></details>"]
    return out


def _short_id(value: Any, width: int = 10) -> str:
    """Long ids (40-character commit shas) cut to ``width`` characters; the page stays readable."""
    text = str(value)
    return text if len(text) <= width + 2 else text[:width] + "…"


_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
SHOWN = 600  # characters of an item's text shown


def _tokens(text: str) -> list[tuple[int, int, str]]:
    """Word (or, in CJK text, character) spans with their lower-cased text."""
    if _CJK.search(text):
        return [(i, i + 1, c) for i, c in enumerate(text) if not c.isspace()]
    return [(m.start(), m.end(), m.group().lower()) for m in _TOKEN.finditer(text)]


def marked_overlap(ours: str, theirs: str, n: int = 3) -> tuple[str, str]:
    """Both texts as HTML with the runs of ``n`` tokens they share in ``<mark>``."""
    ours, theirs = ours[:SHOWN], theirs[:SHOWN]
    a, b = _tokens(ours), _tokens(theirs)
    n = max(1, min(n, len(a), len(b)))  # a text shorter than n tokens: its whole run
    grams = {tuple(t for _, _, t in a[i:i + n]) for i in range(len(a) - n + 1)}
    shared = grams & {tuple(t for _, _, t in b[i:i + n]) for i in range(len(b) - n + 1)}
    return _mark(ours, _covered(a, shared, n)), _mark(theirs, _covered(b, shared, n))


def _covered(tokens: list[tuple[int, int, str]], shared: set[tuple[str, ...]], n: int
             ) -> list[tuple[int, int]]:
    marked = np.zeros(len(tokens) + 1, dtype=bool)
    for i in range(len(tokens) - n + 1):
        if tuple(t for _, _, t in tokens[i:i + n]) in shared:
            marked[i:i + n] = True
    spans, start = [], None  # one span per run of marked tokens, across the spaces between
    for i, on in enumerate(marked):
        if on and start is None:
            start = tokens[i][0]
        elif not on and start is not None:
            spans.append((start, tokens[i - 1][1]))
            start = None
    return spans


def marked_change(before: str, after: str) -> tuple[str, str]:
    """The original and the perturbed text as HTML, what changed in ``<mark>`` on each side.

    The texts are compared whole; each side shows ``SHOWN`` characters from a little before
    the first change, so a change deep in a long text is still on the page.
    """
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    changes = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    if not changes:
        return _mark(before[:SHOWN], []), _mark(after[:SHOWN], [])
    lead = min(changes[0][1], changes[0][3], CONTEXT)
    a0, b0 = changes[0][1] - lead, changes[0][3] - lead
    old = [(i1 - a0, i2 - a0) for _, i1, i2, _, _ in changes]
    new = [(j1 - b0, j2 - b0) for _, _, _, j1, j2 in changes]
    return (_clip(before, a0, old), _clip(after, b0, new))


CONTEXT = 120  # characters shown before an adversarial item's first change


def _clip(text: str, start: int, spans: list[tuple[int, int]]) -> str:
    shown = text[start:start + SHOWN]
    inside = [(a, min(b, len(shown))) for a, b in spans if a < len(shown)]
    return ("…" if start else "") + _mark(shown, inside) + (
        "…" if start + SHOWN < len(text) else "")


def _mark(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` escaped, with the (sorted, merged) ``spans`` in ``<mark>``."""
    out, at = [], 0
    for start, end in sorted(spans):
        if end <= at or end <= start:
            continue
        start = max(start, at)
        out += [html.escape(text[at:start]), "<mark>", html.escape(text[start:end]), "</mark>"]
        at = end
    out.append(html.escape(text[at:]))
    return "".join(out).replace("</mark><mark>", "")


def _years(table: pa.Table) -> np.ndarray:
    micros = table.column(C.TIME).cast(pa.int64()).to_numpy(zero_copy_only=False)
    return 1970 + micros / (1e6 * 86400 * 365.2425)


def _cutoff_years(manifest: dict[str, Any]) -> list[tuple[str, float]]:
    out = []
    for name, value in sorted((manifest["stages"]["split"].get("cutoffs") or {}).items()):
        if value:
            seconds = np.datetime64(value[:19]).astype("datetime64[s]").astype(np.int64)
            out.append((name, 1970 + seconds / (86400 * 365.2425)))
    return out


def _timeline(ax: Any, splits: dict[str, pa.Table], manifest: dict[str, Any]) -> None:
    """One bar per split from its first to its last row, labelled with its rows."""
    for y, name in enumerate(reversed(SPLITS)):
        years = _years(splits[name])
        if len(years):
            ax.barh(y, years.max() - years.min() or 0.02, left=years.min(), height=0.6,
                    color=COLORS[name])
            ax.text(years.max(), y, f"  {len(years):,} rows", va="center", fontsize=8)
    for _, year in _cutoff_years(manifest):
        ax.axvline(year, color="black", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(SPLITS)), list(reversed(SPLITS)))
    ax.set_xlabel("year (UTC); dashed: cutoffs")
    ax.margins(x=0.15)


def _held_out_time(ax: Any, splits: dict[str, pa.Table], manifest: dict[str, Any]) -> None:
    """Rows per split over the period the held-out splits cover (train's tail shown too)."""
    held = np.concatenate([_years(splits[k]) for k in ("val", "test")])
    start, end = held.min(), held.max()
    start -= max((end - start) * 0.25, 1 / 365)
    bins = np.linspace(start, end + 1e-9, 30)
    ax.hist([_years(splits[k])[_years(splits[k]) >= start] for k in SPLITS], bins=bins,
            stacked=True, label=list(SPLITS), color=[COLORS[k] for k in SPLITS])
    top = ax.get_ylim()[1]
    for k, (name, year) in enumerate(_cutoff_years(manifest)):
        if start <= year <= end:
            ax.axvline(year, color="black", linestyle="--", linewidth=1)
            ax.text(year, top * (0.92 - 0.1 * k), f" {name}", fontsize=8)
    ax.set_xlabel("year (UTC); dashed: cutoffs")
    ax.legend(fontsize=8)


def _lengths(ax: Any, splits: dict[str, pa.Table]) -> None:
    for name in SPLITS:
        lengths = splits[name].column(_LENGTH).to_numpy(zero_copy_only=False)
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
