"""The README states what the code does: its config table is the settings' own, its make targets
exist, and every stack output it names is one the program exports."""

from __future__ import annotations

import re
from pathlib import Path

from components.settings import KEYS, config_table

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_config_table_is_the_one_settings_makes():
    start = README.index("<!-- config-table")
    table = README[README.index("\n", start) + 1 : README.index("<!-- /config-table -->")]
    assert table.strip() == config_table()
    assert len(re.findall(r"^\| `\w+` \|", table, re.MULTILINE)) == len(KEYS)


def test_every_make_target_the_readme_uses_exists():
    targets = set(re.findall(r"^([a-z-]+):.*## ", (ROOT / "Makefile").read_text(), re.MULTILINE))
    used = set(re.findall(r"\bmake ([a-z-]+)", README))
    assert used, "the README names make targets"
    assert used <= targets, used - targets


def test_stack_outputs_the_readme_names_are_exported():
    exported = set(re.findall(r'pulumi\.export\("(\w+)"', (ROOT / "__main__.py").read_text()))
    named = {"stateMachineArn", "rawBucket", "workgroupName"}
    assert named <= exported
    assert all(name in README for name in named)
