"""The command registry: the README's key tables, `[keys]` validation, and key names shown as typed."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from console.commands import build_registry, key_display, valid_key
from console.config.schema import ConfigError
from console.mitigations.catalog import action_rows, builtin_actions

ROOT = Path(__file__).resolve().parent.parent


def registry(keys=None):
    return build_registry(action_rows({a.id: a for a in builtin_actions()}), keys, "ops.toml")


def test_the_readme_key_tables_are_the_registry():
    readme = (ROOT / "README.md").read_text()
    shown = re.search(r"<!-- keys:begin -->\n(.*)<!-- keys:end -->", readme, re.S).group(1)
    generated = subprocess.run([sys.executable, "-m", "console.commands"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout
    assert shown == generated == registry().markdown()


def test_every_mitigation_with_a_key_is_a_command_on_its_panel():
    reg = registry()
    for a in builtin_actions():
        if a.key and not a.hidden:
            [c] = reg.get(a.id)
            assert c.key == a.key and c.scope == f"panel:{a.kind}" and c.mutates == "send"


def test_keys_remap_by_id_and_bad_entries_name_file_and_key():
    assert [c.key for c in registry({"incident.ack": "k"}).get("incident.ack")] == ["k", "k"]
    with pytest.raises(ConfigError, match=r"^ops.toml: keys.incident.nope: no command with this id"):
        registry({"incident.nope": "k"})
    with pytest.raises(ConfigError, match=r"^ops.toml: keys.app.help: 'ctrl\+banana' is not a key name"):
        registry({"app.help": "ctrl+banana"})


def test_key_names_are_shown_as_typed():
    assert [key_display(k) for k in ("question_mark", "percent_sign", "plus", "minus", "left_square_bracket",
                                     "shift+left", "f1")] == ["?", "%", "+", "-", "[", "shift+←", "f1"]
    assert all(valid_key(k) for k in ("x", "U", "f12", "ctrl+p", "question_mark", "shift+tab", "%"))
    assert not any(valid_key(k) for k in ("banana", "ctrl+", "hyperspace+x", ""))
