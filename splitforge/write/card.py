"""The build folder's dataset card: ``README.md`` with the Hugging Face YAML header.

``datasets.load_dataset(build_folder)`` reads the header's ``configs``: the default config maps
``train``, ``validation`` and ``test`` to the split files, and a challenge config (when the
build has challenge sets) maps each set to its file. The configs are named by the build id
(``<build_id>`` and ``challenge-<build_id>``): ``datasets`` caches a local folder by its name
and config name only, so two builds loaded through a folder named ``latest`` would otherwise
share one cache entry and the second load would silently return the first build's rows. The
body says what the build is: counts, how it was deduplicated, split and audited, and the
resolved recipe.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from splitforge.recipe import SPLITS
from splitforge.write.files import write_text_atomic
from splitforge.write.report import KIND_ORDER, VERDICT_ORDER, ordered

CARD = "README.md"
HF_SPLITS = (("train", "train"), ("validation", "val"), ("test", "test"))  # datasets name, ours


def card_header(manifest: dict[str, Any]) -> dict[str, Any]:
    """The YAML header: configs and their data files."""
    build_id = manifest["build_id"]
    configs = [{"config_name": build_id, "default": True,
                "data_files": [{"split": split, "path": f"{name}.parquet"}
                               for split, name in HF_SPLITS]}]
    if "challenge" in manifest["stages"]:
        files = [(kind, kind) for kind, _ in ordered(manifest["stages"]["challenge"]["picked"],
                                                     KIND_ORDER)]
        files.append(("all_sets", "all"))  # "all" is a reserved split name in datasets
        configs.append({"config_name": challenge_config(build_id),
                        "data_files": [{"split": split, "path": f"challenge/{name}.parquet"}
                                       for split, name in files]})
    license_ = (manifest["recipe"].get("output") or {}).get("license")
    return {"configs": configs, "license": license_ or "unknown", "tags": ["splitforge"]}


def challenge_config(build_id: str) -> str:
    """The ``datasets`` config name of a build's challenge sets."""
    return f"challenge-{build_id}"


def render_card(manifest: dict[str, Any], schema: pa.Schema | None = None) -> str:
    """The whole card: YAML header, then a Markdown description of the build.

    ``schema`` is the split files' (the card lists its columns). Paths are never this machine's:
    the recipe's relative paths are written as they resolve from the build folder
    (``manifest["recipe_folder"]``), absolute ones by their last parts.
    """
    counts = manifest["counts"]["splits"]
    dedup = manifest["stages"]["dedup"]
    recipe = manifest["recipe"]
    lines = ["---", yaml.safe_dump(card_header(manifest), sort_keys=False).rstrip(), "---", "",
             f"# {manifest['name']} (build {manifest['build_id']})", "",
             f"Built by splitforge {manifest['splitforge_version']} with seed {manifest['seed']}. "
             f"Load it with `datasets.load_dataset(\"<this folder>\")` (splits train, "
             f"validation, test)" + (f" or `load_dataset(\"<this folder>\", "
                                     f"\"{challenge_config(manifest['build_id'])}\")` for the "
                                     f"challenge sets" if "challenge" in manifest["stages"]
                                     else "") + ".", "",
             "| split | rows |", "|---|---|"]
    lines += [f"| {split} | {counts[name]} |" for split, name in HF_SPLITS]
    license_ = (recipe.get("output") or {}).get("license")
    lines += ["", f"License: {license_}." if license_ else
              "License: not given (set `output.license` in the recipe, e.g. `apache-2.0`; "
              "the license of the source data applies)."]
    lines += ["", "## Sources", "", "| source | rows read | rejected | sha256 |",
              "|---|---|---|---|"]
    names = _source_names(manifest)
    lines += [f"| `{name}` | {i['rows_read']} | {i['rows_rejected']} | `{i['sha256'][:16]}` |"
              for name, i in zip(names, manifest["inputs"], strict=True)]
    if schema is not None:
        lines += ["", "## Schema", "", "| column | type |", "|---|---|"]
        lines += [f"| `{f.name}` | `{f.type}` |" for f in schema]
    lines += ["", "## How it was made", "",
              f"- Deduplicated ({_methods(recipe['dedup'])}): {dedup['rows_removed']} rows "
              f"removed in {dedup['duplicate_clusters']} clusters; every cluster sits whole in "
              f"one split, keeping its {recipe['dedup']['keep']} member.",
              f"- Split: `{recipe['split']['method']}`" + _split_details(manifest) + "."]
    if "challenge" in manifest["stages"]:
        picked = manifest["stages"]["challenge"]["picked"]
        lines.append("- Challenge sets from held-out rows only: " +
                     ", ".join(f"{k} {v}" for k, v in ordered(picked, KIND_ORDER)) + ".")
    if "audit" in manifest["stages"]:
        audit = manifest["stages"]["audit"]
        checks = ", ".join(audit["checks"])
        lines.append(f"- Contamination audit of val and test against train ({checks}): " +
                     ", ".join(f"{v} {k}" for k, v in ordered(audit["verdicts"],
                                                              VERDICT_ORDER)) +
                     f"; gate fail_on {audit['fail_on']}: "
                     f"{'failed' if audit['failed'] else 'passed'}.")
    lines += ["", "## Recipe", "", "Paths as they resolve from this folder.", "", "```yaml",
              yaml.safe_dump(_portable(recipe, manifest), sort_keys=False,
                             allow_unicode=True).rstrip(), "```", "",
              "`manifest.json` holds the sha256 of every file; `splitforge verify <this folder>` "
              "checks them.", ""]
    return "\n".join(lines)


def _from_build(path: str, manifest: dict[str, Any]) -> str:
    """A recipe path as it resolves from the build folder; an absolute one by its last parts."""
    from pathlib import PurePosixPath

    pure = PurePosixPath(path)
    if pure.is_absolute() or path.startswith("~"):
        return "/".join(pure.parts[-2:])
    base = manifest.get("recipe_folder")
    return posixpath.normpath(posixpath.join(base, path)) if base else path


def _source_names(manifest: dict[str, Any]) -> list[str]:
    sources = manifest["recipe"].get("sources") or []
    return [s.get("name") or _from_build(s.get("path") or "", manifest) for s in sources]


def _portable(recipe: dict[str, Any], manifest: dict[str, Any]) -> dict[str, Any]:
    """The recipe with its paths as they resolve from the build folder, ``output.dir`` left out."""
    out = json.loads(json.dumps(recipe))
    for source in [*(out.get("sources") or []), out.get("control") or {}]:
        for key in ("path", "dataset_info"):
            if isinstance(source.get(key), str):
                source[key] = _from_build(source[key], manifest)
    audit = out.get("audit") or {}
    if isinstance(audit.get("against"), list):
        audit["against"] = [_from_build(p, manifest) for p in audit["against"]]
    if isinstance(out.get("output"), dict):
        out["output"].pop("dir", None)
    return out


def _methods(dedup: dict[str, Any]) -> str:
    used = [name for name in ("exact", "minhash", "semantic") if dedup.get(name)]
    return ", ".join(used) or "none"


def _split_details(manifest: dict[str, Any]) -> str:
    info = manifest["stages"]["split"]
    if info.get("cutoffs"):
        cut = ", ".join(f"{k} from {v}" for k, v in ordered(info["cutoffs"], SPLITS) if v)
        return f" ({cut}; gap {info.get('gap') or 'none'})"
    return ""


def write_card(folder: Path, manifest: dict[str, Any]) -> None:
    """Write ``README.md`` into a build folder."""
    train = folder / "train.parquet"
    schema = pq.read_schema(train) if train.is_file() else None
    write_text_atomic(folder / CARD, render_card(manifest, schema))
