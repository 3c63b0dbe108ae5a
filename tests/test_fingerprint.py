import os
import subprocess
import sys

import pytest

from splitforge.fingerprint import canonical_json, fingerprint, sha256_path
from splitforge.seeding import rng_for, stable_uniform


def test_same_same_different():
    a = fingerprint({"x": 1, "y": [1, 2]})
    assert a == fingerprint({"y": [1, 2], "x": 1})  # key order does not matter
    assert a != fingerprint({"x": 2, "y": [1, 2]})


def test_canonical_json_rejects_what_it_cannot_order():
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    with pytest.raises(TypeError):
        canonical_json({"s": {1, 2}})


def test_folder_hash_covers_names_and_bytes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.txt").write_text("1")
    first = sha256_path(tmp_path / "a")
    (tmp_path / "a" / "f.txt").write_text("2")
    assert sha256_path(tmp_path / "a") != first


def test_seeded_streams_are_scoped():
    assert rng_for(1, "split").random() == rng_for(1, "split").random()
    assert rng_for(1, "split").random() != rng_for(1, "dedup").random()
    u = stable_uniform(["a", "b"], 7, "split")
    assert u.tolist() == stable_uniform(["b", "a"], 7, "split")[::-1].tolist()
    assert ((u >= 0) & (u < 1)).all()


def test_hashes_do_not_depend_on_pythonhashseed():
    code = ("from splitforge.seeding import stable_uniform;"
            "print(stable_uniform(['x', 'y', 'z'], 3, 'split').tolist())")
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "12345")
    }
    assert len(outs) == 1


def test_stage_fingerprints_change_from_the_first_stage_whose_settings_change():
    from splitforge.write import stage_fingerprints

    recipe = {"sources": [{"path": "a.jsonl"}], "fields": {"text": "q"}, "seed": 1,
              "dedup": {"exact": True}, "split": {"method": "random"}, "challenge": None,
              "audit": {"methods": ["exact"]}, "output": {"dir": "out", "formats": ["parquet"]}}
    base = stage_fingerprints(recipe, ["h1"], {"split.random": "1"})
    assert list(base) == ["load", "normalize", "dedup", "split", "challenge", "audit", "write"]
    assert base == stage_fingerprints(dict(reversed(list(recipe.items()))), ["h1"],
                                      {"split.random": "1"})
    other_split = stage_fingerprints({**recipe, "split": {"method": "group"}}, ["h1"],
                                     {"split.random": "1"})
    assert [base[s] == other_split[s] for s in base] == [True, True, True, False, False, False,
                                                          False]
    assert stage_fingerprints({**recipe, "output": {"dir": "elsewhere", "formats": ["parquet"]}},
                              ["h1"], {"split.random": "1"}) == base
    assert stage_fingerprints(recipe, ["h2"], {"split.random": "1"})["load"] != base["load"]
    control = stage_fingerprints({**recipe, "control": {"path": "c.jsonl", "id_prefix": "c/"}},
                                 ["h1"], {"split.random": "1"})
    assert control["load"] != base["load"]  # control options change what dedup removes
