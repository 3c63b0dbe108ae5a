"""Versions of the stage implementations a recipe uses: part of the build id, kept in manifests.

A stage implementation bumps its version when its output changes; the build and the
``challenge`` command record them.
"""

from __future__ import annotations

from splitforge.challenge import CHALLENGES, KINDS
from splitforge.dedup import DEDUPERS
from splitforge.load.sources import VERSION as LOAD_VERSION
from splitforge.normalize.boilerplate import VERSION as BOILERPLATE_VERSION
from splitforge.normalize.shingles import VERSION as SHINGLES_VERSION
from splitforge.normalize.text import VERSION as NORMALIZE_VERSION
from splitforge.recipe import Recipe
from splitforge.split import SPLITTERS


def stage_versions(recipe: Recipe) -> dict[str, str]:
    """Versions of the stage implementations a recipe uses; a bump changes the build id."""
    versions = {"load": LOAD_VERSION,
                "normalize.text": NORMALIZE_VERSION,
                "normalize.boilerplate": BOILERPLATE_VERSION,
                "normalize.shingles": SHINGLES_VERSION,
                "split." + recipe.split.method: SPLITTERS.get(recipe.split.method).version}
    if recipe.dedup.exact:
        versions["dedup.exact"] = DEDUPERS.get("exact").version
    for name in ("minhash", "semantic"):
        if getattr(recipe.dedup, name) is not None:
            versions[f"dedup.{name}"] = DEDUPERS.get(name).version
    if recipe.challenge is not None:
        versions.update({f"challenge.{k}": CHALLENGES.get(k).version for k in KINDS})
    return versions
