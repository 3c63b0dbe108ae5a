"""``splitforge verify``: does a build folder still hold exactly what its manifest says?

Every file is hashed again (sha256) and compared with ``manifest.json``'s ``outputs``: a file
whose bytes differ is ``changed``, a file the manifest lists but the folder lacks is ``removed``,
and a file the manifest does not list is ``added``. The manifest itself is not hashed (it holds
the hashes); a manifest that cannot be read is bad input, not a failed check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from splitforge.write.manifest import file_entries, read_manifest


@dataclass
class Verification:
    """The files of a build that differ from its manifest, by kind; ``ok`` when none do."""

    build_id: str
    checked: int
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the folder is exactly what the manifest lists."""
        return not (self.changed or self.removed or self.added)


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
    return result
