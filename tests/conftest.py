import json
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO / "tests" / "data" / "real"
FAST_METHODS = ("exact", "ngram", "minhash")


def real_data(rel: str) -> Path:
    """A slice of a real public dataset shipped in tests/data/real (sources and licenses in
    tests/data/README.md; cut by scripts/make_test_data.py), so a fresh clone alone passes."""
    path = REAL_DATA / rel
    if not path.exists():
        pytest.fail(f"{path} is missing: it ships with the repository (scripts/make_test_data.py)")
    return path


def write_recipe(folder: Path, **recipe) -> Path:
    path = folder / "recipe.yaml"
    recipe.setdefault("name", "t")
    recipe.setdefault("output", {"dir": str(folder / "out")})
    # The hand-made fixtures are templated rows whose near copies straddle the split: the build's
    # own audit rightly finds them. Tests about other things keep the audit but not its gate;
    # tests/audit/test_build_audit.py tests the gate.
    recipe.setdefault("audit", {"fail_on": "never"})
    # The embedding check (on by default) costs seconds per build on a CPU: tests about other
    # things run the three fast checks; tests/audit/test_default_methods.py and the embedding
    # tests run it.
    recipe["audit"].setdefault("methods", list(FAST_METHODS))
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return path


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(autouse=True, scope="session")
def _user_cache(tmp_path_factory):
    """splitforge's user cache (built models, embedding vectors) in a folder of this test run."""
    import os

    old = os.environ.get("SPLITFORGE_CACHE")
    os.environ["SPLITFORGE_CACHE"] = str(tmp_path_factory.mktemp("user_cache"))
    yield
    if old is None:
        os.environ.pop("SPLITFORGE_CACHE", None)
    else:
        os.environ["SPLITFORGE_CACHE"] = old
