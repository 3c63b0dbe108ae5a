"""``splitforge verify``: does a build folder still hold exactly what its manifest says?

Every file is hashed again (sha256) and compared with ``manifest.json``'s ``outputs``: a file
whose bytes differ is ``changed``, a file the manifest lists but the folder lacks is ``removed``,
and a file the manifest does not list is ``added``. The manifest itself is checked against its own
hash in ``manifest.sha256`` (written with it; a build from before that file says so), and a build's
id is computed again from the recipe, input hashes and stage versions the manifest records: an
edited count, seed, verdict or build id is ``manifest`` trouble. A manifest that cannot be read is
bad input, not a failed check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splitforge.fingerprint import sha256_file
from splitforge.write.manifest import (
    MANIFEST,
    SIDECAR,
    compute_build_id,
    file_entries,
    read_manifest,
)


@dataclass
class Verification:
    """The files of a build that differ from its manifest, by kind; ``ok`` when none do."""

    build_id: str
    checked: int
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    manifest: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the folder is exactly what the manifest lists, and the manifest as written."""
        return not (self.changed or self.removed or self.added or self.manifest)


def verify_build(folder: str | Path) -> Verification:
    """Recompute every file hash of a build folder against its manifest.

    Raises:
        InputError: The folder has no readable ``manifest.json`` with ``outputs``.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    listed, build_id = manifest["outputs"], str(manifest.get("build_id", ""))
    present = file_entries(folder)
    result = Verification(build_id, len(present))
    for rel in sorted(set(listed) | set(present)):
        if rel not in present:
            result.removed.append(rel)
        elif rel not in listed:
            result.added.append(rel)
        elif present[rel]["sha256"] != listed[rel].get("sha256"):
            result.changed.append(rel)
    result.manifest = manifest_problems(folder, manifest)
    return result


def manifest_problems(folder: Path, manifest: dict[str, Any]) -> list[str]:
    """What is wrong with the manifest itself: its hash, and for a build its id."""
    problems = []
    sidecar = folder / SIDECAR
    if sidecar.is_file():
        recorded = sidecar.read_text(encoding="utf-8", errors="replace").split(" ", 1)[0]
        if recorded != sha256_file(folder / MANIFEST):
            problems.append(f"{MANIFEST} was edited after it was written (its sha256 differs "
                            f"from {SIDECAR})")
    elif not isinstance(manifest.get("manifest_version"), int) or manifest["manifest_version"] >= 2:
        problems.append(f"{SIDECAR} is missing, so {MANIFEST} cannot be checked")
    if "stage_fingerprints" in manifest:
        try:
            inputs = [i["sha256"] for i in manifest["inputs"]] + (
                [manifest["control"]["sha256"]] if "control" in manifest else []) + (
                [manifest["challenge_kept_from"]["sha256"]]
                if "challenge_kept_from" in manifest else [])
            expected = compute_build_id(manifest["recipe"], inputs, manifest["stage_versions"],
                                        version=str(manifest["splitforge_version"]))
        except (KeyError, TypeError):
            problems.append(f"{MANIFEST} lacks the recipe, inputs or versions its build id is "
                            f"computed from")
        else:
            if manifest.get("build_id") != expected:
                problems.append(f"the build_id {manifest.get('build_id')!r} is not the id "
                                f"{expected!r} computed from the recipe, inputs and versions in "
                                f"{MANIFEST}")
    return problems
