"""The manifest: build id, resolved recipe, input and output hashes, counts and versions.

It holds no time and no absolute path, so the same build twice writes the same bytes.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path
from typing import Any

from splitforge.fingerprint import fingerprint, sha256_file
from splitforge.write.files import write_json

MANIFEST = "manifest.json"
SIDECAR = "manifest.sha256"  # the manifest's own hash: an edit to it is seen by verify
MANIFEST_VERSION = 2  # 2: manifest.sha256 beside it
_SAFE_ID = re.compile(r"(?!\.{1,2}\Z)[A-Za-z0-9._-]{1,100}\Z")
KEY_DEPENDENCIES = ("datasets", "datasketch", "faiss-cpu", "numpy", "pandas", "pyarrow",
                    "pydantic", "scikit-learn")


def splitforge_version() -> str:
    """The installed splitforge version."""
    from splitforge import __version__

    return __version__


def dependency_versions() -> dict[str, str]:
    """Versions of splitforge's key dependencies ("not installed" where absent)."""
    versions = {}
    for name in KEY_DEPENDENCIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


STAGES = (("load", ("sources", "fields", "control")), ("normalize", ()), ("dedup", ("dedup",)),
          ("split", ("split", "seed")), ("challenge", ("challenge", "seed")),
          ("audit", ("audit",)), ("write", ("output",)))


def stage_fingerprints(resolved_recipe: dict[str, Any], input_hashes: list[str],
                       stage_versions: dict[str, str]) -> dict[str, str]:
    """A fingerprint per stage, chained: each hashes the previous one, its settings and versions.

    ``fp_stage = H(fp_previous, stage, its recipe sections, its implementations' versions)``, with
    the inputs' sha256 at the start of the chain (as ``datasets`` chains transform fingerprints).
    Two builds share a stage's fingerprint exactly when everything up to that stage is the same.
    """
    chain: dict[str, str] = {}
    previous = fingerprint("splitforge-inputs", input_hashes)
    for stage, sections in STAGES:
        settings = {k: resolved_recipe.get(k) for k in sections}
        if stage == "write":
            settings = {"output": {k: v for k, v in (resolved_recipe.get("output") or {}).items()
                                   if k != "dir"}}
        versions = {k: v for k, v in stage_versions.items() if k.split(".")[0] == stage}
        previous = fingerprint(previous, stage, settings, versions, splitforge_version())
        chain[stage] = previous[:16]
    return chain


_STAGED = re.compile(r"^.*(?:^|/)\.cache/inputs/([0-9a-f]{64}\.parquet)$")


def compute_build_id(resolved_recipe: dict[str, Any], input_hashes: list[str],
                     stage_versions: dict[str, str], length: int = 12,
                     version: str | None = None) -> str:
    """The build id: a hash of the inputs' bytes, the resolved recipe and the code version.

    ``output.dir`` is left out: where a build is written does not change what is written; so is
    the folder of an in-memory source's staged file (``load.memory``), named by its content.
    ``version`` is splitforge's (default: this one; ``verify`` passes the recorded one).
    """
    recipe = {k: v for k, v in resolved_recipe.items() if k != "output"}
    if isinstance(recipe.get("sources"), list):
        recipe["sources"] = [{**s, "path": _STAGED.sub(r"\1", s["path"])}
                             if isinstance(s, dict) and isinstance(s.get("path"), str) else s
                             for s in recipe["sources"]]
    output = {k: v for k, v in resolved_recipe.get("output", {}).items() if k != "dir"}
    return fingerprint("splitforge-build", version or splitforge_version(), stage_versions,
                       recipe, output, input_hashes)[:length]


def file_entries(folder: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file in a build folder except the manifest, by relative path."""
    entries = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel in (MANIFEST, SIDECAR):
            continue
        entries[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return entries


def write_manifest(folder: Path, manifest: dict[str, Any], rows: dict[str, int]) -> dict[str, Any]:
    """Add the output file hashes (and row counts where known) and write ``manifest.json``."""
    outputs = file_entries(folder)
    for rel, entry in outputs.items():
        if rel in rows:
            entry["rows"] = rows[rel]
    manifest = {"manifest_version": MANIFEST_VERSION, **manifest, "outputs": outputs}
    write_json(manifest, folder / MANIFEST)
    (folder / SIDECAR).write_text(f"{sha256_file(folder / MANIFEST)}  {MANIFEST}\n",
                                  encoding="utf-8")
    return manifest


def read_manifest(folder: Path) -> dict[str, Any]:
    """A build folder's ``manifest.json``.

    Raises:
        InputError: The folder has no manifest, or it is not a splitforge manifest.
    """
    import json

    from splitforge.errors import InputError

    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise InputError("not a splitforge build folder: it has no manifest.json", path=folder)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"manifest.json is not a splitforge manifest ({error})",
                         path=path) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("recipe"), dict) \
            or not isinstance(manifest.get("outputs"), dict):
        raise InputError("manifest.json is not a splitforge manifest (no recipe or outputs)",
                         path=path)
    build_id = manifest.get("build_id")
    if build_id is not None and not (isinstance(build_id, str) and _SAFE_ID.fullmatch(build_id)):
        raise InputError(f"manifest.json: build_id {build_id!r} is not a build id (letters, "
                         f"digits, '.', '_', '-'); the manifest was edited", path=path)
    for rel, entry in manifest["outputs"].items():
        parts = Path(str(rel)).parts
        if Path(str(rel)).is_absolute() or ".." in parts or not parts:
            raise InputError(f"manifest.json: output {rel!r} lies outside the build folder; the "
                             f"manifest was edited", path=path)
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise InputError(f"manifest.json: output {rel!r} has no sha256; the manifest was "
                             f"edited", path=path)
    return manifest


def read_intact_manifest(folder: Path) -> dict[str, Any]:
    """``read_manifest``, after checking that every data file it lists still has its hash.

    Commands that read a build's tables (report, diff, challenge, audit --build) call this
    first, so a damaged or edited file is one clear message, not a Parquet error halfway.

    Raises:
        InputError: As ``read_manifest``; or a listed Parquet or JSON Lines file is gone or its
            bytes differ from the manifest.
    """
    from splitforge.errors import InputError

    manifest = read_manifest(folder)
    damaged = []
    for rel, entry in sorted(manifest["outputs"].items()):
        if not str(rel).endswith((".parquet", ".jsonl", ".json", ".arrow")):
            continue
        path = Path(folder) / rel
        if not path.is_file() or path.is_symlink() or sha256_file(path) != (
                entry or {}).get("sha256"):
            damaged.append(str(rel))
    if damaged:
        shown = ", ".join(damaged[:5]) + (f" and {len(damaged) - 5} more" if len(damaged) > 5
                                          else "")
        raise InputError(f"the build's files differ from its manifest ({shown}); run "
                         f"splitforge verify on it, or build it again", path=folder)
    return manifest


def output_file(folder: Path, manifest: dict[str, Any], name: str) -> Path | None:
    """The path of an output the manifest lists (None when it lists none by that name).

    Raises:
        InputError: The manifest lists the file but it is gone (run ``splitforge verify``).
    """
    from splitforge.errors import InputError

    if name not in manifest["outputs"]:
        return None
    path = Path(folder) / name
    if not path.is_file():
        raise InputError(f"{name} is listed in manifest.json but missing; the build folder "
                         f"was changed (see `splitforge verify`)", path=folder)
    return path
