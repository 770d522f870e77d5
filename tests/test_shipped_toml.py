"""The shipped TOML files read through their parse cache: always the tables of the file's current text."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from console import shipped_toml

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = [ROOT / "console/rules/rules.toml", ROOT / "console/mitigations/mitigations.toml",
           ROOT / "console/incidents/playbooks.toml"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_shipped_files_read_as_tomllib_parses_them(path):
    parsed = tomllib.loads(path.read_text("utf-8"))
    assert shipped_toml.load(path) == parsed  # the first start (parses, keeps) or a later one (the cache)
    assert shipped_toml.load(path) == parsed  # and the next


def test_a_changed_file_is_parsed_again_never_served_from_the_old_cache(tmp_path):
    f = tmp_path / "x.toml"
    f.write_text('[[rules]]\nname = "a"\nfor = "5m"\n')
    assert shipped_toml.load(f) == {"rules": [{"name": "a", "for": "5m"}]}
    assert list((tmp_path / "__pycache__").iterdir())  # kept for the next start
    st = f.stat()
    f.write_text('[[rules]]\nname = "b"\nfor = "5m"\n')  # same size, and the same mtime: the text decides
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert shipped_toml.load(f) == {"rules": [{"name": "b", "for": "5m"}]}
    assert shipped_toml.load(f) == {"rules": [{"name": "b", "for": "5m"}]}


def test_a_damaged_cache_is_ignored_and_replaced(tmp_path):
    f = tmp_path / "x.toml"
    f.write_text("a = 1\n")
    shipped_toml.load(f)
    (cache,) = (tmp_path / "__pycache__").iterdir()
    cache.write_bytes(b"\x00garbage")
    assert shipped_toml.load(f) == {"a": 1}
    cache.write_bytes(cache.read_bytes()[:5])  # cut short
    assert shipped_toml.load(f) == {"a": 1}


def test_an_unwritable_install_just_parses(tmp_path):
    f = tmp_path / "x.toml"
    f.write_text("a = [1, 2]\n")
    (tmp_path / "__pycache__").write_text("not a folder")  # nothing can be kept there
    assert shipped_toml.load(f) == {"a": [1, 2]}
    assert shipped_toml.load(f) == {"a": [1, 2]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["__pycache__", "x.toml"]  # no temporary file left


def test_dates_which_marshal_cannot_keep_are_parsed_each_time(tmp_path):
    f = tmp_path / "x.toml"
    f.write_text("when = 2026-11-22T03:14:00Z\n")
    assert shipped_toml.load(f) == tomllib.loads(f.read_text())
    assert shipped_toml.load(f) == tomllib.loads(f.read_text())
